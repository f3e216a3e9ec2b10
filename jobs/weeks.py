"""ISO weeks (``2026-W47``) in the schedule's timezone, and "the last time a cron schedule fired". Pure."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo

from apscheduler.triggers.cron import CronTrigger

from rag.errors import ConfigError

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def week_of(moment: datetime, tz: tzinfo) -> str:
    """The ISO week (``2026-W47``) that ``moment`` falls in, seen from ``tz``."""
    year, week, _ = moment.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


def week_bounds(week: str, tz: tzinfo) -> tuple[datetime, datetime]:
    """``[Monday 00:00, next Monday 00:00)`` of an ISO week in ``tz``. Raises ConfigError for a bad week name."""
    match = _WEEK.match(week.strip())
    if not match:
        raise ConfigError(f"{week!r} is not an ISO week; write it like 2026-W47")
    try:
        monday = date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError as exc:
        raise ConfigError(f"{week!r} is not an ISO week: {exc}") from exc
    start = datetime.combine(monday, time(0), tzinfo=tz)
    return start, datetime.combine(monday + timedelta(days=7), time(0), tzinfo=tz)


def shift_week(week: str, weeks: int, tz: tzinfo) -> str:
    start, _ = week_bounds(week, tz)
    return week_of(start + timedelta(weeks=weeks, hours=12), tz)


def reported_week(fired_at: datetime, tz: tzinfo) -> str:
    """A digest that fires in week W reports the completed week before it."""
    return shift_week(week_of(fired_at, tz), -1, tz)


_CRON_DAYS = {0: "sun", 1: "mon", 2: "tue", 3: "wed", 4: "thu", 5: "fri", 6: "sat", 7: "sun"}


def cron_trigger(expr: str, timezone: tzinfo | str) -> CronTrigger:
    """A CronTrigger from a standard crontab line.

    APScheduler 3.x numbers weekdays from Monday = 0, while crontab uses Sunday = 0: numeric weekdays are turned into
    names first, so ``0 9 * * 1`` means Monday as it does in crontab.
    """
    fields = expr.split()
    if len(fields) != 5:
        raise ConfigError(f"Schedule {expr!r} is not a cron expression (5 fields: minute hour day month weekday)")
    fields[4] = re.sub(r"(?<![/\d])\d+", lambda m: _CRON_DAYS.get(int(m.group()), m.group()), fields[4])
    try:
        return CronTrigger.from_crontab(" ".join(fields), timezone=timezone)
    except (ValueError, LookupError) as exc:
        raise ConfigError(f"Schedule {expr!r}: {exc}") from exc


def last_fire_time(trigger: CronTrigger, now: datetime, lookback: timedelta) -> datetime | None:
    """The latest time in ``(now - lookback, now]`` at which ``trigger`` fires, or None."""
    moment = trigger.get_next_fire_time(None, now - lookback)
    last: datetime | None = None
    steps = 0
    while moment is not None and moment <= now and steps < 10_000:
        last = moment
        moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
        steps += 1
    return last
