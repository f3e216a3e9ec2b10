"""``bestbefore serve``: the Slack bot over Socket Mode (``SLACK_APP_TOKEN`` set) or HTTP, plus the web routes.

Socket Mode needs no public URL: the bot opens a websocket to Slack, and the HTTP server on ``--port`` still
serves ``/healthz`` (and the routes other parts add). Without an app token, Slack posts events to
``POST /slack/events`` on ``--port``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import uvicorn
from slack_bolt.adapter.socket_mode import SocketModeHandler
from starlette.routing import BaseRoute

from bestbefore.dashboard import start_metrics_port
from bestbefore.http_guard import uvicorn_log_config
from bestbefore.services import Services
from bestbefore.web import create_web_app
from bot.app import SlackBot, build_slack_bot

log = logging.getLogger("bestbefore.serve")


def app_token(services: Services) -> str | None:
    token = services.settings.slack_app_token
    return token.get_secret_value() if token is not None and token.get_secret_value() else None


def start_socket_mode(bot: SlackBot, token: str) -> SocketModeHandler:
    """Connect the bot to Slack over Socket Mode (``apps.connections.open`` via ``SLACK_API_URL`` if set)."""
    handler = SocketModeHandler(bot.app, app_token=token, web_client=bot.app.client)
    handler.connect()
    return handler


def run_server(
    services: Services, *, host: str = "0.0.0.0", port: int = 3000, extra_routes: Sequence[BaseRoute] = ()
) -> None:
    """Serve until interrupted. Raises ``ConfigError`` (naming the variable to set) when Slack is not configured."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    token = app_token(services)
    bot = build_slack_bot(
        services.settings,
        services,
        socket_mode=token is not None,
        claims=services.event_claims,
        client=services.require_slack(),
        limits=services.question_limits,
    )
    handler: SocketModeHandler | None = None
    try:
        if token is not None:
            handler = start_socket_mode(bot, token)
            start_metrics_port(services)  # Prometheus on [monitoring] metrics_port (0 = off)
            log.info("Connected to Slack over Socket Mode; /healthz on %s:%d", host, port)
            web = create_web_app(services, slack_app=None, extra_routes=extra_routes)
        else:
            log.info("Receiving Slack events on http://%s:%d/slack/events", host, port)
            web = create_web_app(services, slack_app=bot.app, extra_routes=extra_routes)
        uvicorn.run(web, host=host, port=port, log_level="info", log_config=uvicorn_log_config())
    finally:
        if handler is not None:
            handler.close()
        bot.close(wait=False)
