"""One real-semantics check with the local MiniLM model: a paraphrased question reaches the stale holiday doc and
the Slack answer carries the ⚠ block naming it, with its age and limit."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.bot_harness import start_harness
from tests.fakes.slack_fake import BOT_USER


def test_paraphrased_question_gets_the_stale_warning_block(home: Path) -> None:
    harness = start_harness(home, embedder="minilm")
    try:
        ts, _ = harness.mention(f"<@{BOT_USER}> How much paid time off does a member of staff get each year?")
        [update] = harness.wait_answered("C0GENERAL", timeout=60)
        warnings = [
            element["text"]
            for block in update["blocks"]
            if block["type"] == "context"
            for element in block["elements"]
            if "⚠" in element["text"]
        ]
        assert warnings == [
            "⚠️ *Possibly out of date:* Based on *Holiday allowance*, last updated 3 years ago (limit 12 months) "
            "— it may be out of date."
        ]
        assert "25 days of paid holiday" in update["blocks"][0]["text"]["text"]
        assert harness.fake.calls_to("chat.postMessage")[0].params["thread_ts"] == ts
    finally:
        harness.close()
