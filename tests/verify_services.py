"""A local stand-in for the platform behind its ingress gateway, answering like the real services.

One http.server on 127.0.0.1 plays: oauth2-proxy (sign-in page for strangers, /oauth2/start with a
CSRF cookie, /oauth2/callback setting `oauth2_proxy_kubeflow`), Dex (connector redirect, the local
login form at /dex/auth/local/login, 303 on good credentials, the same form again on bad ones,
optional /dex/approval), the central dashboard (/api/workgroup/env-info), an echo service behind a
VirtualService, Kubeflow Pipelines' v2beta1 runs API and KServe's v1 predict protocol. Bearer
tokens are fakekube's (`fake-token.NAMESPACE.ACCOUNT`), so "another namespace's token" is real here.
"""

from __future__ import annotations

import json
import secrets
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SESSION_COOKIE = "oauth2_proxy_kubeflow"
CSRF_COOKIE = "oauth2_proxy_kubeflow_csrf"
LOGIN_PAGE = ('<html><body><form method="post"><input name="login"><input name="password" type="password">'
              '<button>Login</button></form>{error}</body></html>')
SIGN_IN_PAGE = '<html><body><form action="/oauth2/start"><button>Sign in with Dex</button></form></body></html>'


class Platform:
    """The knobs tests turn: credentials, approval screen, run outcome, prediction, echo route."""

    def __init__(self, email: str = "user@example.com", password: str = "s3cret") -> None:
        self.email = email
        self.password = password
        self.approval_screen = False
        self.accept_any_password = False  # a broken Dex
        self.open_gateway = False  # a misconfigured gateway that serves / without login
        self.run_states = ["PENDING", "RUNNING", "SUCCEEDED"]
        self.run_error = ""
        self.multi_user = True
        self.predictions: Any = [1, 1]
        self.predict_unavailable = 1  # 503s before the route works, as while routes propagate
        self.echo_routed = True
        self.trusts_sa_tokens = True  # the m2m-dex-and-kind overlay (kind); m2m-dex-only elsewhere
        self.requests: list[tuple[str, str]] = []
        self.sessions: set[str] = set()
        self.runs: dict[str, list[str]] = {}
        self.experiments: dict[str, str] = {}
        self.server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.server_address[1]

    def start(self) -> Platform:
        platform = self

        class Handler(_Handler):
            pass

        Handler.platform = platform
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _token_namespace(header: str) -> str | None:
    if not header.startswith("Bearer fake-token."):
        return None
    return header[len("Bearer fake-token."):].split(".")[0]


class _Handler(BaseHTTPRequestHandler):
    platform: Platform

    def log_message(self, *args: Any) -> None:
        return

    # -- plumbing ---------------------------------------------------------------------------------
    def _send(self, code: int, body: str | bytes = b"", ctype: str = "text/html", headers: dict[str, str] | None = None,
              cookies: list[str] | None = None) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        for c in cookies or []:
            self.send_header("Set-Cookie", c)
        self.end_headers()
        self.wfile.write(data)

    def _json(self, code: int, obj: Any) -> None:
        self._send(code, json.dumps(obj), "application/json")

    def _redirect(self, code: int, location: str, cookies: list[str] | None = None) -> None:
        self._send(code, b"", headers={"Location": location}, cookies=cookies)

    def _cookies(self) -> dict[str, str]:
        out = {}
        for part in (self.headers.get("Cookie") or "").split(";"):
            k, _, v = part.strip().partition("=")
            if k:
                out[k] = v
        return out

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        return dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"null")

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    # -- routing ----------------------------------------------------------------------------------
    def _route(self, method: str) -> None:
        p = self.platform
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        p.requests.append((method, self.path))
        token_ns = _token_namespace(self.headers.get("Authorization", ""))
        if token_ns is not None and not p.trusts_sa_tokens:  # Istio: no RequestAuthentication for this issuer
            return self._send(401, "Jwt issuer is not configured", "text/plain")
        session = self._cookies().get(SESSION_COOKIE) in p.sessions
        path = url.path
        if path.startswith("/oauth2/") or path.startswith("/dex/"):
            return self._auth_flow(method, path, query)
        if not session and token_ns is None and not p.open_gateway:  # oauth2-proxy via ext_authz
            if path.startswith(("/api/", "/apis/", "/pipeline/apis/")):
                return self._send(401, "Unauthorized")
            return self._send(403, SIGN_IN_PAGE)
        if path.startswith("/pipeline/apis/v2beta1/"):
            return self._kfp(method, path[len("/pipeline/apis/v2beta1/"):], query, token_ns)
        if path.startswith("/kserve/") and path.endswith(":predict"):
            return self._predict()
        if path.startswith("/kfboot-verify-echo/echo"):
            if not p.echo_routed:
                return self._send(404, "", "text/plain")
            return self._send(200, query.get("msg", ""), "text/plain")
        if path == "/api/workgroup/env-info":
            return self._json(200, {"user": p.email, "platform": {"kubeflowVersion": "26.03"}, "namespaces": [],
                                    "isClusterAdmin": False})
        if path == "/":
            return self._send(200, "<html><title>Kubeflow Central Dashboard</title></html>")
        return self._send(404, "not found", "text/plain")

    def _auth_flow(self, method: str, path: str, query: dict[str, str]) -> None:
        p = self.platform
        if path == "/oauth2/start":
            state = secrets.token_hex(8)
            rd = query.get("rd", "/")
            auth = "/dex/auth?" + urllib.parse.urlencode({
                "client_id": "kubeflow-oidc-authservice", "redirect_uri": "/oauth2/callback", "response_type": "code",
                "scope": "openid profile email groups", "state": f"{state}:{rd}"})
            return self._redirect(302, auth, [f"{CSRF_COOKIE}={state}; Path=/; HttpOnly; SameSite=Lax"])
        if path == "/dex/auth":
            return self._redirect(302, "/dex/auth/local?" + urllib.parse.urlencode(query))
        if path == "/dex/auth/local":
            return self._redirect(302, "/dex/auth/local/login?" + urllib.parse.urlencode(
                {"back": "", "state": query.get("state", "")}))
        if path == "/dex/auth/local/login":
            if method == "GET":
                return self._send(200, LOGIN_PAGE.format(error=""))
            form = self._form()
            good = form.get("password") == p.password or p.accept_any_password
            if form.get("login") != p.email or not good:
                return self._send(200, LOGIN_PAGE.format(error="Invalid Email Address and password"))
            req = query.get("state", "")
            if p.approval_screen:
                return self._redirect(303, "/dex/approval?" + urllib.parse.urlencode({"req": req}))
            return self._redirect(303, "/oauth2/callback?" + urllib.parse.urlencode({"code": "c0de", "state": req}))
        if path == "/dex/approval":
            if method == "GET":
                return self._send(200, '<form method="post"><button name="approval" value="approve">Grant</button></form>')
            if self._form().get("approval") != "approve":
                return self._send(200, "rejected")
            return self._redirect(303, "/oauth2/callback?" + urllib.parse.urlencode(
                {"code": "c0de", "state": query.get("req", "")}))
        if path == "/oauth2/callback":
            state, _, rd = query.get("state", "").partition(":")
            if self._cookies().get(CSRF_COOKIE) != state:
                return self._send(403, "Unable to find a valid CSRF token. Please try again.")
            session = secrets.token_hex(12)
            p.sessions.add(session)
            return self._redirect(302, rd or "/", [f"{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Lax",
                                                   f"{CSRF_COOKIE}=; Path=/; Max-Age=0"])
        return self._send(404, "not found", "text/plain")

    def _kfp(self, method: str, rest: str, query: dict[str, str], token_ns: str | None) -> None:
        p = self.platform

        def denied(ns: str) -> None:
            self._json(403, {"error_message": f"User 'system:serviceaccount:{token_ns}' is not authorized with reason: "
                                              f"PermissionDenied (request: namespace {ns})", "code": 7})

        if rest == "experiments" and method == "POST":
            body = self._body()
            if p.multi_user and body.get("namespace") != token_ns:
                return denied(body.get("namespace"))
            eid = secrets.token_hex(6)
            p.experiments[eid] = body["namespace"]
            return self._json(200, {"experiment_id": eid, "display_name": body["display_name"],
                                    "namespace": body["namespace"]})
        if rest.startswith("experiments/") and method == "DELETE":
            p.experiments.pop(rest.split("/")[1], None)
            return self._json(200, {})
        if rest == "runs" and method == "POST":
            body = self._body()
            ns = p.experiments.get(body.get("experiment_id", ""))
            if ns is None or (p.multi_user and ns != token_ns):
                return denied(ns or "?")
            tasks = body["pipeline_spec"]["root"]["dag"]["tasks"]
            if not tasks:
                return self._json(400, {"error_message": "pipeline spec has no tasks", "code": 3})
            rid = secrets.token_hex(8)
            p.runs[rid] = list(p.run_states)
            return self._json(200, {"run_id": rid, "display_name": body["display_name"], "state": "PENDING"})
        if rest == "runs" and method == "GET":
            if p.multi_user and query.get("namespace") != token_ns:
                return denied(query.get("namespace", ""))
            return self._json(200, {"runs": [], "total_size": 0})
        if rest.startswith("runs/") and method == "GET":
            states = p.runs.get(rest.split("/")[1])
            if states is None:
                return self._json(404, {"error_message": "run not found", "code": 5})
            state = states.pop(0) if len(states) > 1 else states[0]
            out: dict[str, Any] = {"run_id": rest.split("/")[1], "state": state}
            if state == "FAILED" and p.run_error:
                out["error"] = {"code": 2, "message": p.run_error}
            return self._json(200, out)
        return self._json(404, {"error_message": f"no route {method} {rest}", "code": 5})

    def _predict(self) -> None:
        p = self.platform
        if p.predict_unavailable > 0:
            p.predict_unavailable -= 1
            return self._send(503, "no healthy upstream", "text/plain")
        body = self._body()
        if not isinstance(body, dict) or len(body.get("instances") or []) != 2:
            return self._json(400, {"error": "expected two instances"})
        return self._json(200, {"predictions": p.predictions})
