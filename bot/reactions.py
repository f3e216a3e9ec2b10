"""Reactions on the bot's answers as feedback: 👍 = +1, 👎 = -1 (configurable), one vote per user per answer.

The latest reaction (or feedback button, :mod:`bot.feedback_buttons`) wins; removing the reaction behind a user's
current vote retracts it (value 0). Reactions on any message that is not one of the bot's answers are ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.runtime import BotIdentity, BotRuntime
from bot.votes import retract_reaction, store_vote
from rag.config import SlackConfig
from rag.ledger.feedback import Vote


def vote_value(reaction: str, config: SlackConfig) -> int | None:
    """+1 / -1 for a feedback reaction (any skin tone), None for every other reaction."""
    name = reaction.split("::", 1)[0]
    if name in config.positive_reactions:
        return 1
    if name in config.negative_reactions:
        return -1
    return None


def event_time(event: Mapping[str, Any]) -> datetime:
    try:
        return datetime.fromtimestamp(float(event["event_ts"]), UTC)
    except (KeyError, TypeError, ValueError):
        return datetime.now(UTC)


def handle_reaction(
    event: Mapping[str, Any],
    runtime: BotRuntime,
    *,
    added: bool,
    identity: BotIdentity,
    logger: logging.Logger,
) -> Vote | None:
    """Store the vote a reaction event means; returns it (None when the event is not feedback)."""
    item = event.get("item") or {}
    user = event.get("user")
    if item.get("type") != "message" or not user or user == identity.user_id:
        return None
    value = vote_value(str(event.get("reaction") or ""), runtime.config.slack)
    if value is None:
        return None
    feedback = runtime.services.feedback
    answer_id = feedback.answer_for_message(str(item.get("channel")), str(item.get("ts")))
    if answer_id is None:
        return None
    if not added:
        return retract_reaction(feedback, answer_id, str(user), value, event_time(event), logger=logger)
    return store_vote(feedback, answer_id, str(user), value, event_time(event), logger=logger)
