"""Durations written like ``90d``, ``18mo``, ``2y``, ``24h`` and their human wording. Pure."""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta

_UNITS = {
    "s": timedelta(seconds=1),
    "min": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
    "mo": timedelta(days=30.436875),
    "y": timedelta(days=365.2425),
}
_PERIOD = re.compile(r"^\s*(\d+)\s*(day|week|month|year)s?\s*$", re.I)
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|min|h|d|w|mo|y)\s*$", re.IGNORECASE)
LONGEST = timedelta(days=365.2425 * 1000)  # "1000y": dates stay within what datetime and the databases can hold


def parse_duration(text: str | int | float) -> timedelta:
    """``"90d"`` -> 90 days. A bare number means days. Raises ValueError with the accepted units.

    Durations longer than :data:`LONGEST` (1000 years) are refused with a ValueError, never an ``OverflowError``.
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        amount, unit = float(text), _UNITS["d"]
    else:
        match = _PATTERN.match(str(text))
        if not match:
            raise ValueError(
                f"{text!r} is not a duration; write a number and a unit: s, min, h, d, w, mo or y (e.g. 90d, 18mo, 2y)"
            )
        amount, unit = float(match.group(1)), _UNITS[match.group(2).lower()]
    if not amount * unit.total_seconds() <= LONGEST.total_seconds():  # also false for nan and inf
        raise ValueError(f"{text!r} is too long; the longest duration is 1000y")
    return amount * unit


def parse_positive_duration(text: str | int | float) -> timedelta:
    """:func:`parse_duration`, refusing zero (a threshold, TTL or window of no time at all is a mistake)."""
    span = parse_duration(text)
    if span <= timedelta(0):
        raise ValueError(f"{text!r} is zero; write a length of time such as 90d, 18mo or 2y")
    return span


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def human_span(delta: timedelta) -> str:
    """``timedelta(days=548)`` -> ``"18 months"``; days under two months, months under two years, then years."""
    days = max(0, int(delta.total_seconds() // 86400))
    if days < 1:
        hours = max(0, int(delta.total_seconds() // 3600))
        return _plural(hours, "hour") if hours else "less than an hour"
    if days < 60:
        return _plural(days, "day")
    months = round(days / 30.436875)
    if months < 24:
        return _plural(months, "month")
    years = days / 365.2425
    return _plural(round(years), "year") if abs(years - round(years)) < 0.08 else _plural(months, "month")


def human_age(delta: timedelta) -> str:
    """``"18 months ago"``, ``"today"``."""
    if delta < timedelta(days=1):
        return "today"
    return f"{human_span(delta)} ago"


def add_period(moment: datetime, period: str) -> datetime:
    """``moment`` + ``"6 months"`` in calendar terms (Jan 31 + 1 month = Feb 28/29, as the tech-docs gem's Chronic
    does), or + a duration (``"90d"``). Raises ValueError for anything else."""
    match = _PERIOD.match(period)
    if match is None:
        return moment + parse_duration(period)
    count, unit = int(match.group(1)), match.group(2).lower()
    if unit in ("day", "week"):
        return moment + timedelta(days=count * (7 if unit == "week" else 1))
    index = moment.month - 1 + count * (12 if unit == "year" else 1)
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))
