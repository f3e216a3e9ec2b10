"""Votes on answers, from 👍 / 👎 reactions and from the native feedback buttons: both feed the same vote.

One vote per user per answer, the latest wins. A reaction's removal retracts the vote it cast; pressing the
feedback button that is already the user's vote retracts it. Every vote goes through the ``FeedbackStore`` (the
ledger), which passes it on to its listeners (metrics, the Langfuse score).
"""

from __future__ import annotations

import logging
from datetime import datetime

from rag.ledger.feedback import FeedbackStore, Vote


def store_vote(
    feedback: FeedbackStore, answer_id: str, user: str, value: int, at: datetime, *, logger: logging.Logger
) -> Vote:
    vote = Vote(answer_id=answer_id, user=user, value=value, at=at)
    feedback.record_vote(vote)
    logger.info("vote %+d by %s on answer %s", value, user, answer_id)
    return vote


def press_vote(
    feedback: FeedbackStore, answer_id: str, user: str, value: int, at: datetime, *, logger: logging.Logger
) -> Vote:
    """A feedback button press: ``value`` (+1 / -1), or a retraction when it already is the user's vote."""
    current = feedback.votes(answer_id).get(user)
    return store_vote(feedback, answer_id, user, 0 if current == value else value, at, logger=logger)


def retract_reaction(
    feedback: FeedbackStore, answer_id: str, user: str, value: int, at: datetime, *, logger: logging.Logger
) -> Vote | None:
    """A removed reaction retracts the user's vote only while it still is that vote (else nothing changes)."""
    if feedback.votes(answer_id).get(user) != value:
        return None
    return store_vote(feedback, answer_id, user, 0, at, logger=logger)
