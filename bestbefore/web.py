"""The HTTP app: ``POST /slack/events`` (Bolt, signature-checked), ``GET /healthz``, plus routes others add.

The Bolt app is synchronous; each request is dispatched on Starlette's thread pool so a slow middleware (or a
burst of events) never blocks the event loop. Bolt verifies ``X-Slack-Signature`` / ``X-Slack-Request-Timestamp``
with ``SLACK_SIGNING_SECRET`` and answers 401 for unsigned or stale (> 5 minutes) requests.
"""

from __future__ import annotations

from collections.abc import Sequence

from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bestbefore.services import Services

SLACK_EVENTS_PATH = "/slack/events"
MAX_EVENT_BYTES = 1024 * 1024


def slack_events_route(slack_app: App) -> Route:
    async def slack_events(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_EVENT_BYTES:
            return PlainTextResponse("request too large", status_code=413)
        try:
            bolt_request = to_bolt_request(request, body)
        except UnicodeDecodeError:
            return PlainTextResponse("body is not UTF-8", status_code=400)
        bolt_response = await run_in_threadpool(slack_app.dispatch, bolt_request)
        return to_starlette_response(bolt_response)

    return Route(SLACK_EVENTS_PATH, slack_events, methods=["POST"], name="slack_events")


def create_web_app(services: Services, *, slack_app: App | None, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The web app; ``services`` is kept on ``app.state.services`` for routes that need it."""

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    routes: list[BaseRoute] = [Route("/healthz", healthz, methods=["GET"], name="healthz")]
    if slack_app is not None:
        routes.append(slack_events_route(slack_app))
    routes.extend(extra_routes)
    web = Starlette(routes=routes)
    web.state.services = services
    return web
