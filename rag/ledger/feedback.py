"""Feedback on answers (👍 / 👎 reactions): one vote per user per answer, latest wins, removal retracts.

``FeedbackStore`` is what the Slack bot writes to; the query ledger implements it durably, and
``InMemoryFeedbackStore`` is the process-local fallback used before a ledger exists (and in tests).
"""

from __future__ import annotations

import threading
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


class InMemoryFeedbackStore:
    def __init__(self) -> None:
        self._messages: dict[tuple[str, str], str] = {}
        self._votes: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()

    def link_message(self, answer_id: str, channel: str, message_ts: str) -> None:
        with self._lock:
            self._messages[(channel, message_ts)] = answer_id

    def answer_for_message(self, channel: str, message_ts: str) -> str | None:
        with self._lock:
            return self._messages.get((channel, message_ts))

    def record_vote(self, vote: Vote) -> None:
        with self._lock:
            votes = self._votes.setdefault(vote.answer_id, {})
            if vote.value == 0:
                votes.pop(vote.user, None)
            else:
                votes[vote.user] = vote.value

    def votes(self, answer_id: str) -> dict[str, int]:
        with self._lock:
            return dict(self._votes.get(answer_id, {}))
