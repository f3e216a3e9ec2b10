"""The agent messaging experience (``features.agent_view``): a greeting with suggested prompts when someone opens
the app's Messages tab, and the channel they are viewing beside it (``app_context_changed``) choosing the sources
for their DMs. The DM itself is answered by :mod:`bot.answering` (in its thread, with a loading status).

Uses what slack-bolt injects for these events (``set_suggested_prompts``); Bolt's ``Assistant`` class is for the
older ``assistant_view`` and is not used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.runtime import BotRuntime

GREETING = (
    "Hi! I answer questions from the team's own docs, link the ones I used, and tell you when they are past their "
    "review date. Ask me anything — each question gets its own thread."
)
PROMPTS_TITLE = "Popular questions"
DEFAULT_PROMPTS = [
    "Which of our docs are past their review date?",
    "How do I set up the VPN?",
    "How many days of paid holiday do employees get?",
]
PROMPT_WINDOW = timedelta(days=30)
PROMPT_TITLE_LIMIT = 75
CHANNEL_ENTITY = "slack#/types/channel_id"


def suggested_prompts(runtime: BotRuntime, now: datetime) -> list[dict[str, str]]:
    """The most-asked questions of the last 30 days (asked by two people or more), else a few examples."""
    questions = runtime.services.ledger.most_asked(now - PROMPT_WINDOW, limit=4) or DEFAULT_PROMPTS
    return [{"title": q if len(q) <= PROMPT_TITLE_LIMIT else q[: PROMPT_TITLE_LIMIT - 1] + "…", "message": q}
            for q in questions]  # fmt: skip


def greet(
    event: dict[str, Any],
    client: WebClient,
    runtime: BotRuntime,
    *,
    set_prompts: Callable[..., Any] | None,
    team: str | None,
    logger: logging.Logger,
) -> bool:
    """A short greeting, once per person ever, and the suggested prompts (where the workspace has them)."""
    user, channel = str(event.get("user") or ""), str(event.get("channel") or "")
    now = datetime.now(UTC)
    if not user or not channel or not runtime.services.ledger.claim_greeting(user, now):
        return False
    client.chat_postMessage(channel=channel, text=GREETING)
    if not runtime.agent.available(team):
        return True
    prompts = suggested_prompts(runtime, now)
    try:
        if set_prompts is not None:
            set_prompts(prompts=prompts, title=PROMPTS_TITLE)
        else:
            client.assistant_threads_setSuggestedPrompts(channel_id=channel, prompts=prompts, title=PROMPTS_TITLE)
    except SlackApiError as exc:
        logger.info("no suggested prompts for %s: %s", user, exc.response.get("error"))
    return True


def viewed_channel(event: dict[str, Any]) -> str | None:
    """The channel among ``app_context_changed``'s entities (ordered by relevance), or None."""
    entities = (event.get("context") or {}).get("entities") or []
    return next((str(e["value"]) for e in entities if e.get("type") == CHANNEL_ENTITY and e.get("value")), None)


def register(app: App, runtime: BotRuntime) -> None:
    @app.event("app_home_opened", matchers=[lambda event: (event or {}).get("tab") == "messages"])
    def greet_in_messages_tab(
        event: dict[str, Any], client: WebClient, context: dict[str, Any], logger: logging.Logger
    ) -> None:
        greet(event, client, runtime, set_prompts=context.get("set_suggested_prompts"), team=context.get("team_id"),
              logger=logger)  # fmt: skip

    @app.event("app_context_changed")
    def follow_viewed_channel(event: dict[str, Any], body: dict[str, Any], logger: logging.Logger) -> None:
        user = event.get("user") or next((a.get("user_id") for a in body.get("authorizations") or []), None)
        if user:
            runtime.agent.view(str(user), viewed_channel(event))
            logger.debug("%s is viewing %s", user, viewed_channel(event))
