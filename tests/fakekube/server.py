"""HTTP/1.1 front end: keep-alive, chunked watch streams, faults, request log.

``ThreadingHTTPServer`` gives one thread per connection, plenty for ~50 concurrent clients;
open connections are tracked so ``stop()`` can cut idle keep-alive and watch connections.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from . import discovery, paging, protobuf, sim_verify
from .api import WriteOptions
from .authz import METHOD_VERBS
from .errors import ApiError, bad_request, status_body
from .faults import WRITE_VERBS
from .routing import ResourcePath, parse_resource_path
from .selectors import parse_field_selector, parse_label_selector
from .tables import to_table

if TYPE_CHECKING:
    from .fake import FakeKube


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    query: dict[str, str]
    status: int
    content_type: str
    verb: str = ""  # logical verb: GET/LIST/WATCH/POST/PUT/PATCH/DELETE


def injected_message(status: int) -> str:
    """An injected failure worded as kube-apiserver words it (clients such as Helm only see the text)."""
    cause = f"fakekube: injected {status}"
    return {500: f"Internal error occurred: {cause}",
            503: f"the server is currently unable to handle the request ({cause})",
            504: f"the server was unable to return a response in the time allotted ({cause})",
            429: f"the server has received too many requests and has asked us to try again later ({cause})",
            }.get(status, cause)


class _Dropped(Exception):
    """Raised to abandon a request without answering (fault: dropped connection)."""


class KubeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, fake: FakeKube) -> None:
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        self.stopping = threading.Event()
        super().__init__(("127.0.0.1", 0), Handler)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self.conn_lock:
            self.connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.conn_lock:
                self.connections.discard(request)

    def close_all(self) -> None:
        self.stopping.set()
        with self.conn_lock:
            conns = list(self.connections)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet on client resets
        pass


def _logical_verb(method: str, rp: ResourcePath | None, query: dict[str, str]) -> str:
    if method == "GET" and rp is not None and rp.name is None:
        return "WATCH" if query.get("watch") in ("true", "1") else "LIST"
    return method


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms delayed-ACK stalls
    server: KubeHTTPServer
    timeout = 120

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # ------------------------------------------------------------------ plumbing
    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _record(self, status: int) -> None:
        """Log the request before the client can see the response (so tests never race the log)."""
        if self._recorded:
            return
        self._recorded = True
        self._status = status
        method, path, query, ctype, verb = self._req_info
        self.server.fake._record(RequestRecord(method, path, query, status, ctype, verb))

    def _send(self, code: int, body: bytes, ctype: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        self._record(code)
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._status = code

    def _send_json(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(code, json.dumps(obj).encode(), "application/json", headers)

    def _send_error(self, err: ApiError) -> None:
        self._send_json(err.code, err.status(), err.headers)

    def _drop(self) -> None:
        self._record(0)
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._status = 0

    # ------------------------------------------------------------------ main entry
    def _serve(self, method: str) -> None:
        fake = self.server.fake
        split = urllib.parse.urlsplit(self.path)
        # Go's net/http hands the server the decoded path: `%3A` in an RBAC name is a `:`.
        path = urllib.parse.unquote(split.path).rstrip("/") or "/"
        query = {k: v[0] for k, v in urllib.parse.parse_qs(split.query, keep_blank_values=True).items()}
        ctype = self.headers.get("Content-Type", "")
        self._status = 0
        self._recorded = False
        verb = method
        body = b""
        self._req_info = (method, path, query, ctype.split(";")[0], verb)
        try:
            body = self._read_body()
            try:
                rp = parse_resource_path(fake.registry, path)
            except ApiError:
                rp = None
                is_resource = True
            else:
                is_resource = rp is not None
            verb = _logical_verb(method, rp, query)
            self._req_info = (method, path, query, ctype.split(";")[0], verb)
            if fake.latency:
                time.sleep(fake.latency)
            decision = fake.faults.decide(verb, path, is_resource)
            if decision.latency:
                time.sleep(decision.latency)
            if decision.drop:
                raise _Dropped()
            if decision.status is not None:
                headers = {}
                if decision.retry_after is not None:
                    headers["Retry-After"] = str(decision.retry_after)
                raise ApiError(decision.status, injected_message(decision.status), headers=headers)
            if decision.conflict:
                raise ApiError(409, "Operation cannot be fulfilled: the object has been modified; please "
                                    "apply your changes to the latest version and try again (injected)",
                               "Conflict")
            self._dispatch(method, path, query, body, ctype)
        except _Dropped:
            self._drop()
        except ApiError as err:
            self._send_error(err)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug in the fake must still look like a server error
            import traceback

            traceback.print_exc()
            self._send_error(ApiError(500, f"fakekube internal error: {exc!r}"))
        finally:
            self._record(self._status)

    # ------------------------------------------------------------------ routing
    def _dispatch(self, method: str, path: str, query: dict[str, str], body: bytes, ctype: str) -> None:
        fake = self.server.fake
        if method not in ("GET", "HEAD") and not (path.startswith("/api/") or path.startswith("/apis/")):
            raise ApiError(405, "method not allowed", "MethodNotAllowed")
        if path in ("/healthz", "/readyz", "/livez"):
            return self._send(200, b"ok", "text/plain; charset=utf-8")
        if path == "/version":
            return self._send_json(200, discovery.version_doc(fake.kube_version))
        if path == "/api":
            return self._send_json(200, discovery.api_versions(f"127.0.0.1:{fake.port}"))
        if path == "/apis":
            return self._send_json(200, discovery.api_group_list(fake.registry))
        if path == "/openapi/v3":
            return self._send_json(200, discovery.openapi_v3_index(fake.registry))
        if path.startswith("/openapi/v3/"):
            key = path[len("/openapi/v3/"):].split("/")
            group, version = ("", key[1]) if key[0] == "api" else (key[1], key[2]) if len(key) > 2 else ("", "")
            doc = discovery.openapi_v3_gv(fake.registry, group, version, fake.kube_version)
            if doc is None:
                raise ApiError(404, "the server could not find the requested resource")
            return self._send_json(200, doc)
        parts = [p for p in path.split("/") if p]
        if parts == ["api", "v1"] or (len(parts) == 3 and parts[0] == "apis"):
            group, version = ("", "v1") if parts[0] == "api" else (parts[1], parts[2])
            doc = discovery.resource_list(fake.registry, group, version)
            if doc is None:
                raise ApiError(404, "the server could not find the requested resource")
            return self._send_json(200, doc)
        if len(parts) == 2 and parts[0] == "apis":
            doc = discovery.api_group(fake.registry, parts[1])
            if doc is None:
                raise ApiError(404, "the server could not find the requested resource")
            return self._send_json(200, doc)
        rp = parse_resource_path(fake.registry, path)
        if rp is None:
            raise ApiError(404, "the server could not find the requested resource")
        return self._resource(method, rp, query, body, ctype)

    def _resource(self, method: str, rp: ResourcePath, query: dict[str, str], body: bytes, ctype: str) -> None:
        fake = self.server.fake
        api = fake.api
        ns = rp.namespace or ""
        dry_run = query.get("dryRun") == "All"
        manager = query.get("fieldManager") or self._default_manager()
        opts = WriteOptions(manager=manager, dry_run=dry_run, force=query.get("force") == "true",
                            field_validation=query.get("fieldValidation", ""),
                            subresource=rp.subresource if rp.subresource in ("status", "finalize") else "",
                            admit=True)
        if "cbor" in ctype.split(";")[0]:
            raise ApiError(415, f"the body of the request was in an unsupported media type: {ctype}",
                           "UnsupportedMediaType")
        if "protobuf" in ctype and body:
            if method == "DELETE":
                body = json.dumps(protobuf.decode(body, "DeleteOptions")).encode()
            elif method in ("POST", "PUT"):
                body = json.dumps(protobuf.decode(body, rp.rt.kind)).encode()
            else:
                raise ApiError(415, f"the body of the request was in an unsupported media type: {ctype}",
                               "UnsupportedMediaType")
        verb = METHOD_VERBS.get(_logical_verb(method, rp, query), method.lower())
        if method == "DELETE" and rp.name is None:
            verb = "deletecollection"
        resource = f"{rp.rt.plural}/{rp.subresource}" if rp.subresource else rp.rt.plural
        fake.authz.check(verb, rp.rt.group, resource, ns, rp.name)
        if rp.rt.verbs == ("create",):  # review APIs: answered, never stored
            if method != "POST":
                raise ApiError(405, "the server does not allow this method on the requested resource",
                               "MethodNotAllowed")
            return self._send_json(201, fake.authz.review(rp.rt.kind, self._json(body) or {}))
        if method == "GET" and rp.name is None:
            if query.get("watch") in ("true", "1"):
                return self._watch(rp, query)
            lst = api.list(rp.rt, rp.namespace, query.get("labelSelector"), query.get("fieldSelector"),
                           limit=paging.parse_limit(query.get("limit")), continue_token=query.get("continue", ""))
            return self._send_object(200, lst, query)
        if method == "GET" and rp.subresource == "log":
            return self._send(200, fake._pod_log(ns, rp.name).encode(), "text/plain")
        if rp.subresource == "scale":
            return self._scale(method, rp, body, ctype, opts)
        if method == "POST" and rp.subresource == "token":  # TokenRequest (kubectl create token)
            return self._send_json(201, sim_verify.token_request(fake, ns, rp.name, self._json(body)))
        if method == "GET":
            return self._send_object(200, api.get(rp.rt, ns, rp.name), query)
        if method == "POST":
            if rp.name is not None:
                raise ApiError(405, "the server does not allow this method on the requested resource",
                               "MethodNotAllowed")
            return self._send_json(201, api.create(rp.rt, ns, self._json(body), opts))
        if rp.name is None and method == "DELETE":
            return self._delete_collection(rp, query, body)
        if rp.name is None:
            raise ApiError(405, "the server does not allow this method on the requested resource",
                           "MethodNotAllowed")
        if method == "PUT":
            return self._send_json(200, api.replace(rp.rt, ns, rp.name, self._json(body), opts))
        if method == "PATCH":
            if ctype.startswith("application/apply-patch") and not query.get("fieldManager"):
                raise bad_request("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: "
                                  "is required for apply patch")
            obj, created = api.patch(rp.rt, ns, rp.name, body, ctype, opts)
            return self._send_json(201 if created else 200, obj)
        if method == "DELETE":
            options = self._json(body) if body.strip() else {}
            if isinstance(options, dict) and "All" in (options.get("dryRun") or []):
                dry_run = True
            result = api.delete(rp.rt, ns, rp.name, options if isinstance(options, dict) else {},
                                dry_run=dry_run, propagation=query.get("propagationPolicy"), admit=True)
            return self._send_json(200, result)
        raise ApiError(405, "method not allowed", "MethodNotAllowed")

    def _default_manager(self) -> str:
        """kube-apiserver names the manager after the User-Agent's program name."""
        agent = self.headers.get("User-Agent", "")
        return agent.split("/")[0] or "unknown"

    @staticmethod
    def _json(body: bytes) -> Any:
        try:
            return json.loads(body or b"null")
        except ValueError as exc:
            raise bad_request(f"error decoding request body: {exc}") from exc

    def _send_object(self, code: int, obj: dict[str, Any], query: dict[str, str]) -> None:
        accept = self.headers.get("Accept", "")
        first = accept.split(",")[0]
        if "as=Table" in first:
            obj = to_table(obj, query.get("includeObject", "Metadata"))
        elif "as=PartialObjectMetadata" in first:  # metadata-only clients (client-go metadata informers)
            def partial(o: dict[str, Any]) -> dict[str, Any]:
                return {"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": o["metadata"]}

            if "items" in obj:
                obj = {"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadataList",
                       "metadata": obj["metadata"], "items": [partial(i) for i in obj["items"]]}
            else:
                obj = partial(obj)
        self._send_json(code, obj)

    def _delete_collection(self, rp: ResourcePath, query: dict[str, str], body: bytes) -> None:
        api = self.server.fake.api
        lst = api.list(rp.rt, rp.namespace, query.get("labelSelector"), query.get("fieldSelector"))
        for item in lst["items"]:
            with contextlib.suppress(ApiError):
                api.delete(rp.rt, item["metadata"].get("namespace", ""), item["metadata"]["name"], None,
                           dry_run=query.get("dryRun") == "All",
                           propagation=query.get("propagationPolicy"))
        lst["items"] = []
        self._send_json(200, lst)

    def _scale(self, method: str, rp: ResourcePath, body: bytes, ctype: str, opts: WriteOptions) -> None:
        api, ns = self.server.fake.api, rp.namespace or ""
        obj = api.get(rp.rt, ns, rp.name)

        def scale_of(o: dict[str, Any]) -> dict[str, Any]:
            sel = (o.get("spec") or {}).get("selector") or {}
            sel_str = ",".join(f"{k}={v}" for k, v in (sel.get("matchLabels") or {}).items())
            md = o["metadata"]
            return {"apiVersion": "autoscaling/v1", "kind": "Scale",
                    "metadata": {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                                    "creationTimestamp") if k in md},
                    "spec": {"replicas": (o.get("spec") or {}).get("replicas", 1)},
                    "status": {"replicas": (o.get("status") or {}).get("replicas", 0), "selector": sel_str}}

        if method == "GET":
            return self._send_json(200, scale_of(obj))
        if method not in ("PUT", "PATCH"):
            raise ApiError(405, "method not allowed", "MethodNotAllowed")
        from . import patch as patchlib

        current = scale_of(obj)
        doc = self._json(body)
        if method == "PUT":
            new = doc
        elif ctype.startswith("application/json-patch+json"):
            new = patchlib.json_patch(current, doc)
        else:
            new = patchlib.merge_patch(current, doc)
        replicas = (new.get("spec") or {}).get("replicas", current["spec"]["replicas"])
        obj.setdefault("spec", {})["replicas"] = replicas
        updated = api.replace(rp.rt, ns, rp.name, obj, WriteOptions(manager=opts.manager, dry_run=opts.dry_run))
        self._send_json(200, scale_of(updated))

    # ------------------------------------------------------------------ watch
    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _watch(self, rp: ResourcePath, query: dict[str, str]) -> None:
        """Stream events as chunked JSON lines until timeoutSeconds, client disconnect or stop."""
        fake = self.server.fake
        store, api = fake.store, fake.api
        key = fake.registry.storage_key(rp.rt)
        label_match = parse_label_selector(query.get("labelSelector"))
        field_match = parse_field_selector(query.get("fieldSelector"))
        ns_filter = rp.namespace if rp.rt.namespaced else None
        timeout = float(query.get("timeoutSeconds") or 1800)
        deadline = time.monotonic() + timeout
        rv_param = query.get("resourceVersion") or ""
        send_initial = query.get("sendInitialEvents") == "true"

        def matches(obj: dict[str, Any]) -> bool:
            md = obj.get("metadata", {})
            if ns_filter is not None and md.get("namespace") != ns_filter:
                return False
            return label_match(md.get("labels") or {}) and field_match(obj)

        with store.lock:
            start_rv = store.resource_version
            initial: list[dict[str, Any]] = []
            expired = False
            if rv_param in ("", "0") or send_initial:
                initial = [o for o in store.list(key, ns_filter) if matches(o)]
            else:
                try:
                    start_rv = int(rv_param)
                except ValueError as exc:
                    raise bad_request(f"invalid resourceVersion {rv_param!r}") from exc
                expired = store.events_after(start_rv) is None

        self._record(200)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()

        def emit(etype: str, obj: dict[str, Any]) -> None:
            self._write_chunk(json.dumps({"type": etype, "object": obj}).encode() + b"\n")

        if expired:
            emit("ERROR", status_body(410, f"too old resource version: {rv_param}", "Expired"))
            self._write_chunk(b"")
            return
        for obj in initial:
            emit("ADDED", api._for_version(rp.rt, obj))
        if send_initial:
            emit("BOOKMARK", {"kind": rp.rt.kind, "apiVersion": rp.rt.api_version,
                              "metadata": {"resourceVersion": str(start_rv),
                                           "annotations": {"k8s.io/initial-events-end": "true"}}})
        last = start_rv
        while not self.server.stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            store.wait_for_change(last, min(remaining, 0.5))
            events = store.events_after(last)
            if events is None:
                emit("ERROR", status_body(410, "too old resource version", "Expired"))
                break
            for ev in events:
                last = ev.rv
                if ev.key == key and matches(ev.obj):
                    emit(ev.type, api._for_version(rp.rt, dict(ev.obj)))
            if not events:
                # Probe the socket so a vanished client ends the stream.
                try:
                    self.connection.settimeout(0.0)
                    if self.connection.recv(1, socket.MSG_PEEK) == b"":
                        self.close_connection = True
                        return
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    self.close_connection = True
                    return
                finally:
                    with contextlib.suppress(OSError):
                        self.connection.settimeout(self.timeout)
        self._write_chunk(b"")


__all__ = ["WRITE_VERBS", "KubeHTTPServer", "RequestRecord"]
