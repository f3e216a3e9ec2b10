"""Reading Slack messages: which events to answer, the question in a message, a thread's earlier turns. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rag.models import Turn

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
MAX_HISTORY_TURNS = 8


@dataclass(frozen=True)
class Question:
    """The question in a message: mentions removed, Slack escapes undone, cut to the configured maximum."""

    text: str
    original_chars: int
    truncated: bool


def unescape(text: str) -> str:
    """Slack escapes ``&``, ``<`` and ``>`` in message text."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def strip_mentions(text: str, bot_user_id: str | None) -> str:
    """Remove mentions of the bot; other people's mentions stay (as plain ``@U123``)."""

    def replace(match: re.Match[str]) -> str:
        return "" if bot_user_id is None or match.group(1) == bot_user_id else f"@{match.group(1)}"

    return " ".join(_MENTION.sub(replace, text).split())


def parse_question(text: str, *, bot_user_id: str | None, max_chars: int) -> Question:
    cleaned = unescape(strip_mentions(text or "", bot_user_id))
    if len(cleaned) <= max_chars:
        return Question(cleaned, len(cleaned), truncated=False)
    return Question(cleaned[:max_chars].rstrip(), len(cleaned), truncated=True)


def is_from_bot(message: Mapping[str, Any], bot_user_id: str | None, bot_id: str | None = None) -> bool:
    """Written by this bot (its user id, or its bot id)."""
    return bool((bot_user_id and message.get("user") == bot_user_id) or (bot_id and message.get("bot_id") == bot_id))


def ignore_reason(
    event: Mapping[str, Any], *, bot_user_id: str | None, bot_id: str | None, ignore_bots: bool
) -> str | None:
    """Why a message event is not a question for the bot (None = answer it)."""
    if event.get("subtype"):
        return f"subtype {event['subtype']}"
    if is_from_bot(event, bot_user_id, bot_id):
        return "own message"
    if ignore_bots and (event.get("bot_id") or event.get("bot_profile")):
        return "another bot"
    if not event.get("user"):
        return "no user"
    return None


def reply_thread(event: Mapping[str, Any], *, is_dm: bool) -> str | None:
    """Where the answer goes: a mention is answered in its thread; a DM in place (in its thread, if it has one)."""
    thread_ts = event.get("thread_ts")
    if is_dm:
        return str(thread_ts) if thread_ts else None
    return str(thread_ts or event["ts"])


@dataclass(frozen=True)
class SlackQuestion:
    """A question asked in Slack, read once from its event: where and by whom, the thread it sits in, where the
    answer goes, and the question itself."""

    channel: str
    ts: str
    user: str
    thread_ts: str | None  # the thread the message is in (None at the top level)
    reply_thread: str | None  # where the placeholder and answer go
    is_dm: bool
    question: Question

    @property
    def is_thread_reply(self) -> bool:
        return bool(self.thread_ts) and self.thread_ts != self.ts

    @classmethod
    def from_event(
        cls, event: Mapping[str, Any], *, is_dm: bool, bot_user_id: str | None, max_chars: int
    ) -> SlackQuestion:
        thread_ts = event.get("thread_ts")
        return cls(
            channel=str(event.get("channel") or ""),
            ts=str(event["ts"]),
            user=str(event.get("user")),
            thread_ts=str(thread_ts) if thread_ts else None,
            reply_thread=reply_thread(event, is_dm=is_dm),
            is_dm=is_dm,
            question=parse_question(str(event.get("text") or ""), bot_user_id=bot_user_id, max_chars=max_chars),
        )


def is_thread_reply(event: Mapping[str, Any]) -> bool:
    thread_ts = event.get("thread_ts")
    return bool(thread_ts) and thread_ts != event.get("ts")


ANSWER_EVENT = "bestbefore_answer"
METADATA_QUESTION_CHARS = 1000


def answer_metadata(answer_id: str, question: str) -> dict[str, Any]:
    """Slack message metadata on each answer: its id and the question it answers (for follow-ups in DMs, where
    the question is not part of the answer's thread)."""
    return {
        "event_type": ANSWER_EVENT,
        "event_payload": {"answer_id": answer_id, "question": question[:METADATA_QUESTION_CHARS]},
    }


def answered_question(message: Mapping[str, Any]) -> str | None:
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != ANSWER_EVENT:
        return None
    question = (metadata.get("event_payload") or {}).get("question")
    return str(question) if question else None


def thread_history(
    replies: Iterable[Mapping[str, Any]], *, current_ts: str, bot_user_id: str | None, bot_id: str | None
) -> tuple[Turn, ...] | None:
    """The turns of a thread before ``current_ts``, or None when the bot has not answered in it (no follow-up)."""
    now = ts_key(current_ts)
    earlier = [m for m in replies if ts_key(str(m.get("ts") or "0")) < now]
    if not any(is_from_bot(m, bot_user_id, bot_id) for m in earlier):
        return None
    turns: list[Turn] = []
    for message in earlier:
        text = str(message.get("text") or "")
        if is_from_bot(message, bot_user_id, bot_id):
            question = answered_question(message)
            if question and not (turns and turns[-1] == Turn("user", question)):
                turns.append(Turn("user", question))
            turns.append(Turn("assistant", unescape(text)))
        elif not message.get("subtype") and not message.get("bot_id"):
            question = unescape(strip_mentions(text, bot_user_id))
            if question:
                turns.append(Turn("user", question))
    return tuple(turns[-MAX_HISTORY_TURNS:])


def ts_key(ts: str) -> tuple[int, int]:
    """A Slack ts (``"1700000000.000100"``) as an exactly comparable pair (floats lose the last digits)."""
    seconds, _, micros = ts.partition(".")
    try:
        return int(seconds), int(micros.ljust(6, "0")[:6] or 0)
    except ValueError:
        return 0, 0
