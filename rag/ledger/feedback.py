"""Feedback on answers (👍 / 👎 reactions): one vote per user per answer, latest wins, removal retracts.

``FeedbackStore`` is what the Slack bot writes to; the query ledger implements it durably.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Vote:
    answer_id: str
    user: str
    value: int  # +1 or -1; 0 = retracted
    at: datetime


class FeedbackListener(Protocol):
    """Told about each vote after it is stored (Langfuse scores, metrics)."""

    def on_vote(self, vote: Vote) -> None: ...


class FeedbackStore(Protocol):
    def link_message(self, answer_id: str, channel: str, message_ts: str) -> None:
        """Remember that the Slack message ``(channel, message_ts)`` carries answer ``answer_id``."""

    def answer_for_message(self, channel: str, message_ts: str) -> str | None:
        """The answer id behind a bot message, or None for any other message."""

    def record_vote(self, vote: Vote) -> None:
        """Store a user's vote on an answer (replacing that user's earlier vote; value 0 retracts it)."""

    def votes(self, answer_id: str) -> dict[str, int]:
        """user -> current vote (retracted votes left out)."""
