"""Kube: the one place kfboot talks HTTP to the API server (official client underneath).

Raw paths over `ApiClient` keep us fast (no model (de)serialisation), let one retry policy cover
every call, and let tests point the real client at a fake server over real HTTP.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from kfboot.errors import ClusterError, UsageError
from kfboot.k8s.refs import ObjectRef
from kfboot.k8s.retry import ApiError, call_with_retries

FIELD_MANAGER = "kfboot"
AUTH_CACHE_SECONDS = 10.0
PREFLIGHT_TIMEOUT = 5.0
# Requests one client has in flight at once, and its connection pool's size: the same number, so every
# connection is reused. Phases run side by side with their own worker threads (4 phases x 16 objects),
# but more than this many requests at once only queue at the API server and, past the pool's size,
# make urllib3 open and discard a connection per request ("Connection pool is full").
MAX_IN_FLIGHT = 32
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
REJECTED_HINT = ("the token or certificate is expired or wrong: log in again or refresh the kubeconfig "
                 "(`kubectl --context {context} auth whoami` shows what the server sees)")


@dataclass(frozen=True)
class Target:
    """Which cluster a command will change: shown to the user before any write."""

    context: str
    server: str

    @property
    def is_kind(self) -> bool:
        return self.context.startswith("kind-")


@dataclass(frozen=True)
class Resource:
    api_version: str
    kind: str
    plural: str
    namespaced: bool


class NotFound(ClusterError):
    """The object (or its kind) does not exist."""


def _status_message(body: bytes) -> tuple[str, str]:
    try:
        data = json.loads(body)
        return data.get("reason", "") or "", data.get("message", "") or body.decode(errors="replace")
    except (ValueError, AttributeError):
        return "", body.decode(errors="replace")[:500]


class Kube:
    """Discovery-aware CRUD + server-side apply with retries and request counters."""

    def __init__(self, api_client: Any, target: Target, *, request_timeout: float = 30.0,
                 max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self.api = api_client
        self.target = target
        self.request_timeout = request_timeout
        self._gv_cache: dict[str, dict[str, Resource]] = {}
        self._gv_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._in_flight = threading.BoundedSemaphore(max(1, max_in_flight))
        self.requests = 0
        self.writes = 0
        self.retries = 0
        self._auth_cache: tuple[float, dict[str, str]] | None = None
        self.git_version = ""  # the server's version, known after preflight()
        # -v: told of every request (method, path, HTTP status or 0 when none came back, milliseconds)
        self.trace: Callable[[str, str, int, float], None] | None = None

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def connect(cls, kubeconfig: Path | None = None, context: str | None = None, *,
                pool_size: int = MAX_IN_FLIGHT) -> Kube:
        """Build a client from kubeconfig (or in-cluster config), failing with a usable message."""
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException

        configuration = client.Configuration()
        if kubeconfig is None and not _in_cluster() and not os.environ.get("KUBECONFIG") and not (
            Path.home() / ".kube" / "config"
        ).is_file():
            raise UsageError("no Kubernetes configuration: ~/.kube/config does not exist and KUBECONFIG is not set",
                             hint="pass --kubeconfig PATH (and --context NAME), or create a cluster, e.g. with kind")
        if kubeconfig is not None and not Path(kubeconfig).expanduser().is_file():
            raise UsageError(f"kubeconfig {kubeconfig} does not exist",
                             hint="pass --kubeconfig PATH to an existing file (or unset KUBECONFIG)")
        plugin_errors = _LogCapture()
        try:
            if kubeconfig is None and context is None and _in_cluster():
                config.load_incluster_config(client_configuration=configuration)
                ctx_name = "in-cluster"
            else:
                with plugin_errors:  # the client logs an exec plugin's failure and carries on without credentials
                    config.load_kube_config(
                        config_file=str(kubeconfig) if kubeconfig else None,
                        context=context,
                        client_configuration=configuration,
                    )
                _contexts, active = config.list_kube_config_contexts(
                    config_file=str(kubeconfig) if kubeconfig else None
                )
                ctx_name = context or (active or {}).get("name", "")
        except (ConfigException, FileNotFoundError, OSError, TypeError, ValueError, AttributeError, KeyError) as exc:
            raise UsageError(
                f"cannot load Kubernetes configuration{f' {kubeconfig}' if kubeconfig else ''}: {_one_line(exc)}",
                hint="pass --kubeconfig PATH and/or --context NAME (see `kubectl config get-contexts`)",
            ) from None
        except Exception as exc:  # PyYAML errors, anything else a malformed file raises
            raise UsageError(f"cannot read the kubeconfig{f' {kubeconfig}' if kubeconfig else ''}: {_one_line(exc)}",
                             hint="check the file is a kubeconfig (`kubectl config view`)") from None
        if plugin_errors.messages:
            raise UsageError(
                f"the credential plugin of context {context or 'current'} failed: {plugin_errors.messages[0]}",
                hint="log in again with the tool that plugin runs (e.g. `gcloud auth login`, `aws sso login`), "
                     "or pick another --context",
            )
        _check_server(configuration.host, context)
        configuration.connection_pool_maxsize = pool_size
        configuration.retries = False  # one retry policy: ours
        api_client = client.ApiClient(configuration)
        return cls(api_client, Target(ctx_name, configuration.host), max_in_flight=pool_size)

    # -- raw requests -------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        raw: bool = False,
        timeout: float | None = None,
        attempts: int = 8,
    ) -> Any:
        """One API call with retries; returns parsed JSON (or text with raw=True)."""
        url = self.api.configuration.host + path
        params = {k: v for k, v in (query or {}).items() if v is not None}
        if params:
            url += "?" + urlencode(params)
        headers = {"Accept": "application/json", "Content-Type": content_type}
        write = method != "GET" and "dryRun" not in params  # a server-side dry run changes nothing

        def once() -> Any:  # body: dicts are JSON-encoded by the REST layer; str/bytes go out as they are
            return self._send(method, url, headers, body, write=write, raw=raw, timeout=timeout)

        def counted_retry(exc: BaseException, delay: float) -> None:
            with self._lock:
                self.retries += 1

        try:
            try:
                return call_with_retries(once, on_retry=counted_retry, attempts=attempts)
            except ApiError as exc:
                if exc.status != 401:
                    raise
                with self._lock:  # a cached token may have just expired: refresh it once
                    self._auth_cache = None
                return call_with_retries(once, on_retry=counted_retry, attempts=attempts)
        except ApiError as exc:
            if exc.status == 404:
                raise NotFound(exc.message, status=404) from None
            if exc.status == 401:
                raise ClusterError(
                    f"{method} {path}: the API server of context {self.target.context} rejected the credentials "
                    "(401 Unauthorized)", status=401, hint=REJECTED_HINT.format(context=self.target.context)) from None
            raise ClusterError(f"{method} {path}: {exc}", status=exc.status) from exc
        except Exception as exc:
            from kfboot.k8s.retry import is_transient

            if is_transient(exc):
                raise ClusterError(
                    f"{method} {path}: the API server at {self.target.server} is unreachable: {exc}",
                    hint="check the cluster is up and the context is right (`kubectl cluster-info`)",
                ) from exc
            raise

    def _send(self, method: str, url: str, headers: dict[str, str], body: Any, *, write: bool, raw: bool,
              timeout: float | None) -> Any:
        """One attempt, counted; a non-2xx answer becomes ApiError (which the retry policy judges)."""
        with self._lock:
            self.requests += 1
            if write:
                self.writes += 1
        auth = self._auth_headers()
        with self._in_flight:  # never more requests at once than pooled connections
            started, status = time.monotonic(), 0  # the trace times the request, not the queue before it
            try:
                resp = self.api.call_api(method, url, header_params={**headers, **auth}, body=body,
                                         _request_timeout=timeout or self.request_timeout)
                data = resp.read()
                status = resp.status
            finally:
                if self.trace is not None:
                    self.trace(method, url.removeprefix(self.api.configuration.host), status,
                               (time.monotonic() - started) * 1000)
        if not 200 <= resp.status < 300:
            reason, message = _status_message(data)
            retry_after = resp.getheader("Retry-After")
            raise ApiError(resp.status, reason or str(resp.reason), message,
                           float(retry_after) if retry_after and retry_after.isdigit() else None)
        if raw:
            return data.decode(errors="replace")
        return json.loads(data) if data else None

    def _auth_headers(self) -> dict[str, str]:
        """Authorization (and default) headers, recomputed every few seconds rather than per request:
        the client's own per-request path re-reads proxy settings from the environment each time,
        while exec-plugin tokens live for minutes, so a short cache costs nothing in correctness."""
        now = time.monotonic()
        with self._lock:
            cached = self._auth_cache
        if cached is not None and now - cached[0] < AUTH_CACHE_SECONDS:
            return cached[1]
        _, _, hdrs, _, _ = self.api.param_serialize("GET", "/", header_params={}, auth_settings=["BearerToken"])
        with self._lock:
            self._auth_cache = (now, dict(hdrs))
        return dict(hdrs)

    # -- discovery ----------------------------------------------------------------------------
    def _group_version(self, api_version: str, refresh: bool = False) -> dict[str, Resource]:
        with self._lock:
            cached = self._gv_cache.get(api_version)
            gv_lock = self._gv_locks.setdefault(api_version, threading.Lock())
        if cached is not None and not refresh:
            return cached
        with gv_lock:  # threads that miss together send one discovery request, not one each
            with self._lock:
                now = self._gv_cache.get(api_version)
            if now is not None and (not refresh or now is not cached):
                return now  # read (or refreshed) by another thread meanwhile
            path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            try:
                data = self.request("GET", path)
            except NotFound:
                data = {"resources": []}
            kinds = {
                r["kind"]: Resource(api_version, r["kind"], r["name"], bool(r.get("namespaced")))
                for r in data.get("resources", [])
                if "/" not in r["name"]
            }
            with self._lock:
                self._gv_cache[api_version] = kinds
            return kinds

    def resource(self, api_version: str, kind: str) -> Resource:
        """Map a kind to its REST resource; refresh once on a miss (CRDs appear over time)."""
        kinds = self._group_version(api_version)
        if kind not in kinds:
            kinds = self._group_version(api_version, refresh=True)
        if kind not in kinds:
            raise NotFound(f'the server has no kind "{kind}" in "{api_version}" (is its CRD installed?)')
        return kinds[kind]

    def served_kinds(self, api_version: str) -> set[str]:
        """The kinds the server serves in a group version now (discovery read afresh)."""
        return set(self._group_version(api_version, refresh=True))

    def forget_discovery(self) -> None:
        with self._lock:
            self._gv_cache.clear()

    def path(self, api_version: str, kind: str, name: str | None = None, namespace: str | None = None) -> str:
        res = self.resource(api_version, kind)
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        if res.namespaced:
            if not namespace:
                raise ClusterError(f"{kind} {name} is namespaced but has no namespace")
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{res.plural}"
        if name:
            base += f"/{quote(name, safe='')}"
        return base

    # -- verbs ----------------------------------------------------------------------------------
    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        try:
            return self.request("GET", self.path(api_version, kind, name, namespace))
        except NotFound:
            return None

    def get_ref(self, ref: ObjectRef) -> dict[str, Any] | None:
        return self.get(ref.api_version, ref.kind, ref.name, ref.namespace)

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        res = self.resource(api_version, kind)
        path = self.path(api_version, kind, None, namespace if res.namespaced else None)
        data = self.request("GET", path, query={"labelSelector": label_selector, "fieldSelector": field_selector})
        items = data.get("items", []) if data else []
        for item in items:  # lists omit apiVersion/kind on items
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items

    def apply(self, obj: dict[str, Any], *, dry_run: bool = False, field_manager: str = FIELD_MANAGER) -> dict[str, Any]:
        """Server-side apply (create or update), taking ownership of conflicting fields."""
        ref = ObjectRef.of(obj)
        path = self.path(ref.api_version, ref.kind, ref.name, ref.namespace)
        # Strict, like kubectl's default: a misspelled field is an error, not silently dropped
        query = {"fieldManager": field_manager, "force": "true", "fieldValidation": "Strict",
                 "dryRun": "All" if dry_run else None}
        return self.request("PATCH", path, query=query, body=json.dumps(obj), content_type=APPLY_PATCH)

    def merge_patch(self, ref: ObjectRef, patch: dict[str, Any], *, subresource: str | None = None) -> dict[str, Any]:
        path = self.path(ref.api_version, ref.kind, ref.name, ref.namespace)
        if subresource:
            path += f"/{subresource}"
        return self.request("PATCH", path, body=patch, content_type=MERGE_PATCH)

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        ref = ObjectRef.of(obj)
        return self.request("POST", self.path(ref.api_version, ref.kind, None, ref.namespace), body=obj)

    def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        """PUT with the object's resourceVersion: fails with 409 if someone else wrote first."""
        ref = ObjectRef.of(obj)
        return self.request("PUT", self.path(ref.api_version, ref.kind, ref.name, ref.namespace), body=obj)

    def delete(self, ref: ObjectRef, *, propagation: str = "Background", dry_run: bool = False) -> bool:
        """Delete; False when it was already gone (deleting is idempotent for us)."""
        try:
            path = self.path(ref.api_version, ref.kind, ref.name, ref.namespace)
        except NotFound:
            return False
        try:
            self.request("DELETE", path, body={"propagationPolicy": propagation},
                         query={"dryRun": "All" if dry_run else None})
        except NotFound:
            return False
        return True

    def pod_logs(self, namespace: str, name: str, container: str | None = None, tail_lines: int | None = None) -> str:
        path = f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(name, safe='')}/log"
        return self.request("GET", path, query={"container": container, "tailLines": tail_lines}, raw=True)

    def server_version(self, *, timeout: float | None = None, attempts: int = 8) -> dict[str, Any]:
        return self.request("GET", "/version", timeout=timeout, attempts=attempts)

    def preflight(self) -> str:
        """Fail within seconds, not minutes, when the cluster is unreachable; returns its version."""
        try:
            version = self.server_version(timeout=PREFLIGHT_TIMEOUT, attempts=2)
        except ClusterError as exc:
            if exc.status in (401, 403):
                raise ClusterError(
                    f"the API server of context {self.target.context} at {self.target.server} rejected the "
                    f"credentials ({exc.status} {'Unauthorized' if exc.status == 401 else 'Forbidden'})",
                    hint=REJECTED_HINT.format(context=self.target.context),
                    status=exc.status,
                ) from None
            cause = exc.__cause__ if exc.__cause__ is not None else exc.message
            raise ClusterError(
                f"cannot reach the API server of context {self.target.context} at {self.target.server}: {cause}",
                hint=f"check the cluster is up and reachable: `kubectl --context {self.target.context} cluster-info`",
            ) from None
        self.git_version = str((version or {}).get("gitVersion", "unknown"))
        return self.git_version

    def close(self) -> None:
        self.api.close()


def _one_line(exc: BaseException) -> str:
    text = str(exc).replace("\n", " ").strip()
    return "".join(c if c.isprintable() else "?" for c in text)[:300]


def _check_server(host: str, context: str | None) -> None:
    """The cluster's `server:` must be an http(s) URL with a host; say so instead of failing in urllib3."""
    from urllib.parse import urlsplit

    try:
        url = urlsplit(host or "")
        _ = url.port  # raises ValueError for a port that is not a number
        ok = url.scheme in ("https", "http") and bool(url.hostname) and not any(c.isspace() for c in host)
    except ValueError:
        ok = False
    if not ok:
        shown = "".join(c if c.isprintable() else "?" for c in (host or ""))[:200]
        raise UsageError(f"the kubeconfig's server for context {context or 'current'} is not an https:// URL: "
                         f"{shown!r}", hint="fix `clusters[].cluster.server` (e.g. https://127.0.0.1:6443)")


class _LogCapture:
    """Collect ERROR records the kubernetes client logs (to the root logger) while loading a kubeconfig."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def __enter__(self) -> _LogCapture:
        import logging

        capture = self

        class _Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                if record.levelno >= logging.ERROR:
                    capture.messages.append(_one_line(Exception(record.getMessage())))

        self._handler = _Handler()
        logging.getLogger().addHandler(self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        import logging

        logging.getLogger().removeHandler(self._handler)


def _in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and not os.environ.get("KUBECONFIG") and not (
        Path.home() / ".kube" / "config"
    ).exists()
