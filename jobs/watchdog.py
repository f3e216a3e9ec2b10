"""The staleness watchdog: stale docs ranked by how often answers cited them, and optional owner nudges by DM."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from jobs.digest import StaleDocLine, escape
from jobs.nudges import NudgeLog, crossing_of
from jobs.ports import SlackWeb
from rag.answer.staleness import StalenessPolicy, StaleSource, stale_sources
from rag.durations import human_span
from rag.models import DocMeta

log = logging.getLogger(__name__)

CITATION_WINDOW = timedelta(days=30)
_SLACK_USER = re.compile(r"^<?@?([UW][A-Z0-9]{2,})>?$")


@dataclass(frozen=True)
class RankedStale:
    stale: StaleSource
    citations: int  # answers citing the doc in the last 30 days

    def line(self) -> StaleDocLine:
        return StaleDocLine(
            title=self.stale.meta.title,
            url=self.stale.meta.url,
            age_days=self.stale.age.days,
            threshold_days=self.stale.threshold.days,
            citations=self.citations,
        )


@dataclass
class WatchdogReport:
    ranked: list[RankedStale]
    nudged: list[str] = field(default_factory=list)  # doc ids whose owner got a DM in this run
    unreachable: list[str] = field(default_factory=list)  # "doc_id: why" for owners we could not reach


def rank_stale(
    docs: Iterable[DocMeta], policy: StalenessPolicy, citations: dict[str, int], now: datetime
) -> list[RankedStale]:
    """Stale docs, most cited first (ties: the most overdue first). A stale doc nobody reads sinks to the bottom."""
    ranked = [RankedStale(s, citations.get(s.meta.doc_id, 0)) for s in stale_sources(policy, list(docs), now)]
    return sorted(ranked, key=lambda r: (-r.citations, -r.stale.overdue.total_seconds(), r.stale.meta.doc_id))


def nudge_text(item: RankedStale) -> str:
    meta = item.stale.meta
    title = f"<{meta.url}|{escape(meta.title)}>" if meta.url else f"*{escape(meta.title)}*"
    cited = f"cited in {item.citations} answer{'s' if item.citations != 1 else ''}" if item.citations else "not cited"
    return (
        f"Hi! You own {title} (`{escape(meta.path)}`). It was last updated {human_span(item.stale.age)} ago, past its "
        f"{human_span(item.stale.threshold)} limit, and was {cited} in the last 30 days. "
        "Could you review it and update its `last_reviewed` date (or the doc itself)?"
    )


def resolve_owner(owner: str, slack: SlackWeb) -> str | None:
    """A Slack user id from a front-matter ``owner``: an id as is, an e-mail via ``users.lookupByEmail``."""
    owner = owner.strip()
    match = _SLACK_USER.match(owner)
    if match:
        return match.group(1)
    if "@" in owner[1:] and " " not in owner:  # an e-mail; "@handle" is a display name, not looked up
        response = slack.users_lookupByEmail(email=owner)
        return str(response["user"]["id"])
    return None


def nudge_owners(
    ranked: Iterable[RankedStale], *, slack: SlackWeb, log_book: NudgeLog, now: datetime, report: WatchdogReport
) -> None:
    """DM each stale doc's owner, at most once per doc per threshold crossing (a failed DM is retried next run)."""
    for item in ranked:
        meta = item.stale.meta
        if not meta.owner:
            continue
        crossing = crossing_of(meta.updated_at)
        if not log_book.claim(meta.doc_id, crossing, meta.owner, now):
            continue
        try:
            if meta.owner.startswith("#"):  # owner_slack: "#team-channel" (GOV.UK page expiry): post in the channel
                slack.chat_postMessage(channel=meta.owner, text=nudge_text(item), unfurl_links=False)
                report.nudged.append(meta.doc_id)
                continue
            user = resolve_owner(meta.owner, slack)
            if user is None:
                report.unreachable.append(
                    f"{meta.doc_id}: owner {meta.owner!r} is neither a Slack id, a #channel nor an e-mail"
                )
                continue  # keep the claim: retrying cannot help until the front matter changes
            channel = slack.conversations_open(users=user)["channel"]["id"]
            slack.chat_postMessage(channel=channel, text=nudge_text(item), unfurl_links=False)
            report.nudged.append(meta.doc_id)
        except Exception as exc:  # Slack down, unknown e-mail, ...: try again at the next run
            log_book.release(meta.doc_id, crossing)
            report.unreachable.append(f"{meta.doc_id}: {type(exc).__name__}: {exc}")
            log.warning("could not nudge the owner of %s: %s", meta.doc_id, exc)
