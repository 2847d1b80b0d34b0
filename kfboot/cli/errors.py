"""One error boundary for every command: `error: …` / `hint: …` and a documented exit code, never a traceback.

`boundary` wraps the whole command tree (kfboot.cli.app's root group), so a command needs nothing
to be covered; `handles_errors` stays for commands that want it explicitly. What reaches it:
KfbootError (its own message and code), OSError (the path and what to do: exit 2, environment),
input too big or deep for Python (exit 2), Ctrl-C (130), and anything else, which is a bug: one
line saying so (exit 1; `-vv` adds the traceback).
"""

from __future__ import annotations

import errno
import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from kfboot.cli.context import get_options, print_json

F = TypeVar("F", bound=Callable[..., Any])


def report_error(exc: Any, *, as_json: bool) -> None:
    """Plain lines on stderr (never wrapped or styled, so `file:line:col` stays greppable);
    with `-o json` also an `error` event on stdout."""
    from kfboot.yaml_positions import escape

    if as_json:
        try:
            print_json({"event": "error", "message": exc.message, "hint": exc.hint, "exitCode": exc.exit_code})
        except OSError:
            _silence_stdout()
    lines = exc.message.splitlines() or [""]
    out = ["error: " + escape(lines[0]), *("  " + escape(line) for line in lines[1:])]
    if exc.hint:
        out.append(f"hint: {escape(exc.hint)}")
    try:
        sys.stderr.write("".join(line + "\n" for line in out))
        sys.stderr.flush()
    except OSError:
        pass


def _silence_stdout() -> None:
    """stdout is broken (full disk, closed pipe): send what is still buffered nowhere, so exiting
    does not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def environment_error(exc: OSError) -> Any:
    """An OSError as the user's problem to fix: which path, why, and what to do instead (exit 2)."""
    from kfboot.errors import EXIT_USAGE, KfbootError
    from kfboot.sources.phase_sources import cache_dir
    from kfboot.yaml_positions import escape

    path = exc.filename
    why = exc.strerror or str(exc)
    where = f" {escape(path)}" if path else ""
    hint: str | None = None
    if path and _under(str(path), str(cache_dir())):
        hint = ("kfboot's cache is not writable: set KFBOOT_CACHE_DIR to a writable directory, "
                "or install from a bundle (--bundle DIR)")
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        hint = "choose a writable location (or fix its permissions)"
    elif exc.errno == errno.ENOSPC:
        hint = "the disk (or the output) is full: free space or write elsewhere"
    elif exc.errno == errno.ENOENT:
        hint = "check that the path (and its directory) exists"
    elif exc.errno == errno.ENOTDIR:
        hint = "a part of the path is a file, not a directory: choose another path"
    elif exc.errno == errno.EISDIR:
        hint = "that is a directory: give a file path"
    else:
        hint = "check the path and its permissions"
    error = KfbootError(f"cannot use{where}: {why}" if where else f"input/output error: {why}", hint=hint)
    error.exit_code = EXIT_USAGE
    return error


def _under(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([os.path.abspath(path), os.path.abspath(root)]) == os.path.abspath(root)
    except ValueError:
        return False


def boundary(fn: Callable[[], Any], ctx: Any) -> Any:
    """Run a command; whatever it raises becomes a message and an exit code."""
    from kfboot.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, KfbootError

    opts = get_options(ctx)
    try:
        return fn()
    except KfbootError as exc:
        report_error(exc, as_json=opts.json)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        report_error(KfbootError("interrupted"), as_json=opts.json) if opts.json else sys.stderr.write("interrupted\n")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except OSError as exc:
        if exc.errno == errno.EPIPE:  # `kfboot … | head`: the reader is gone, nothing to say
            _silence_stdout()
            raise typer.Exit(EXIT_FAILED) from None
        if exc.errno == errno.ENOSPC:
            _silence_stdout()
        report_error(environment_error(exc), as_json=opts.json)
        raise typer.Exit(EXIT_USAGE) from None
    except (RecursionError, MemoryError) as exc:
        error = KfbootError(f"input too large or too deeply nested ({type(exc).__name__})",
                            hint="kfboot's inputs are small, plain files; check what was passed")
        error.exit_code = EXIT_USAGE
        report_error(error, as_json=opts.json)
        raise typer.Exit(EXIT_USAGE) from None
    except Exception as exc:
        from kfboot.yaml_positions import escape

        if type(exc).__module__.split(".")[0] in ("typer", "click"):  # Exit, Abort, usage errors: theirs
            raise
        if opts.verbose >= 2:
            import traceback

            traceback.print_exc()
        report_error(KfbootError(f"internal error: {type(exc).__name__}: {escape(exc)}",
                                 hint="this is a bug in kfboot: please report it with the command you ran "
                                      "(-vv prints the traceback)"), as_json=opts.json)
        raise typer.Exit(EXIT_FAILED) from None


def handles_errors(fn: F) -> F:
    """The boundary around one command (kept for clarity; the app's root group applies it to all)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return boundary(lambda: fn(*args, **kwargs), kwargs.get("ctx"))

    return wrapper  # type: ignore[return-value]
