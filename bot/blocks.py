"""Block Kit for the bot's replies: an ``Answer`` (text, sources with ages, ⚠ staleness warning, 👍/👎 footer),
the placeholder, the help text and the friendly error — each with the plain ``text`` fallback for notifications.

Everything taken from documents is escaped (``&``, ``<``, ``>``), so a doc can never ping ``<!channel>`` or
smuggle in a link. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from rag.answer.staleness import passage_note
from rag.durations import human_age, human_span
from rag.models import Answer, SourceRef

PLACEHOLDER = "Searching the docs…"
SECTION_LIMIT = 3000  # Slack's maximum for a section's text
FALLBACK_LIMIT = 3500
HELP = (
    "Ask me a question about the team's docs — for example "
    "`@bestbefore how many vacation days do contractors get?` — and I'll answer from the documents, "
    "link them, and tell you when they're past their review date. "
    "In a thread where I answered, mention me again for a follow-up."
)

Block = dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """What ``chat.postMessage`` / ``chat.update`` get: the notification text and the blocks."""

    text: str
    blocks: list[Block]


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _split(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Cut text into pieces of at most ``limit`` characters, at whitespace where possible."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind(" ", 0, limit)
        cut = cut if cut > limit // 2 else limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


def updated_phrase(ref: SourceRef) -> str:
    """ "updated 2 days ago", or with an older cited passage "page updated 3 Dec; the cited passage is from March
    2022"."""
    note = passage_note(ref)
    if note is None:
        return f"updated {human_age(timedelta(days=ref.age_days))}"
    return f"page updated {ref.updated_at.day} {ref.updated_at:%b}; {note}"


def source_line(number: int | None, ref: SourceRef) -> str:
    title = escape(ref.title)
    link = f"<{ref.url.replace('|', '%7C').replace('>', '%3E')}|{title}>" if ref.url else f"*{title}*"
    label = f"{number}." if number is not None else "•"
    line = f"{label} {link} — {updated_phrase(ref)}"
    if ref.stale:
        line += f" ⚠ past the review limit of {human_span(timedelta(days=ref.threshold_days))}"
    return line


def truncation_note(original_chars: int, kept_chars: int) -> str:
    return f"ℹ️ Your message was {original_chars:,} characters long; I only read the first {kept_chars:,}."


def answer_reply(answer: Answer, *, note: str | None = None) -> Reply:
    """The full answer message."""
    blocks: list[Block] = [_section(piece) for piece in _split(escape(answer.text))]
    if note:
        blocks.append(_context(escape(note)))
    if answer.stale_warning:
        blocks.append(_context(f"⚠️ *Possibly out of date:* {escape(answer.stale_warning)}"))
    lines = []
    cited_number = 0
    for ref in shown_sources(answer):
        if ref.cited:
            cited_number += 1
        lines.append(source_line(cited_number if ref.cited else None, ref))
    if lines:
        heading = "*Closest sources*" if answer.refused else "*Sources*"
        blocks.append(_section(heading + "\n" + "\n".join(lines)))
    blocks.append(_context(f"Was this helpful? React with :+1: or :-1: · ref `{answer.answer_id}`"))
    return Reply(text=_fallback(answer), blocks=blocks)


def shown_sources(answer: Answer) -> tuple[SourceRef, ...]:
    """An answer lists the docs it cites; a refusal (or an answer citing nothing) the closest ones."""
    cited = tuple(ref for ref in answer.sources if ref.cited)
    return cited if cited and not answer.refused else answer.sources


def _fallback(answer: Answer) -> str:
    parts = [answer.text]
    if answer.stale_warning:
        parts.append(f"⚠ {answer.stale_warning}")
    if sources := shown_sources(answer):
        label = "Closest sources" if answer.refused else "Sources"
        parts.append(f"{label}: " + "; ".join(f"{ref.title} ({updated_phrase(ref)})" for ref in sources))
    text = escape("\n".join(parts))
    return text if len(text) <= FALLBACK_LIMIT else text[: FALLBACK_LIMIT - 1] + "…"


def placeholder_reply() -> Reply:
    return Reply(text=PLACEHOLDER, blocks=[_context(f":mag: {PLACEHOLDER}")])


def help_reply() -> Reply:
    return Reply(text=HELP, blocks=[_section(HELP)])


INDEX_UNAVAILABLE = (
    "The document index is unavailable right now, so I can't search the docs. Please try again in a few minutes."
)


def index_unavailable_reply() -> Reply:
    return Reply(text=INDEX_UNAVAILABLE, blocks=[_section(INDEX_UNAVAILABLE)])


def error_reply(reference: str) -> Reply:
    text = (
        "Sorry — something went wrong while I was answering. "
        f"Please try again in a moment; if it keeps happening, give the admins this reference: `{reference}`."
    )
    return Reply(text=text, blocks=[_section(text)])
