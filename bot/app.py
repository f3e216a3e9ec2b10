"""Building the Slack app: ``build_slack_bot(settings, services)`` -> the Bolt ``App`` and its runtime (never at
import time).

One thread hand-off: Bolt verifies and de-duplicates each event (one claim) and runs its listener in the thread that
acks it (``process_before_response=True``); the listener only hands the event to the bot's own pool
(:class:`bot.runtime.BotWorkers`), where the placeholder and the answer are posted. A reaction is stored right in
the listener (a vote is one queued ledger write).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from slack_bolt import App
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.dedupe import EventClaims, dedupe_middleware, make_claims
from bot.listeners import register_listeners
from bot.runtime import BotRuntime, BotServices, BotWorkers
from rag.config import Settings
from rag.errors import ConfigError
from rag.limits.buckets import make_token_buckets
from rag.limits.questions import QuestionLimits

log = logging.getLogger("bestbefore.slack")

ANSWER_THREADS = 4


@dataclass
class SlackBot:
    """The Bolt app and what its listeners share (close it to stop the answer workers)."""

    app: App
    runtime: BotRuntime

    def close(self, *, wait: bool = True) -> None:
        self.runtime.close(wait=wait)


def web_client(settings: Settings) -> WebClient:
    """The Slack Web API client: ``SLACK_BOT_TOKEN``, and ``SLACK_API_URL`` instead of slack.com when set."""
    if settings.slack_bot_token is None or not settings.slack_bot_token.get_secret_value():
        raise ConfigError(
            "SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-…) from your Slack app's "
            "'OAuth & Permissions' page into .env (see README, 'Slack app')."
        )
    base_url = settings.slack_api_url.rstrip("/") + "/" if settings.slack_api_url else WebClient.BASE_URL
    client = WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=base_url)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    return client


def build_slack_bot(
    settings: Settings,
    services: BotServices,
    *,
    socket_mode: bool = False,
    claims: EventClaims | None = None,
    client: WebClient | None = None,
    limits: QuestionLimits | None = None,
    answer_threads: int = ANSWER_THREADS,
) -> SlackBot:
    """The Bolt app with the bot's listeners. HTTP mode needs ``SLACK_SIGNING_SECRET``; Socket Mode does not.

    ``client``, ``claims`` and ``limits`` come from the composition root (built once per process); without them the bot makes
    its own (tests, scripts)."""
    client = client if client is not None else web_client(settings)
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    if not secret:
        if not socket_mode:
            raise ConfigError(
                "SLACK_SIGNING_SECRET is not set: copy the Signing Secret from your Slack app's 'Basic Information' "
                "page into .env (or set SLACK_APP_TOKEN to use Socket Mode, which needs no public URL)."
            )
        secret = secrets.token_hex(32)  # Socket Mode requests are not signed; HTTP requests then never verify
    try:
        app = App(
            client=client,
            signing_secret=secret,
            process_before_response=True,  # listeners run in the acking thread and only hand the event over
            logger=log,
        )
    except OSError as exc:  # includes URLError: Slack (or SLACK_API_URL) unreachable
        raise ConfigError(f"Could not reach the Slack API at {client.base_url}: {exc}") from exc
    except (BoltError, SlackClientError) as exc:
        raise ConfigError(f"Slack did not accept SLACK_BOT_TOKEN (auth.test failed): {exc}") from exc
    runtime = BotRuntime(
        services=services,
        config=settings.app,
        claims=claims if claims is not None else make_claims(settings.redis_url),
        workers=BotWorkers(answer_threads),
        limits=limits
        if limits is not None
        else QuestionLimits(make_token_buckets(settings.redis_url), settings.app.limits),
    )
    app.use(dedupe_middleware(runtime.claims))
    register_listeners(app, runtime)
    return SlackBot(app=app, runtime=runtime)
