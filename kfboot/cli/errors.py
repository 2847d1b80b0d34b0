"""One way every command reports what went wrong: `error: …` / `hint: …` and a documented exit code."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from kfboot.cli.context import get_options, print_json

F = TypeVar("F", bound=Callable[..., Any])


def report_error(exc: Any, *, as_json: bool) -> None:
    """Plain lines on stderr (never wrapped or styled, so `file:line:col` stays greppable);
    with `-o json` also an `error` event on stdout."""
    if as_json:
        print_json({"event": "error", "message": exc.message, "hint": exc.hint, "exitCode": exc.exit_code})
    lines = exc.message.splitlines() or [""]
    out = ["error: " + lines[0], *("  " + line for line in lines[1:])]
    if exc.hint:
        out.append(f"hint: {exc.hint}")
    sys.stderr.write("".join(line + "\n" for line in out))
    sys.stderr.flush()


def handles_errors(fn: F) -> F:
    """Turn KfbootError (and Ctrl-C) into a message and its exit code: never a traceback for user errors."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from kfboot.errors import EXIT_INTERRUPTED, KfbootError

        try:
            return fn(*args, **kwargs)
        except KfbootError as exc:
            report_error(exc, as_json=get_options(kwargs.get("ctx")).json)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            sys.stderr.write("interrupted\n")
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return wrapper  # type: ignore[return-value]
