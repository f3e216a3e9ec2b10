"""The native feedback buttons under every answer: a press is a vote, exactly like a 👍 / 👎 reaction.

Pressing the button that already is the user's vote retracts it. The vote is stored before the click is acked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from slack_bolt import App

from bot.blocks import FEEDBACK_ACTION, FEEDBACK_BLOCK_PREFIX, FEEDBACK_VALUES
from bot.runtime import BotRuntime
from bot.votes import press_vote
from rag.ledger.feedback import Vote


def action_time(action: Mapping[str, Any]) -> datetime:
    try:
        return datetime.fromtimestamp(float(action["action_ts"]), UTC)
    except (KeyError, TypeError, ValueError):
        return datetime.now(UTC)


def answer_of(body: Mapping[str, Any], action: Mapping[str, Any], runtime: BotRuntime) -> str | None:
    """The answer a press is about: from the block id, else the message it was pressed on."""
    block_id = str(action.get("block_id") or "")
    if block_id.startswith(FEEDBACK_BLOCK_PREFIX):
        return block_id.removeprefix(FEEDBACK_BLOCK_PREFIX) or None
    container = body.get("container") or {}
    channel, ts = container.get("channel_id"), container.get("message_ts")
    return runtime.services.feedback.answer_for_message(str(channel), str(ts)) if channel and ts else None


def handle_feedback_press(
    body: Mapping[str, Any], action: Mapping[str, Any], runtime: BotRuntime, *, logger: logging.Logger
) -> Vote | None:
    value = FEEDBACK_VALUES.get(str(action.get("value")))
    user = (body.get("user") or {}).get("id")
    answer_id = answer_of(body, action, runtime)
    if value is None or not user or answer_id is None:
        logger.info("ignoring a feedback press without a vote, a user or an answer")
        return None
    return press_vote(runtime.services.feedback, answer_id, str(user), value, action_time(action), logger=logger)


def register(app: App, runtime: BotRuntime) -> None:
    @app.action(FEEDBACK_ACTION)
    def record_feedback_press(
        ack: Callable[[], None], body: dict[str, Any], action: dict[str, Any], logger: logging.Logger
    ) -> None:
        handle_feedback_press(
            body, action, runtime, logger=logger
        )  # stored first: a crash before the ack loses no vote
        ack()
