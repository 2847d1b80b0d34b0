"""Global options shared by every command (kubectl-like), carried in typer's context object, and the
one way a command turns them into a `kfboot.session.Session`."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kfboot.session import Session


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


@dataclass
class GlobalOptions:
    kubeconfig: Path | None = None
    context: str | None = None
    output: OutputFormat = OutputFormat.text
    verbose: int = 0
    yes: bool = False
    timeout: float | None = None

    @property
    def json(self) -> bool:
        return self.output is OutputFormat.json


def get_options(ctx: Any) -> GlobalOptions:
    """The GlobalOptions of a typer/click context (defaults when called outside the app)."""
    root = ctx.find_root() if ctx is not None else None
    obj = getattr(root, "obj", None)
    return obj if isinstance(obj, GlobalOptions) else GlobalOptions()


def open_session(ctx: Any, *, file: Path | None = None, manifests: Path | None = None, bundle: Path | None = None,
                 charts: dict[str, Path] | None = None, offline: bool = False, kind: bool | None = None,
                 extra_profile_dirs: tuple[Path, ...] = ()) -> Session:
    """The session of a command: the global options plus the command's own sources (all lazy)."""
    from kfboot.session import Session, Sources, Target

    opts = get_options(ctx)
    sources = Sources(file, manifests, bundle, charts or {}, extra_profile_dirs)
    return Session(target=Target(opts.kubeconfig, opts.context, opts.timeout), sources=sources, offline=offline,
                   kind=kind, trace=request_tracer(opts) if opts.verbose else None)


def request_tracer(opts: GlobalOptions) -> Callable[[str, str, int, float], None]:
    """-v: one line per API request, like `kubectl -v=6` (a `request` event with -o json)."""

    def trace(method: str, path: str, status: int, ms: float) -> None:
        if opts.json:
            print_json({"event": "request", "method": method, "path": path, "status": status, "ms": round(ms, 1)})
        else:
            sys.stderr.write(f"{method} {path} {status or 'no response'} in {ms:.0f} ms\n")

    return trace


def is_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def interactive_stderr() -> bool:
    """Live (redrawn) output only on a real terminal outside CI."""
    return sys.stderr.isatty() and not is_ci()


def print_json(obj: Any) -> None:
    """One JSON object per line on stdout (newline-delimited JSON for machines): the one place that
    prints `-o json` output, so every line is checked against the event contract first."""
    from kfboot.cli.events_schema import check_event

    check_event(obj)
    sys.stdout.write(json.dumps(obj, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def progress_printer(ctx: Any) -> Callable[[str], None]:
    """Progress lines of a long command: `progress` events with -o json, plain stderr lines otherwise."""
    if get_options(ctx).json:
        return lambda msg: print_json({"event": "progress", "message": msg})
    return lambda msg: stderr_console().print(msg, markup=False, highlight=False)


def console_width() -> int | None:
    """Terminal width on a terminal; wide (no wrapping) when piped or in CI logs."""
    return None if sys.stdout.isatty() and not is_ci() else 200


def stderr_console() -> Any:
    """The rich console for humans; always stderr so stdout stays clean for data."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)
