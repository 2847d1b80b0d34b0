"""Errors users can act on, each mapped to a documented exit code.

Anything raised as a KfbootError is shown as a message (with a hint), never as a traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 3
EXIT_INTERRUPTED = 130


class KfbootError(Exception):
    """Base for errors that carry an exit code and an optional hint saying what to do."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(KfbootError):
    """Bad command-line input."""

    exit_code = EXIT_USAGE


class ConfigError(KfbootError):
    """A configuration file (or value) is invalid; `problems` holds one line per finding."""

    exit_code = EXIT_USAGE

    def __init__(self, problems: list[str], *, hint: str | None = None) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems), hint=hint)


class EnvironmentProblem(KfbootError):
    """Something every phase needs is missing (the pinned sources, a writable cache): a run stops at
    the first phase that hits it and says it once, instead of failing every phase the same way."""

    exit_code = EXIT_USAGE


class ClusterError(KfbootError):
    """The cluster refused or failed a request that retries could not fix."""

    def __init__(self, message: str, *, hint: str | None = None, status: int | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class WaitTimeout(KfbootError):
    """A bounded wait ran out; the message says what was last seen."""

    exit_code = EXIT_TIMEOUT


class LockHeld(KfbootError):
    """Another kfboot run holds the cluster lock."""


class Interrupted(KfbootError):
    """The user pressed Ctrl-C; state was recorded."""

    exit_code = EXIT_INTERRUPTED
