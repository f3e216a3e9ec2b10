"""One time budget for everything a provider does for one answer (embed, rerank, chat together).

The answering pipeline opens ``answer_budget(seconds)`` around one answer; provider clients ask
:func:`budget_left` before each attempt and never wait or retry past it. Outside a budget (ingest, evaluation)
only each call's own deadline applies. A context variable, so concurrent answers on other threads each have
their own budget.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_ends_at: ContextVar[float | None] = ContextVar("bestbefore_answer_budget", default=None)


@contextmanager
def answer_budget(seconds: float | None) -> Iterator[None]:
    """Provider calls inside this block share ``seconds`` (None: no budget)."""
    if seconds is None:
        yield
        return
    token = _ends_at.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _ends_at.reset(token)


def budget_left() -> float | None:
    """Seconds left in the current answer's budget (may be <= 0), or None outside a budget."""
    ends_at = _ends_at.get()
    return None if ends_at is None else ends_at - time.monotonic()
