"""The one fan-out of what happens on the reply path: answers (with their cache hits, misses and outages) and votes
go to one :class:`Observers` list (the query ledger, the metrics, Langfuse), built once by the composition root.

An observer implements ``record_answer(answer, context)``, ``on_vote(vote)`` or both;
each event reaches the members that implement its method, in order. A failing observer is logged and never fails
the answer, the vote or the cache call that it observes. Imports only ``rag.models``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

from rag.models import Answer, AskContext, Vote

log = logging.getLogger(__name__)


@runtime_checkable
class AnswerObserver(Protocol):
    """Sees every answer with the context it was asked in (the ledger, metrics, Langfuse)."""

    def record_answer(self, answer: Answer, context: AskContext) -> None: ...


@runtime_checkable
class VoteObserver(Protocol):
    """Told about each vote after it is stored (metrics, Langfuse scores)."""

    def on_vote(self, vote: Vote) -> None: ...


class Observers(list[object]):
    """The observers of one process, in the order they are told."""

    @classmethod
    def of(cls, members: Iterable[object]) -> Observers:
        return members if isinstance(members, Observers) else cls(members)

    def answer(self, answer: Answer, context: AskContext) -> None:
        for member in self._implementing(AnswerObserver):
            try:
                member.record_answer(answer, context)
            except Exception:  # an observer must never fail an answer
                log.exception("observer %s failed for answer %s", type(member).__name__, answer.answer_id)

    def vote(self, vote: Vote) -> None:
        for member in self._implementing(VoteObserver):
            try:
                member.on_vote(vote)
            except Exception:  # an observer must never lose a stored vote
                log.exception("observer %s failed for a vote on %s", type(member).__name__, vote.answer_id)

    def _implementing(self, protocol: type) -> Sequence:  # type: ignore[type-arg]
        return [member for member in self if isinstance(member, protocol)]
