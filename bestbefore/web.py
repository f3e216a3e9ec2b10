"""The HTTP app: ``POST /slack/events`` (Bolt, signature-checked), ``GET /healthz``, plus routes others add.

Everything sits behind :class:`bestbefore.http_guard.RequestGuard`: request bodies are size-checked before they
are read (``Content-Length`` over the path's limit -> 413 at once; chunked bodies cut at the limit), and every error
is a short line of text. ``X-Slack-Signature`` / ``X-Slack-Request-Timestamp`` are verified against
``SLACK_SIGNING_SECRET`` before the body is parsed: unsigned, badly signed, stale (> 5 minutes) or malformed
requests get a 401 and never reach Bolt.

The Bolt app is synchronous; each request is dispatched on Starlette's thread pool so a slow middleware (or a
burst of events) never blocks the event loop.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from bestbefore.http_guard import RequestGuard
from bestbefore.services import Services
from jobs.webhook import MAX_BODY_BYTES as MAX_WEBHOOK_BYTES

log = logging.getLogger("bestbefore.http")

SLACK_EVENTS_PATH = "/slack/events"
MAX_EVENT_BYTES = 1024 * 1024
BODY_LIMITS = {SLACK_EVENTS_PATH: MAX_EVENT_BYTES, "/hooks/refresh": MAX_WEBHOOK_BYTES}
UNIX_SECONDS = re.compile(r"\d{1,12}")


def slack_signature_problem(verifier: SignatureVerifier, request: Request, body: bytes) -> str | None:
    """None when the request carries a valid, fresh Slack signature; else a short reason (no secret in it)."""
    timestamp = request.headers.get("x-slack-request-timestamp")
    signature = request.headers.get("x-slack-signature")
    if not timestamp or not signature:
        return "missing X-Slack-Signature or X-Slack-Request-Timestamp"
    if not UNIX_SECONDS.fullmatch(timestamp.strip()):
        return "X-Slack-Request-Timestamp is not unix seconds"
    if not verifier.is_valid(body, timestamp.strip(), signature.strip()):
        return "invalid or expired Slack signature"
    return None


def slack_events_route(slack_app: App, signing_secret: str) -> Route:
    verifier = SignatureVerifier(signing_secret)

    async def slack_events(request: Request) -> Response:
        body = await request.body()  # bounded by RequestGuard
        problem = slack_signature_problem(verifier, request, body)
        if problem is not None:
            log.info(
                "rejected %s from %s: %s", SLACK_EVENTS_PATH, request.client.host if request.client else "?", problem
            )
            return PlainTextResponse(f"unauthorized: {problem}", status_code=401)
        try:
            bolt_request = to_bolt_request(request, body)
        except (UnicodeDecodeError, ValueError):  # json.JSONDecodeError is a ValueError
            return PlainTextResponse("bad request: body is not a Slack event", status_code=400)
        bolt_response = await run_in_threadpool(slack_app.dispatch, bolt_request)
        return to_starlette_response(bolt_response)

    return Route(SLACK_EVENTS_PATH, slack_events, methods=["POST"], name="slack_events")


def create_web_app(services: Services, *, slack_app: App | None, extra_routes: Sequence[BaseRoute] = ()) -> ASGIApp:
    """The guarded web app; ``services`` is kept on the Starlette app's ``state.services`` for routes that need it."""

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    routes: list[BaseRoute] = [Route("/healthz", healthz, methods=["GET"], name="healthz")]
    if slack_app is not None:
        secret = services.settings.slack_signing_secret
        routes.append(slack_events_route(slack_app, secret.get_secret_value() if secret else ""))
    routes.extend(extra_routes)
    web = Starlette(routes=routes)
    web.state.services = services
    return RequestGuard(web, limits=BODY_LIMITS)
