"""The platform's browser login, done the way a browser does it: oauth2-proxy → Dex → back.

Shape (kubeflow/manifests 26.03, oauth2-proxy overlay `m2m-dex-only`, Dex overlay `oauth2-proxy`):
an unauthenticated GET / is answered by oauth2-proxy through Istio's ext_authz, either with its
sign-in page (401/403, since `skip_provider_button = false`) or with a redirect to `/oauth2/start`;
`/oauth2/start?rd=/` sets a CSRF cookie and redirects to Dex (`login_url = "/dex/auth"`), which
sends a single-connector login to `/dex/auth/local/login?...`. The form posts `login` and
`password`; good credentials redirect (303) to `/dex/approval` (only when `skipApprovalScreen` is
false: then POST `approval=approve`) or straight to `/oauth2/callback`, which sets the session
cookie (`oauth2_proxy_kubeflow`) and redirects to the original page. Bad credentials answer 200 on
the login page again, with no redirect — which is how the wrong-password check knows.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from kfboot.verify.http import HttpSession, Response

SESSION_COOKIE_PREFIX = "oauth2_proxy"
LOGIN_PATH = re.compile(r"/auth/[^/]+/login$")


class LoginFailed(Exception):
    """The flow did not go as the platform's flow goes; the message says where it left the path."""


@dataclass(frozen=True)
class LoginResult:
    response: Response  # the page reached after logging in
    login_url: str
    cookies: list[str]


def unauthenticated_entry(session: HttpSession, path: str = "/") -> Response:
    """GET `path` without following anything: what the gateway answers a stranger."""
    return session.get(path, follow=False)


def is_login_redirect(resp: Response) -> bool:
    """A redirect to oauth2-proxy or Dex, or oauth2-proxy's own sign-in page."""
    if resp.status in (301, 302, 303, 307, 308):
        target = urllib.parse.urlsplit(resp.headers.get("location", "")).path
        return target.startswith(("/oauth2/", "/dex/"))
    return resp.status in (401, 403) and "/oauth2/start" in resp.text


def open_login_form(session: HttpSession, path: str = "/") -> Response:
    """From `path` to Dex's local login form (200 at …/auth/local/login)."""
    resp = session.get(path)
    if resp.status in (401, 403):  # oauth2-proxy's sign-in page: start the flow as its button does
        resp = session.get("/oauth2/start?" + urllib.parse.urlencode({"rd": path}))
    if resp.status != 200:
        raise LoginFailed(f"expected Dex's login page, got HTTP {resp.status}: {resp.chain()}")
    if resp.path.endswith("/auth"):  # Dex's connector chooser: take the local (static password) one
        resp = session.get(re.sub(r"/auth$", "/auth/local", resp.path) + _query(resp.url))
    if not LOGIN_PATH.search(resp.path):
        raise LoginFailed(f"expected Dex's login form at …/auth/local/login, arrived at {resp.chain()}")
    return resp


def submit(session: HttpSession, form_page: Response, email: str, password: str) -> Response:
    """POST the credentials; approve if Dex asks. Returns where the flow ended."""
    resp = session.post_form(form_page.url, {"login": email, "password": password})
    if resp.history and resp.path.endswith("/approval") and resp.status == 200:
        resp = session.post_form(resp.url, {"approval": "approve"})
    return resp


def login(session: HttpSession, email: str, password: str, path: str = "/") -> LoginResult:
    form = open_login_form(session, path)
    resp = submit(session, form, email, password)
    if not resp.history:
        raise LoginFailed(f"Dex did not accept the login of {email}: the form answered HTTP {resp.status} "
                          "without a redirect (wrong credentials, or the password changed since install)")
    if resp.status != 200:
        raise LoginFailed(f"after the login the flow ended with HTTP {resp.status}: {resp.chain()}")
    cookies = session.cookie_names()
    if not any(name.startswith(SESSION_COOKIE_PREFIX) and not name.endswith("_csrf") for name in cookies):
        raise LoginFailed(f"logged in but oauth2-proxy set no session cookie (cookies: {', '.join(cookies) or 'none'}; "
                          f"flow: {resp.chain()})")
    return LoginResult(resp, form.url, cookies)


def refused(session: HttpSession, email: str, password: str, path: str = "/") -> Response:
    """Try a login expected to fail; raises LoginFailed if Dex let it through."""
    form = open_login_form(session, path)
    resp = submit(session, form, email, password)
    if resp.history or any(n.startswith(SESSION_COOKIE_PREFIX) and not n.endswith("_csrf")
                           for n in session.cookie_names()):
        raise LoginFailed(f"Dex accepted a wrong password for {email}: {resp.chain()}")
    return resp


def _query(url: str) -> str:
    query = urllib.parse.urlsplit(url).query
    return f"?{query}" if query else ""
