"""Which dates a document may be trusted with: a date in the future or one that is not a date is never used.

A front-matter ``last_reviewed: 2031-01-01`` would make a page look fresh for years, and a quoted ``"yesterday"``
or ``2024-02-30`` used to stop the whole ingest. Both are now reported as a warning naming the file, the key and the
value, and the document is dated by the next rule (git, then the first time its text was seen) — never silently
"today".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rag.ingest.readers import DATE_KEYS, parse_date_value

CLOCK_SKEW = timedelta(days=1)  # a date up to a day ahead is a time zone or a slow clock, not a lie
_MAX_SHOWN = 60  # characters of a bad value quoted in a warning


@dataclass(frozen=True)
class TrustedDate:
    """The date to use (None: fall back to the next rule) and why other dates were not trusted."""

    moment: datetime | None
    warnings: tuple[str, ...] = ()

    @property
    def warning(self) -> str | None:
        return "; ".join(self.warnings) or None


def front_matter_date(meta: Mapping[str, Any], now: datetime) -> TrustedDate:
    """The first trustworthy ``last_reviewed`` / ``updated`` / ``date`` (keys compared case-insensitively)."""
    lowered = {key.lower(): (key, value) for key, value in meta.items()}
    warnings: list[str] = []
    for name in DATE_KEYS:
        if name not in lowered:
            continue
        key, value = lowered[name]
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        moment = parse_date_value(value)
        if moment is None:
            warnings.append(f"{key}: {_shown(value)} is not a date (write YYYY-MM-DD); not used")
        elif future(moment, now):
            warnings.append(f"{key}: {moment:%Y-%m-%d} is in the future; not used")
        else:
            return TrustedDate(moment, tuple(warnings))
    return TrustedDate(None, tuple(warnings))


def future(moment: datetime, now: datetime) -> bool:
    """Later than ``now`` plus a day of clock skew."""
    return moment > now + CLOCK_SKEW


def _shown(value: object) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"
