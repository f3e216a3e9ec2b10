"""docs/slack-surfaces.md: one example Block Kit payload per Slack surface, generated from the real builders so it
never drifts. The test regenerates the file's text and compares; to update it after a deliberate change run
``BESTBEFORE_WRITE_SURFACES=1 pytest tests/test_slack_surfaces.py``.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.agent import DEFAULT_PROMPTS, GREETING, PROMPTS_TITLE
from bot.blocks import answer_reply
from bot.home import HomeDoc, home_view
from bot.review_blocks import flag_modal, flag_notice, verify_request
from rag.ledger.query_ledger import QueryLedger
from rag.models import Answer, DateOrigin, DocMeta, SourceRef
from rag.reviews import DocReview, Flag
from tests.fakes.jobs_support import seed_answer

DOC_FILE = Path(__file__).resolve().parent.parent / "docs" / "slack-surfaces.md"
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
HOLIDAYS = DocMeta(
    doc_id="handbook:leave/holidays.md", source="handbook", path="leave/holidays.md", title="Holiday allowance",
    source_hash="9f2c" * 16, updated_at=NOW - timedelta(days=3 * 365), date_origin=DateOrigin.FRONT_MATTER,
    url="https://docs.example.com/handbook/leave/holidays", owner="U0OWNER",
)  # fmt: skip
ANSWER = Answer(
    answer_id="5fc63ce593374b7ca9e7dfcc66eb04cb", question="How many days of paid holiday do employees get?",
    text="Employees get 25 days of paid holiday per year; up to 5 unused days carry over. [1]", refused=False,
    sources=(
        SourceRef(doc_id=HOLIDAYS.doc_id, title=HOLIDAYS.title, url=HOLIDAYS.url, updated_at=HOLIDAYS.updated_at,
                  age_days=3 * 365, stale=True, threshold_days=365, cited=True, owner="U0OWNER", source="handbook"),
        SourceRef(doc_id="handbook:leave/contractors.md", title="Contractor leave",
                  url="https://docs.example.com/handbook/leave/contractors", updated_at=NOW - timedelta(days=12),
                  age_days=12, stale=False, threshold_days=365, cited=False, source="handbook", open_flags=1),
    ),
    stale_warning="Based on *Holiday allowance*, last updated 3 years ago (limit 12 months) — it may be out of date.",
    timings_ms={"total": 840.0},
)  # fmt: skip


def surfaces(tmp_path: Path) -> list[tuple[str, str, Any]]:
    """(title, what it is and when it is sent, payload) per surface."""
    reply = answer_reply(ANSWER)
    flag = Flag(HOLIDAYS.doc_id, "U0CAROL", NOW, HOLIDAYS.source_hash, "We get 28 days since January")
    notice_text, notice_blocks = flag_notice(HOLIDAYS, reporter="U0CAROL", reason=flag.reason)
    request_text, request_blocks = verify_request(HOLIDAYS, requester="U0BOB")
    ledger = QueryLedger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    try:
        for hours, user, vote in ((2, "U1", 1), (30, "U2", 1), (50, "U3", -1)):
            seed_answer(ledger, NOW - timedelta(hours=hours), user=user, vote=vote, stale=user == "U3",
                        cited=(HOLIDAYS.doc_id,))  # fmt: skip
        week = ledger.stats(NOW - timedelta(days=7), NOW)
    finally:
        ledger.close()
    home = home_view([HomeDoc(HOLIDAYS, timedelta(days=3 * 365), timedelta(days=365), DocReview(open_flags=(flag,)))],
                     week)  # fmt: skip
    prompts = [{"title": q, "message": q} for q in DEFAULT_PROMPTS]
    return [
        ("Answer (chat.update of the placeholder, or chat.postMessage in an agent DM thread)",
         "The answer, the ⚠ block naming the stale cited doc with its *Still accurate* / *Report outdated* buttons, "
         "the sources (a reported doc is marked 🚩), the reactions hint and the native feedback buttons.",
         {"text": reply.text, "blocks": reply.blocks}),
        ("Streamed answer: the blocks attached by chat.stopStream",
         "When the answer was streamed, the text is already in the message; stopping the stream adds the rest.",
         {"blocks": answer_reply(ANSWER, with_text=False).blocks}),
        ("Report outdated modal (views.open)",
         "Opened by *🚩 Report outdated*; the reason is optional. Submitting records the flag.",
         flag_modal(HOLIDAYS, channel="C0GENERAL", thread="1700000001.000100")),
        ("Flag notice to the owner (chat.postMessage in their DM, once per doc per day)",
         "Sent when someone reports the doc outdated; the owner can verify it from here.",
         {"text": notice_text, "blocks": notice_blocks}),
        ("Verification request to the owner (chat.postMessage in their DM, once per doc per day)",
         "Sent when someone who is not the owner presses *Still accurate* (they get an ephemeral "
         "\"Only the doc's owner can verify it; we've let them know\").",
         {"text": request_text, "blocks": request_blocks}),
        ("App Home tab (views.publish)",
         "For the person opening the Home tab: their stale or reported docs with the same buttons, and the week's "
         "figures.",
         {"user_id": "U0OWNER", "view": home}),
        ("Agent greeting (chat.postMessage) and suggested prompts (assistant.threads.setSuggestedPrompts)",
         "When someone opens the Messages tab for the first time; the prompts are the most-asked questions of the "
         "last 30 days (asked by two people or more), else these examples.",
         {"greeting": {"text": GREETING}, "suggested_prompts": {"title": PROMPTS_TITLE, "prompts": prompts}}),
    ]  # fmt: skip


def render(items: list[tuple[str, str, Any]]) -> str:
    parts = [
        "# Slack surfaces\n",
        "Screenshots are not possible without a Slack workspace, so each surface the bot sends is shown as the exact "
        "Block Kit JSON it sends (paste a `blocks` array or a `view` into <https://app.slack.com/block-kit-builder> to "
        "see it). Generated by `tests/test_slack_surfaces.py` from the real builders; do not edit by hand.\n",
    ]
    for title, about, payload in items:
        parts.append(f"## {title}\n\n{about}\n\n```json\n{json.dumps(payload, indent=2, ensure_ascii=False)}\n```\n")
    return "\n".join(parts)


def test_slack_surfaces_doc_matches_the_builders(tmp_path: Path) -> None:
    text = render(surfaces(tmp_path))
    if os.environ.get("BESTBEFORE_WRITE_SURFACES") == "1":
        DOC_FILE.write_text(text, encoding="utf-8")
    assert DOC_FILE.read_text(encoding="utf-8") == text, (
        "docs/slack-surfaces.md is out of date: run BESTBEFORE_WRITE_SURFACES=1 pytest tests/test_slack_surfaces.py"
    )
