"""What the bot posts on its own initiative — the weekly digest (and its chart in the thread), owner nudges,
notices in a thread (the rate-limit notice) and change notices (a doc an answer cited changed) — with
all of its Block Kit, escaping and clipping here in ``bot/``, over the process's one ``WebClient``.

``jobs/`` computes the data and talks to Slack only through its ``jobs.ports.SlackPublisher`` protocol, which
:class:`SlackPublisher` implements (wired by the composition root). The content types below are protocols, so the
bot reads the jobs' records without importing ``jobs/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from slack_sdk import WebClient

from bot.blocks import SECTION_LIMIT, Block, escape
from bot.digest_channel import post_to_channel
from rag.durations import human_span
from rag.owners import owner_email, owner_slack_id

FIELDS_PER_SECTION = 10  # Slack's limit


class DigestFigure(Protocol):
    @property
    def label(self) -> str: ...
    @property
    def note(self) -> str: ...
    def shown(self) -> str: ...
    def change(self) -> str: ...


class StaleDoc(Protocol):
    @property
    def title(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def age_days(self) -> int: ...
    @property
    def threshold_days(self) -> int: ...
    @property
    def citations(self) -> int: ...
    @property
    def open_flags(self) -> int: ...


class ReviewContent(Protocol):
    """A verification or a flag during the week (``jobs.digest.ReviewLine``)."""

    @property
    def kind(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def user(self) -> str: ...
    @property
    def reason(self) -> str | None: ...


class JobFailureLine(Protocol):
    @property
    def job(self) -> str: ...
    @property
    def error(self) -> str: ...
    @property
    def at(self) -> datetime: ...


class SkippedFileLine(Protocol):
    @property
    def source(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def reason(self) -> str: ...


class DigestContent(Protocol):
    """The weekly digest's data (``jobs.digest.Digest``)."""

    @property
    def week(self) -> str: ...
    @property
    def since(self) -> datetime: ...
    @property
    def until(self) -> datetime: ...
    @property
    def figures(self) -> Sequence[DigestFigure]: ...
    @property
    def top_stale(self) -> Sequence[StaleDoc]: ...
    @property
    def refused_questions(self) -> Sequence[str]: ...
    @property
    def failures(self) -> Sequence[JobFailureLine]: ...
    @property
    def reviews(self) -> Sequence[ReviewContent]: ...
    @property
    def skipped_shown(self) -> Sequence[SkippedFileLine]: ...
    def skipped_note(self) -> str: ...
    def text(self) -> str: ...


class NudgeContent(Protocol):
    """One stale doc its owner is asked to review (``jobs.watchdog.OwnerNudge``)."""

    @property
    def owner(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def path(self) -> str: ...
    @property
    def age(self) -> timedelta: ...
    @property
    def threshold(self) -> timedelta: ...
    @property
    def citations(self) -> int: ...


class ChangeNoticeContent(Protocol):
    """One change a thread is told about (``rag.ledger.change_notices.Notice``)."""

    @property
    def title(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def source(self) -> str: ...
    @property
    def removed(self) -> bool: ...
    @property
    def changed_at(self) -> datetime: ...
    @property
    def key(self) -> str: ...


CHANGE_NOTICE_EVENT = "bestbefore_change_notice"


def clip(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters (whitespace folded, an ellipsis when cut)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clip_block(text: str, limit: int = SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _link(title: str, url: str | None) -> str:
    label = escape(clip(title, 80)).replace("|", "¦")
    return f"<{url}|{label}>" if url and "|" not in url and ">" not in url else f"*{label}*"


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip_block(text)}}


def _field(figure: DigestFigure) -> dict[str, str]:
    note = f" ({figure.note})" if figure.note else ""
    return {"type": "mrkdwn", "text": f"*{figure.label}*\n{figure.shown()}{note} · {figure.change()}"}


def digest_blocks(digest: DigestContent) -> list[Block]:
    """Block Kit: a header, figures as two-column fields (readable on a phone), then the lists."""
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"📊 bestbefore weekly digest · {digest.week}"}},
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"{digest.since:%a %d %b} – {digest.until:%a %d %b %Y} · vs the week before"}
            ],
        },
    ]
    fields = [_field(f) for f in digest.figures]
    for start in range(0, len(fields), FIELDS_PER_SECTION):
        blocks.append({"type": "section", "fields": fields[start : start + FIELDS_PER_SECTION]})
    if digest.top_stale:
        lines = [
            f"• {_link(d.title, d.url)} — cited {d.citations}× · {d.age_days} d old (limit {d.threshold_days} d)"
            + (f" · 🚩 reported outdated {d.open_flags}×" if d.open_flags else "")
            for d in digest.top_stale
        ]
        blocks += [{"type": "divider"}, _section("*Stale docs people still read*\n" + "\n".join(lines))]
    if digest.reviews:
        blocks.append(_section("*Doc reviews this week*\n" + "\n".join(review_line(r) for r in digest.reviews)))
    if digest.refused_questions:
        lines = [f"• {escape(clip(q, 150))}" for q in digest.refused_questions]
        blocks.append(_section("*Questions the docs could not answer*\n" + "\n".join(lines)))
    if digest.failures:
        lines = [f"• `{f.job}` {f.at:%a %H:%M}: {escape(clip(f.error, 200))}" for f in digest.failures]
        blocks.append(_section("*Job failures* :warning:\n" + "\n".join(lines)))
    if digest.skipped_shown:
        lines = [
            f"• `{escape(clip(f'{s.source}:{s.path}', 120))}` — {escape(clip(s.reason, 150))}"
            for s in digest.skipped_shown
        ]
        lines += [escape(digest.skipped_note())] if digest.skipped_note() else []
        blocks.append(_section("*Files refresh skipped*\n" + "\n".join(lines)))
    return blocks


def review_line(review: ReviewContent) -> str:
    icon, what = ("✅", "still accurate, says") if review.kind == "verified" else ("🚩", "reported outdated by")
    reason = f": “{escape(clip(review.reason, 150))}”" if review.reason else ""
    return f"• {icon} {_link(review.title, review.url)} {what} <@{escape(review.user)}>{reason}"


def nudge_text(nudge: NudgeContent) -> str:
    title = f"<{nudge.url}|{escape(nudge.title)}>" if nudge.url else f"*{escape(nudge.title)}*"
    cited = (
        f"cited in {nudge.citations} answer{'s' if nudge.citations != 1 else ''}" if nudge.citations else "not cited"
    )
    return (
        f"Hi! You own {title} (`{escape(nudge.path)}`). It was last updated {human_span(nudge.age)} ago, past its "
        f"{human_span(nudge.threshold)} limit, and was {cited} in the last 30 days. "
        "Could you review it and update its `last_reviewed` date (or the doc itself)?"
    )


def change_notice_text(notices: Sequence[ChangeNoticeContent]) -> str:
    """ "Heads-up: *Travel policy* changed on 3 Dec, after this answer. Ask again for an updated answer." """
    parts = [
        f"{_link(n.title, n.url)} was removed from {escape(n.source)}"
        if n.removed
        else f"{_link(n.title, n.url)} changed on {n.changed_at.day} {n.changed_at:%b}"
        for n in notices
    ]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"Heads-up: {listed}, after this answer. Ask again for an updated answer."


class SlackPublisher:
    """Posts the digest, its chart, owner nudges and notices in a thread through one ``WebClient``."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def post_digest(self, channel: str, digest: DigestContent) -> tuple[str, str]:
        """Post the digest; ``(channel id, ts)`` of the message (its thread takes the chart)."""
        response: Any = post_to_channel(self.client, channel, text=digest.text(), blocks=digest_blocks(digest))
        return str(response["channel"]), str(response["ts"])

    def attach_chart(self, channel: str, thread_ts: str, png: bytes, *, week: str) -> None:
        """Upload the week's chart into the digest's thread."""
        self.client.files_upload_v2(
            channel=channel,
            thread_ts=thread_ts,
            file=png,
            filename=f"bestbefore-{week}.png",
            title=f"Questions, 👍 rate and latency p95, {week}",
            alt_txt=f"Daily questions with the thumbs-up rate, and latency p95, for {week}",
        )

    def nudge_owner(self, nudge: NudgeContent) -> bool:
        """DM the doc's owner (a Slack id, or an e-mail looked up), or post in the owner's ``#channel`` (GOV.UK page
        expiry's ``owner_slack``). False when the owner names no Slack user or channel; Slack errors (unknown
        e-mail, outage) are raised, for a retry at the next run."""
        if nudge.owner.strip().startswith("#"):
            self.client.chat_postMessage(channel=nudge.owner.strip(), text=nudge_text(nudge), unfurl_links=False)
            return True
        user = self._user_of(nudge.owner)
        if user is None:
            return False
        channel = self.client.conversations_open(users=user)["channel"]["id"]
        self.client.chat_postMessage(channel=channel, text=nudge_text(nudge), unfurl_links=False)
        return True

    def post_notice(self, channel: str, thread_ts: str | None, text: str) -> None:
        """A short notice in a thread (e.g. "try again in 40 s"); ``text`` is escaped here."""
        self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=escape(text), unfurl_links=False)

    def post_change_notice(self, channel: str, thread_ts: str, notices: Sequence[ChangeNoticeContent]) -> str:
        """One reply in the answer's thread; the changes' keys go in its metadata (see ``find_change_notice``)."""
        response: Any = self.client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            text=change_notice_text(notices),
            unfurl_links=False,
            metadata={"event_type": CHANGE_NOTICE_EVENT, "event_payload": {"changes": [n.key for n in notices]}},
        )
        return str(response["ts"])

    def find_change_notice(self, channel: str, thread_ts: str, keys: Sequence[str]) -> str | None:
        """The ts of a change notice already in the thread that carries any of ``keys``, else None."""
        wanted = set(keys)
        cursor: str | None = None
        while True:
            page: Any = self.client.conversations_replies(
                channel=channel, ts=thread_ts, include_all_metadata=True, limit=200, cursor=cursor
            )
            for message in page.get("messages", []):
                metadata = message.get("metadata") or {}
                if metadata.get("event_type") == CHANGE_NOTICE_EVENT and wanted & set(
                    (metadata.get("event_payload") or {}).get("changes", [])
                ):
                    return str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None

    def _user_of(self, owner: str) -> str | None:
        if user := owner_slack_id(owner):
            return user
        if email := owner_email(owner):  # an e-mail; "@handle" is a display name, not looked up
            return str(self.client.users_lookupByEmail(email=email)["user"]["id"])
        return None
