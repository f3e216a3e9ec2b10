"""Block Kit for the bot's replies: an ``Answer`` (text, sources with ages, ⚠ staleness warning, 👍/👎 feedback
buttons beside the reactions footer),
the placeholder, the help text and the friendly error — each with the plain ``text`` fallback for notifications.

Everything taken from documents is escaped (``&``, ``<``, ``>``), so a doc can never ping ``<!channel>`` or
smuggle in a link. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.mrkdwn import Block, escape
from bot.review_blocks import stale_doc_actions
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

FEEDBACK_ACTION = "answer_feedback"
FEEDBACK_BLOCK_PREFIX = "feedback:"
FEEDBACK_VALUES = {"positive_feedback": 1, "negative_feedback": -1}


@dataclass(frozen=True)
class Reply:
    """What ``chat.postMessage`` / ``chat.update`` get: the notification text and the blocks."""

    text: str
    blocks: list[Block]


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
    """ "updated 2 days ago"; "verified still accurate 2 days ago" when someone confirmed the doc since (its clock
    restarted, the verification vouches for the whole page); or with an older cited passage "page updated 3 Dec; the
    cited passage is from March 2022"."""
    if ref.verified_at is not None:
        return f"verified still accurate {human_age(timedelta(days=ref.age_days))}"
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
    if ref.open_flags:
        line += f" 🚩 reported outdated ({ref.open_flags})"
    return line


def truncation_note(original_chars: int, kept_chars: int) -> str:
    return f"ℹ️ Your message was {original_chars:,} characters long; I only read the first {kept_chars:,}."


def answer_reply(answer: Answer, *, note: str | None = None, with_text: bool = True) -> Reply:
    """The full answer message (``with_text=False``: without the answer text, which was streamed already)."""
    blocks: list[Block] = [_section(piece) for piece in _split(escape(answer.text))] if with_text else []
    if note:
        blocks.append(_context(escape(note)))
    if answer.stale_warning:
        blocks.append(_context(f"⚠️ *Possibly out of date:* {escape(answer.stale_warning)}"))
        blocks.extend(stale_doc_actions(answer.sources))
    lines = []
    cited_number = 0
    for ref in shown_sources(answer):
        if ref.cited:
            cited_number += 1
        lines.append(source_line(cited_number if ref.cited else None, ref))
    if lines:
        heading = "*Closest sources*" if answer.refused else "*Sources*"
        blocks.append(_section(heading + "\n" + "\n".join(lines)))
    blocks.append(_context(f"Was this helpful? Press a button or react with :+1: or :-1: · ref `{answer.answer_id}`"))
    blocks.append(feedback_block(answer.answer_id))
    return Reply(text=_fallback(answer), blocks=blocks)


def _feedback_button(emoji: str, label: str, value: str) -> Block:
    return {"text": {"type": "plain_text", "text": emoji}, "accessibility_label": label, "value": value}


def feedback_block(answer_id: str) -> Block:
    """Slack's native feedback buttons (a ``context_actions`` block); the block id carries the answer id."""
    return {
        "type": "context_actions",
        "block_id": FEEDBACK_BLOCK_PREFIX + answer_id,
        "elements": [
            {
                "type": "feedback_buttons",
                "action_id": FEEDBACK_ACTION,
                "positive_button": _feedback_button("👍", "This answer was helpful", "positive_feedback"),
                "negative_button": _feedback_button("👎", "This answer was not helpful", "negative_feedback"),
            }
        ],
    }


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
