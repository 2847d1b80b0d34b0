"""Helm through pyhelm3, built lazily (its constructor runs `helm version`).

The helm executable is the one `kfboot.tools` finds and version-checks ($KFBOOT_HELM, beside
kfboot's Python, PATH); pyhelm3 never looks for one itself.

kfboot decides *whether* to install or upgrade from a digest of chart + version + values kept in its
own state, so a no-op run never calls `helm upgrade` and never adds a release revision.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from kfboot.errors import ClusterError
from kfboot.k8s.refs import ObjectRef

T = TypeVar("T")


@dataclass(frozen=True)
class ChartRef:
    """A chart from a repository (repo URL + name) or a local directory/.tgz (path)."""

    name: str
    version: str
    repo: str | None = None
    path: Path | None = None

    def describe(self) -> str:
        where = str(self.path) if self.path else f"{self.repo}"
        return f"chart {self.name} {self.version} from {where}"


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


HELM_ATTEMPTS = 4
# How client-go (inside Helm) words failures a retry gets past: kube-apiserver's messages for 500, 503, 504
# and 429, and connections dropped or refused. Helm reports only text, so the text is what there is to go by.
TRANSIENT_API_ERROR = re.compile(
    "|".join(re.escape(m) for m in (
        "Internal error occurred", "the server is currently unable to handle the request",
        "the server was unable to return a response in the time allotted", "the server has received too many requests",
        "has prevented the request from succeeding", "connection reset by peer", "connection refused",
        "unexpected EOF", '": EOF', "i/o timeout", "TLS handshake timeout", "http2: client connection lost",
        "etcdserver: request timed out")))


class Helm:
    """The operations kfboot needs from Helm, synchronous for use from phase threads."""

    def __init__(self, kubeconfig: Path | None, context: str | None, *, executable: str | None = None,
                 extra_install_args: tuple[str, ...] = ()) -> None:
        from pyhelm3 import Client
        from pyhelm3.command import Command

        class _Command(Command):
            """pyhelm3's commands, run our way: with our extra flags (its disable_validation is broken),
            and as a direct child that dies with kfboot (PDEATHSIG, like every `tools.run` child), not
            through a shell that would outlive a SIGKILLed kfboot."""

            async def run(self, command: list[str], input: bytes | None = None) -> bytes:
                if command and command[0] in ("install", "upgrade") and extra_install_args:
                    command = [*command, *extra_install_args]
                flags: list[str] = []
                for flag, value in (("--kubeconfig", self._kubeconfig), ("--kube-context", self._kubecontext)):
                    if value:
                        flags += [flag, str(value)]
                return await run_helm([self._executable, *map(str, command), *flags], input)

        import logging

        # pyhelm3 logs every failed command at WARNING; kfboot reports failures itself, once
        logging.getLogger("pyhelm3").addHandler(logging.NullHandler())
        logging.getLogger("pyhelm3").propagate = False
        from kfboot import tools

        self.executable = executable or tools.require("helm")
        command = _Command(executable=self.executable, kubeconfig=kubeconfig, kubecontext=context)
        self.client = Client(command, executable=self.executable)
        self._command = command

    def _chart(self, chart: ChartRef) -> Any:
        ref = str(chart.path) if chart.path else chart.name
        return _run(self.client.get_chart(ref, repo=chart.repo if not chart.path else None, version=chart.version))

    def install_or_upgrade(self, release: str, namespace: str, chart: ChartRef, values: dict[str, Any],
                           *, timeout: float, skip_crds: bool = False) -> list[ObjectRef]:
        """Install or upgrade; returns the objects of the release (its inventory). A failure Helm reports
        in the API server's words for a transient one (5xx, 429, a dropped connection) is retried, a few
        times within `timeout`: `upgrade --install` picks up a release that failed half-way."""
        from pyhelm3.errors import Error as HelmError

        deadline = time.monotonic() + timeout
        for attempt in range(HELM_ATTEMPTS):
            try:
                loaded = self._chart(chart)
                revision = _run(self.client.install_or_upgrade_release(
                    release, loaded, values, namespace=namespace, create_namespace=True,
                    timeout=f"{int(max(1.0, deadline - time.monotonic()))}s", wait=False, skip_crds=skip_crds,
                ))
                resources = _run(revision.resources())
                return [ObjectRef.of(obj) for obj in resources if obj]
            except HelmError as exc:
                pause = 2.0 ** attempt
                if (attempt + 1 < HELM_ATTEMPTS and TRANSIENT_API_ERROR.search(str(exc))
                        and time.monotonic() + pause < deadline):
                    time.sleep(pause)
                    continue
                raise ClusterError(f"helm failed for release {namespace}/{release}: {exc}",
                                   hint=_offline_hint(exc)) from None
        raise AssertionError("unreachable")

    def template(self, chart: ChartRef, values: dict[str, Any], *, release: str, namespace: str,
                 include_crds: bool = True) -> list[dict[str, Any]]:
        from pyhelm3.errors import Error as HelmError

        try:
            loaded = self._chart(chart)
            objects = _run(_collect(self.client.template_resources(
                loaded, release, values, include_crds=include_crds, namespace=namespace)))
        except HelmError as exc:
            raise ClusterError(f"helm template of {chart.describe()} failed: {exc}", hint=_offline_hint(exc)) from None
        return [obj for obj in objects if obj]

    def chart_crds(self, chart: ChartRef, values: dict[str, Any], *, release: str, namespace: str) -> list[dict[str, Any]]:
        """The CRDs of the chart's `crds/` directories (its own and its enabled subcharts'): those Helm
        installs once and never upgrades. Templated CRDs are ordinary release objects and not among them."""
        def crds(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
            return {o["metadata"]["name"]: o for o in objects if o.get("kind") == "CustomResourceDefinition"
                    and str(o.get("apiVersion", "")).startswith("apiextensions.k8s.io/")}

        everything = crds(self.template(chart, values, release=release, namespace=namespace))
        templated = crds(self.template(chart, values, release=release, namespace=namespace, include_crds=False))
        return [crd for name, crd in sorted(everything.items()) if name not in templated]

    def release_status(self, release: str, namespace: str) -> str | None:
        """'deployed', 'failed', … or None when the release does not exist."""
        from pyhelm3.errors import ReleaseNotFoundError

        try:  # `helm status -o json` read as JSON: pyhelm3's revision model re-parses the whole manifest
            status = _run(self._command.status(release, namespace=namespace))
        except ReleaseNotFoundError:
            return None
        return str(((status or {}).get("info") or {}).get("status") or "unknown")

    def uninstall(self, release: str, namespace: str, *, timeout: float) -> None:
        from pyhelm3.errors import ReleaseNotFoundError

        try:
            _run(self.client.uninstall_release(release, namespace=namespace, timeout=f"{int(timeout)}s", wait=False))
        except ReleaseNotFoundError:
            return


async def run_helm(argv: list[str], input: bytes | None) -> bytes:
    """Run one helm command (no shell; the child dies with kfboot); failures raise pyhelm3's errors."""
    from pyhelm3 import errors
    from pyhelm3.command import CHART_NOT_FOUND, CONNECTION_ERROR

    from kfboot import tools

    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE if input is not None else None,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, preexec_fn=tools.child_setup())
    try:
        stdout, stderr = await proc.communicate(input)
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
            await proc.communicate()
        raise
    if proc.returncode == 0:
        return stdout
    text = stderr.decode(errors="replace").lower()
    # the same reading of helm's stderr as pyhelm3's own Command.run
    rules: list[tuple[bool, type[Exception]]] = [
        ("context canceled" in text, errors.CommandCancelledError),
        ("etcdserver" in text, errors.ConnectionError),
        ("release: not found" in text, errors.ReleaseNotFoundError),
        ("failed to render chart" in text or "execution error" in text, errors.FailedToRenderChartError),
        ("rendered manifests contain a resource that already exists" in text, errors.ResourceAlreadyExistsError),
        ("is invalid" in text, errors.InvalidResourceError),
        (CHART_NOT_FOUND.search(text) is not None, errors.ChartNotFoundError),
        (CONNECTION_ERROR.search(text) is not None, errors.ConnectionError),
    ]
    error_cls = next((cls for matched, cls in rules if matched), errors.Error)
    raise error_cls(proc.returncode, stdout, stderr)


async def _collect(awaitable: Any) -> list[Any]:
    return list(await awaitable)


def _offline_hint(exc: Exception) -> str | None:
    text = str(exc)
    if "cannot be reached" in text or "no such host" in text or "dial tcp" in text:
        return "the chart repository is unreachable: without network, use a bundle (`kfboot bundle build|pull`, then --bundle DIR)"
    return None
