"""Who may see ``/dashboard``: ``BESTBEFORE_DASHBOARD_TOKEN`` in an ``Authorization: Bearer`` header, or the session
cookie set by the login form (``POST /dashboard/login``). Never in the URL: a request with ``?token=`` is refused
(URLs end up in access logs, proxies and browser history).

With a token configured every client needs it, loopback included (behind a reverse proxy on the same host every
request comes from loopback). Without a token only loopback clients see the dashboard.

The cookie holds an HMAC of a fixed label under the token, not the token: it is the same on every replica, and
changing the token logs everyone out. It is ``HttpOnly``, ``SameSite=Strict``, scoped to ``/dashboard``, and
``Secure`` when the request came over HTTPS. Comparisons are constant-time; logins are limited to
``LOGINS_PER_MINUTE`` per client address.
"""

from __future__ import annotations

import hashlib
import hmac
from html import escape
from urllib.parse import parse_qs

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from rag.limits.buckets import Bucket, LocalTokenBuckets

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
SESSION_COOKIE = "bestbefore_dashboard"
SESSION_LABEL = b"bestbefore dashboard session v1"
SESSION_MAX_AGE = 30 * 24 * 3600
LOGINS_PER_MINUTE = 10
QUERY_TOKEN = (
    "bad request: never put the dashboard token in the URL; send it as 'Authorization: Bearer <token>' "
    "or log in at /dashboard/login"
)

LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><title>bestbefore — log in</title>
<style>body{{font:14px system-ui,sans-serif;margin:15vh auto;max-width:22rem;color:#1d2330}}
input{{font:inherit;padding:6px;width:100%;box-sizing:border-box;margin:6px 0}}
button{{font:inherit;padding:6px 14px}} .problem{{color:#b3261e}}</style></head>
<body><h1>bestbefore dashboard</h1>{problem}
<form method="post" action="/dashboard/login">
<label for="token">Dashboard token (BESTBEFORE_DASHBOARD_TOKEN)</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button></form></body></html>
"""


def configured(secret: SecretStr | None) -> str | None:
    value = secret.get_secret_value() if secret is not None else ""
    return value or None


def session_value(token: str) -> str:
    return hmac.new(token.encode(), SESSION_LABEL, hashlib.sha256).hexdigest()


def token_in_query(request: Request) -> bool:
    return any(name.lower() in {"token", "access_token"} for name in request.query_params)


def authorized(request: Request, secret: SecretStr | None) -> bool:
    """Token configured: a matching bearer header or session cookie. Otherwise: loopback clients only."""
    token = configured(secret)
    if token is None:
        return (request.client.host if request.client else "") in LOOPBACK
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer " and hmac.compare_digest(header[7:].strip().encode(), token.encode()):
        return True
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return hmac.compare_digest(cookie.encode(), session_value(token).encode())


def refusal(request: Request, secret: SecretStr | None, *, page: bool) -> Response | None:
    """None when the request may see the dashboard; else the response to send (short, no secrets)."""
    if token_in_query(request):
        return PlainTextResponse(QUERY_TOKEN, status_code=400)
    if authorized(request, secret):
        return None
    if configured(secret) is None:
        return PlainTextResponse(
            "forbidden: the dashboard is open to loopback only; set BESTBEFORE_DASHBOARD_TOKEN to open it to others",
            status_code=403,
        )
    if page:
        return login_page(status=401)
    return PlainTextResponse("unauthorized: send 'Authorization: Bearer <token>' or log in", status_code=401)


def login_page(*, status: int = 200, problem: str = "") -> HTMLResponse:
    shown = f'<p class="problem">{escape(problem)}</p>' if problem else ""
    return HTMLResponse(LOGIN_PAGE.format(problem=shown), status_code=status, headers={"Cache-Control": "no-store"})


def login_routes(secret: SecretStr | None) -> list[Route]:
    """``GET /dashboard/login`` (the form), ``POST /dashboard/login`` (sets the cookie), ``POST /dashboard/logout``."""
    attempts = LocalTokenBuckets()

    async def show_form(request: Request) -> Response:
        if token_in_query(request):
            return PlainTextResponse(QUERY_TOKEN, status_code=400)
        return login_page()

    async def log_in(request: Request) -> Response:
        token = configured(secret)
        if token is None:
            return PlainTextResponse("no login: BESTBEFORE_DASHBOARD_TOKEN is not set (loopback only)", status_code=404)
        client = request.client.host if request.client else "?"
        if not attempts.take([Bucket(f"login:{client}", LOGINS_PER_MINUTE / 60, LOGINS_PER_MINUTE)]).allowed:
            return PlainTextResponse("too many login attempts: wait a minute", status_code=429)
        form = parse_qs((await request.body()).decode("utf-8", errors="replace"))  # bounded by RequestGuard
        given = (form.get("token") or [""])[0]
        if not hmac.compare_digest(given.encode(), token.encode()):
            return login_page(status=401, problem="That is not the dashboard token.")
        response = RedirectResponse("/dashboard", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            session_value(token),
            max_age=SESSION_MAX_AGE,
            path="/dashboard",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def log_out(request: Request) -> Response:
        response = RedirectResponse("/dashboard/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/dashboard", httponly=True, samesite="strict")
        return response

    return [
        Route("/dashboard/login", show_form, methods=["GET"], name="dashboard_login_form"),
        Route("/dashboard/login", log_in, methods=["POST"], name="dashboard_login"),
        Route("/dashboard/logout", log_out, methods=["POST"], name="dashboard_logout"),
    ]
