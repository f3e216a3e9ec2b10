"""After every refresh, Slack threads whose answer cited a doc that changed (or was removed) hear about it once.

:class:`ChangeNotifier` is the :class:`rag.index.indexing.AfterRefresh` hook the composition root gives the one
refresh path, so the CLI, the scheduler and the webhook all notify. It computes data only: which threads, which
changes (:func:`plan_notices`, pure), which fit under the caps (:func:`within_caps`, pure); the bot's publisher words
and posts the reply.

Crash safety: the intent is recorded in the ledger before anything is posted; each row is claimed before its post
and marked posted after it; a claim whose run died is checked against the thread (the reply carries the changes'
keys in its metadata) before it is posted again. So a restart neither loses nor doubles a notice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from jobs.ports import SlackPublisher
from rag.config import ChannelConfig, NoticesConfig
from rag.durations import parse_duration
from rag.ledger.change_notices import DEFERRED, PENDING, POSTING, ChangeNoticeLog, CitingAnswer, Notice
from rag.models import ContentChange

log = logging.getLogger(__name__)

Thread = tuple[str, str]  # (channel, thread ts)


class CitingAnswers(Protocol):
    """The query ledger as the notifier sees it."""

    def slack_answers_citing(self, doc_ids: Sequence[str], since: datetime, until: datetime) -> list[CitingAnswer]: ...


def plan_notices(changes: Sequence[ContentChange], answers: Sequence[CitingAnswer]) -> list[Notice]:
    """One notice per (thread, changed doc) for threads whose answers cited it; the thread's latest such answer
    names it. "Changed on" is the new version's own date when it is after that answer, else when it was seen."""
    by_doc = {change.doc_id: change for change in changes}
    found: dict[tuple[str, str, str], Notice] = {}
    for answer in sorted(answers, key=lambda a: a.created_at):
        for doc_id in sorted(answer.cited & by_doc.keys()):
            change = by_doc[doc_id]
            own = change.updated_at
            changed_at = own if own is not None and answer.created_at < own <= change.seen_at else change.seen_at
            found[(answer.channel, answer.thread, doc_id)] = Notice(
                channel=answer.channel, thread=answer.thread, doc_id=doc_id, version=change.version,
                answer_id=answer.answer_id, source=change.source, title=change.title, url=change.url,
                removed=change.removed, changed_at=changed_at, detected_at=change.seen_at,
            )  # fmt: skip
    return list(found.values())


def by_thread(notices: Sequence[Notice]) -> dict[Thread, list[Notice]]:
    """Notices grouped per thread, threads in the order of their first notice (oldest change first)."""
    groups: dict[Thread, list[Notice]] = {}
    for notice in notices:
        groups.setdefault((notice.channel, notice.thread), []).append(notice)
    return groups


def within_caps(threads: Sequence[Thread], *, per_run: int, per_channel: int) -> tuple[list[Thread], list[Thread]]:
    """(threads to notify, threads over a cap), in order: at most ``per_run`` in all, ``per_channel`` per channel."""
    chosen: list[Thread] = []
    over: list[Thread] = []
    per: dict[str, int] = {}
    for thread in threads:
        channel = thread[0]
        if len(chosen) < per_run and per.get(channel, 0) < per_channel:
            chosen.append(thread)
            per[channel] = per.get(channel, 0) + 1
        else:
            over.append(thread)
    return chosen, over


class ChangeNotifier:
    """The after-refresh hook: record the notices a refresh calls for, then post what is due within the caps."""

    def __init__(
        self,
        *,
        answers: CitingAnswers,
        notices: ChangeNoticeLog,
        publisher: SlackPublisher | None,
        config: NoticesConfig,
        channels: Mapping[str, ChannelConfig],
    ) -> None:
        self.answers = answers
        self.notices = notices
        self.publisher = publisher
        self.config = config
        self.channels = channels
        self.window = parse_duration(config.window)
        self.lease = parse_duration(config.claim_lease)

    def refreshed(self, changes: Sequence[ContentChange], *, now: datetime) -> int:
        """Record the notices ``changes`` call for, then post the due ones; returns the threads notified."""
        if not self.config.enabled:
            return 0
        if changes:
            seen = min(c.seen_at for c in changes)
            cited = self.answers.slack_answers_citing(sorted({c.doc_id for c in changes}), seen - self.window, seen)
            wanted = [a for a in cited if self._channel_wants(a.channel)]
            added = self.notices.record(plan_notices(changes, wanted))
            log.info("change notices: %d content changes, %d new notices recorded", len(changes), added)
        if self.publisher is None:  # recorded: a process with a Slack token posts them after its next refresh
            return 0
        return self._post_due(self.publisher, now)

    def _channel_wants(self, channel: str) -> bool:
        config = self.channels.get(channel)
        return config is None or (config.enabled and config.change_notices)

    def _post_due(self, publisher: SlackPublisher, now: datetime) -> int:
        groups = by_thread(self.notices.due(now, self.lease))
        recovering = [t for t, group in groups.items() if any(n.state == POSTING for n in group)]
        fresh = [t for t, group in groups.items() if t not in recovering and group[0].detected_at >= now - self.window]
        expired = [t for t in groups if t not in recovering and t not in fresh]
        chosen, over = within_caps(
            recovering + fresh, per_run=self.config.max_per_run, per_channel=self.config.max_per_channel
        )
        over = [t for t in over if t not in recovering]  # a claim that may have been posted is never deferred
        chosen += [t for t in recovering if t not in chosen]
        deferred = [n for t in over + expired for n in groups[t]]
        if deferred:
            self.notices.set_state(deferred, DEFERRED)
            log.info("change notices: %d threads over the caps, left to the digest", len(over) + len(expired))
        return sum(self._notify(publisher, thread, groups[thread], now) for thread in chosen)

    def _notify(self, publisher: SlackPublisher, thread: Thread, group: list[Notice], now: datetime) -> int:
        """Claim the thread's notices, post one reply for them, mark them posted; 1 if a reply was posted."""
        claimed = [n for n in group if self.notices.claim(n, now, self.lease)]
        if not claimed:
            return 0  # another replica has them
        channel, ts = thread
        keys = [n.key for n in claimed]
        try:
            if any(n.state == POSTING for n in claimed):  # the run that claimed them died: did it post?
                posted = publisher.find_change_notice(channel, ts, keys)
                if posted is not None:
                    self.notices.mark_posted(claimed, posted, now)
                    return 0
            message_ts = publisher.post_change_notice(channel, ts, claimed)
        except Exception as exc:  # Slack outage, archived channel: retried after the next refresh
            self.notices.set_state(claimed, PENDING)
            log.warning("change notice in %s/%s not posted: %s", channel, ts, exc)
            return 0
        self.notices.mark_posted(claimed, message_ts, now)
        return 1
