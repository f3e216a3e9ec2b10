"""The wall clock, in one place: ``utcnow()`` and the ``Clock`` type that code takes to be testable without it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """Now, timezone-aware in UTC."""
    return datetime.now(UTC)
