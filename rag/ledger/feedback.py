"""Feedback on answers (👍 / 👎 reactions): one vote per user per answer, latest wins, removal retracts.

``FeedbackStore`` is what the Slack bot writes to; the query ledger implements it durably.
"""

from __future__ import annotations

from typing import Protocol

from rag.models import Vote as Vote  # re-exported: the record lives in rag.models


class FeedbackStore(Protocol):
    def link_message(self, answer_id: str, channel: str, message_ts: str) -> None:
        """Remember that the Slack message ``(channel, message_ts)`` carries answer ``answer_id``."""

    def answer_for_message(self, channel: str, message_ts: str) -> str | None:
        """The answer id behind a bot message, or None for any other message."""

    def record_vote(self, vote: Vote) -> None:
        """Store a user's vote on an answer (replacing that user's earlier vote; value 0 retracts it)."""

    def votes(self, answer_id: str) -> dict[str, int]:
        """user -> current vote (retracted votes left out)."""
