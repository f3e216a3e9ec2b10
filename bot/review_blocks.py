"""Block Kit for acting on a stale doc: the "✅ Still accurate" / "🚩 Report outdated" buttons, the report modal,
and the owner's notices. Everything taken from documents or people is escaped. Pure.
"""

from __future__ import annotations

import json
from typing import Any

from bot.mrkdwn import Block, escape
from rag.models import DocMeta, SourceRef

VERIFY_ACTION = "doc_still_accurate"
FLAG_ACTION = "doc_report_outdated"
FLAG_MODAL = "doc_report_outdated_modal"
REASON_BLOCK = "reason"
REASON_ACTION = "reason"
MAX_REASON_CHARS = 500
MAX_REVIEWED_DOCS = 3  # button rows under one answer
BUTTON_TEXT_LIMIT = 75


def _button(text: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": text[:BUTTON_TEXT_LIMIT], "emoji": True},
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def review_actions(doc_id: str, title: str, *, position: int = 0, named: bool = False) -> Block:
    """One row of buttons for a doc; ``named`` puts its title on them (several stale docs under one answer)."""
    suffix = f": {title}" if named else ""
    return {
        "type": "actions",
        "block_id": f"doc_review_{position}",
        "elements": [
            _button(f"✅ Still accurate{suffix}", VERIFY_ACTION, doc_id, style="primary"),
            _button(f"🚩 Report outdated{suffix}", FLAG_ACTION, doc_id),
        ],
    }


def stale_doc_actions(sources: tuple[SourceRef, ...]) -> list[Block]:
    """Button rows for the cited docs past their threshold (what the ⚠ block names)."""
    stale = [ref for ref in sources if ref.cited and ref.stale][:MAX_REVIEWED_DOCS]
    return [review_actions(ref.doc_id, ref.title, position=n, named=len(stale) > 1) for n, ref in enumerate(stale)]


def doc_link(meta: DocMeta) -> str:
    title = escape(meta.title)
    return f"<{meta.url.replace('|', '%7C').replace('>', '%3E')}|{title}>" if meta.url else f"*{title}*"


def flag_modal(meta: DocMeta, *, channel: str | None, thread: str | None) -> dict[str, Any]:
    """The "Report outdated" modal: an optional short reason (``views.open``)."""
    return {
        "type": "modal",
        "callback_id": FLAG_MODAL,
        "private_metadata": json.dumps({"doc_id": meta.doc_id, "channel": channel, "thread": thread}),
        "title": {"type": "plain_text", "text": "Report outdated"},
        "submit": {"type": "plain_text", "text": "Report"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"🚩 {doc_link(meta)} is out of date?"}},
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "What is wrong? (optional)"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_ACTION,
                    "multiline": True,
                    "max_length": MAX_REASON_CHARS,
                },
            },
        ],
    }


def owner_message(text: str, meta: DocMeta) -> tuple[str, list[Block]]:
    """A DM to a doc's owner: the text, and the buttons to act on the doc right there."""
    return text, [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        review_actions(meta.doc_id, meta.title),
    ]


def flag_notice(meta: DocMeta, *, reporter: str, reason: str | None) -> tuple[str, list[Block]]:
    """The DM telling a doc's owner someone reported it outdated (with the buttons to verify it)."""
    why = f": “{escape(reason)}”." if reason else "."
    text = (
        f"🚩 <@{reporter}> reported {doc_link(meta)} (`{escape(meta.path)}`) as out of date{why} "
        "Please update it — or, if it is still right, press ✅ Still accurate."
    )
    return owner_message(text, meta)


def verify_request(meta: DocMeta, *, requester: str) -> tuple[str, list[Block]]:
    """The DM asking a doc's owner to confirm it (someone else pressed ✅ Still accurate)."""
    text = (
        f"<@{requester}> says {doc_link(meta)} (`{escape(meta.path)}`) is still accurate, but only you can confirm "
        "it. If it is, press ✅ Still accurate; otherwise please update it."
    )
    return owner_message(text, meta)


def verified_text(meta: DocMeta) -> str:
    return (
        f"✅ Thanks — {doc_link(meta)} is marked as still accurate. Its clock restarts now, until the doc changes or "
        "passes its limit again."
    )


NOT_OWNER = "Only the doc's owner can verify it; we've let them know."
FLAGGED = "🚩 Thanks — the doc is reported as outdated, and its owner will hear about it."
GONE = "That doc is no longer in the index, so there is nothing to verify or report."
