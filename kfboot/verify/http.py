"""The one HTTP client the verify checks use (gateway, Dex login, KFP API, KServe v1 predict).

A browser-like session on top of the standard library: cookies kept per session, redirects
followed by hand so every hop is recorded (the login check reports the chain it saw), and only
within the origin the session was opened on — through a port-forward every hop of the platform's
login flow is relative (oauth2-proxy `login_url = "/dex/auth"`, `relative_redirect_url = true`), so
a redirect elsewhere is itself a finding. Tests run it against local http.server instances.
"""

from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kfboot.errors import KfbootError

MAX_REDIRECTS = 12


class HttpError(KfbootError):
    """The request did not get an answer (refused, reset, timed out) or left the origin."""


@dataclass
class Response:
    status: int
    url: str
    headers: dict[str, str]
    body: bytes
    history: list[tuple[int, str]] = field(default_factory=list)  # (status, url) of each redirect hop

    @property
    def path(self) -> str:
        return urllib.parse.urlsplit(self.url).path

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            raise HttpError(f"{self.url} answered {self.status} with a body that is not JSON: "
                            f"{self.text[:200]!r}") from None

    def chain(self) -> str:
        """`302 /a → 303 /b → 200 /c`: what a failure message shows."""
        hops = [f"{status} {_short(url)}" for status, url in self.history]
        return " → ".join([*hops, f"{self.status} {_short(self.url)}"])


def _short(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = parts.query if len(parts.query) <= 40 else parts.query[:37] + "..."
    return parts.path + (f"?{query}" if query else "")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # every 3xx comes back to us as a response


class HttpSession:
    """Cookies + hand-followed redirects against one origin (e.g. http://127.0.0.1:PORT)."""

    def __init__(self, base_url: str, *, timeout: float = 15.0, headers: Mapping[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.headers = dict(headers or {})
        self.cookies = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect())
        self._origin = urllib.parse.urlsplit(self.base_url)[:2]

    def cookie_names(self) -> list[str]:
        return sorted(c.name for c in self.cookies)

    def url(self, path_or_url: str) -> str:
        return urllib.parse.urljoin(self.base_url + "/", path_or_url)

    def get(self, path: str, *, headers: Mapping[str, str] | None = None, follow: bool = True) -> Response:
        return self.request("GET", path, headers=headers, follow=follow)

    def post_form(self, path: str, form: Mapping[str, str], *, follow: bool = True) -> Response:
        body = urllib.parse.urlencode(form).encode()
        return self.request("POST", path, body=body, follow=follow,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})

    def post_json(self, path: str, payload: Any, *, headers: Mapping[str, str] | None = None) -> Response:
        return self.request("POST", path, body=json.dumps(payload).encode(), follow=False,
                            headers={"Content-Type": "application/json", **(headers or {})})

    def request(self, method: str, path: str, *, body: bytes | None = None,
                headers: Mapping[str, str] | None = None, follow: bool = True) -> Response:
        url = self.url(path)
        history: list[tuple[int, str]] = []
        while True:
            resp = self._once(method, url, body, {**self.headers, **(headers or {})})
            location = resp.headers.get("location")
            if not follow or resp.status not in (301, 302, 303, 307, 308) or not location:
                resp.history = history
                return resp
            history.append((resp.status, url))
            if len(history) > MAX_REDIRECTS:
                raise HttpError(f"more than {MAX_REDIRECTS} redirects from {_short(history[0][1])}: "
                                + " → ".join(_short(u) for _, u in history[-4:]))
            nxt = urllib.parse.urljoin(url, location)
            if urllib.parse.urlsplit(nxt)[:2] != self._origin:
                raise HttpError(f"redirected out of {self.base_url} to {nxt} (after "
                                + " → ".join(f"{s} {_short(u)}" for s, u in history) + ")",
                                hint="the platform's login URLs must be relative to reach them through the gateway")
            if resp.status in (301, 302, 303) and method != "GET":
                method, body = "GET", None
            url = nxt

    def _once(self, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> Response:
        req = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with self._opener.open(req, timeout=self.timeout) as raw:
                return Response(raw.status, url, _lower(raw.headers), raw.read())
        except urllib.error.HTTPError as exc:  # 3xx (not followed), 4xx, 5xx: an answer all the same
            with exc:
                return Response(exc.code, url, _lower(exc.headers), exc.read())
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise HttpError(f"{method} {url}: no answer ({reason})") from None


def _lower(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()} if headers is not None else {}
