"""Block Kit rendering of answers, and reading questions / threads out of Slack messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.blocks import SECTION_LIMIT, answer_reply, error_reply, truncation_note
from bot.messages import ignore_reason, parse_question, reply_thread, thread_history, ts_key
from rag.models import Answer, SourceRef, Turn

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def ref(title: str, age_days: int, *, stale: bool = False, cited: bool = True, url: str | None = None) -> SourceRef:
    return SourceRef(
        doc_id=f"docs:{title}", title=title, url=url, updated_at=NOW - timedelta(days=age_days), age_days=age_days,
        stale=stale, threshold_days=365, cited=cited,
    )  # fmt: skip


def answer(text: str, sources: tuple[SourceRef, ...], *, refused: bool = False, warning: str | None = None) -> Answer:
    return Answer(
        answer_id="a" * 32, question="q", text=text, refused=refused, sources=sources, stale_warning=warning,
        timings_ms={},
    )  # fmt: skip


def all_text(blocks: list[dict]) -> str:
    out = []
    for block in blocks:
        if block["type"] == "section":
            out.append(block["text"]["text"])
        elif block["type"] == "context":
            out.extend(e["text"] for e in block["elements"])
    return "\n".join(out)


def test_answer_lists_cited_sources_with_age_and_stale_warning_block() -> None:
    reply = answer_reply(
        answer(
            "Employees get 25 days. [1]",
            (ref("Holidays", 548, stale=True, url="https://d.example/h"), ref("VPN", 10, cited=False)),
            warning="Based on *Holidays*, last updated 18 months ago (limit 12 months) — it may be out of date.",
        )
    )
    assert reply.blocks[0] == {"type": "section", "text": {"type": "mrkdwn", "text": "Employees get 25 days. [1]"}}
    warning = [b for b in reply.blocks if b["type"] == "context" and "⚠" in b["elements"][0]["text"]]
    assert len(warning) == 1 and "last updated 18 months ago" in warning[0]["elements"][0]["text"]
    sources = next(
        b["text"]["text"] for b in reply.blocks if b["type"] == "section" and "*Sources*" in b["text"]["text"]
    )
    assert "1. <https://d.example/h|Holidays> — updated 18 months ago ⚠ past the review limit of 12 months" in sources
    assert "VPN" not in sources  # an answer lists what it cites
    footer = reply.blocks[-2]["elements"][0]["text"]
    assert ":+1:" in footer and "a" * 32 in footer
    assert reply.blocks[-1]["type"] == "context_actions" and reply.blocks[-1]["block_id"] == "feedback:" + "a" * 32
    assert reply.blocks[-1]["elements"][0]["type"] == "feedback_buttons"
    assert (
        reply.text.startswith("Employees get 25 days. [1]")
        and "⚠" in reply.text
        and "Holidays (updated 18 months ago)" in reply.text
    )


def test_refusal_says_so_and_lists_closest_sources_without_warning() -> None:
    reply = answer_reply(
        answer(
            "I couldn't find this in the docs.",
            (ref("VPN", 10, cited=False), ref("Deploys", 731, cited=False, stale=True)),
            refused=True,
        )
    )
    text = all_text(reply.blocks)
    assert text.startswith("I couldn't find this in the docs.")
    assert (
        "*Closest sources*" in text
        and "• *VPN* — updated 10 days ago" in text
        and "• *Deploys* — updated 2 years ago" in text
    )
    assert "Possibly out of date" not in text


def test_document_text_is_escaped_so_it_cannot_ping_or_link() -> None:
    reply = answer_reply(
        answer("Ping <!channel> & see <http://evil|here>", (ref("A <b> & c", 1, url="https://x/a|b"),))
    )
    text = all_text(reply.blocks)
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; see &lt;http://evil|here&gt;" in text
    assert "<https://x/a%7Cb|A &lt;b&gt; &amp; c>" in text
    assert "<!channel>" not in reply.text


def test_long_answers_are_split_into_sections_within_slack_limits() -> None:
    long_text = " ".join(["word"] * 2000)  # ~10,000 characters
    reply = answer_reply(answer(long_text, ()))
    sections = [b["text"]["text"] for b in reply.blocks if b["type"] == "section"]
    assert len(sections) >= 4 and all(len(s) <= SECTION_LIMIT for s in sections)
    assert " ".join(sections).split() == long_text.split()
    assert len(reply.text) <= 3500


def test_truncation_note_and_error_reply() -> None:
    reply = answer_reply(answer("x [1]", (ref("A", 1),)), note=truncation_note(40_000, 4_000))
    assert "Your message was 40,000 characters long; I only read the first 4,000." in all_text(reply.blocks)
    error = error_reply("ref123")
    assert "`ref123`" in error.text and "Traceback" not in error.text


def test_parse_question_strips_bot_mention_unescapes_and_truncates() -> None:
    question = parse_question("<@UBOT> what about &lt;b&gt; &amp; <@UOTHER>?", bot_user_id="UBOT", max_chars=4000)
    assert question.text == "what about <b> & @UOTHER?" and not question.truncated
    long = parse_question("<@UBOT> " + "a" * 40_000, bot_user_id="UBOT", max_chars=4000)
    assert long.truncated and len(long.text) == 4000 and long.original_chars == 40_000
    assert parse_question("<@UBOT>   ", bot_user_id="UBOT", max_chars=4000).text == ""


def test_ignore_reasons() -> None:
    person = {"user": "U1", "text": "hi", "ts": "1.1"}
    assert ignore_reason(person, bot_user_id="UBOT", bot_id="BBOT", ignore_bots=True) is None
    assert ignore_reason({**person, "subtype": "message_changed"}, bot_user_id="UBOT", bot_id="B", ignore_bots=True)
    assert ignore_reason({**person, "user": "UBOT"}, bot_user_id="UBOT", bot_id="B", ignore_bots=True) == "own message"
    other_bot = {**person, "bot_id": "BOTHER"}
    assert ignore_reason(other_bot, bot_user_id="UBOT", bot_id="BBOT", ignore_bots=True) == "another bot"
    assert ignore_reason(other_bot, bot_user_id="UBOT", bot_id="BBOT", ignore_bots=False) is None


def test_reply_thread_and_history() -> None:
    assert reply_thread({"ts": "5.1"}, is_dm=False) == "5.1"
    assert reply_thread({"ts": "5.1", "thread_ts": "4.1"}, is_dm=False) == "4.1"
    assert reply_thread({"ts": "5.1"}, is_dm=True) is None
    replies = [
        {"user": "U1", "text": "<@UBOT> holiday days?", "ts": "100.000100"},
        {"user": "UBOT", "bot_id": "BBOT", "text": "25 days [1]", "ts": "100.000200", "thread_ts": "100.000100"},
        {"user": "U1", "text": "<@UBOT> and for contractors?", "ts": "100.000300", "thread_ts": "100.000100"},
    ]
    history = thread_history(replies, current_ts="100.000300", bot_user_id="UBOT", bot_id="BBOT")
    assert history == (Turn("user", "holiday days?"), Turn("assistant", "25 days [1]"))
    assert thread_history(replies[:1], current_ts="100.000300", bot_user_id="UBOT", bot_id="BBOT") is None
    assert ts_key("1700000000.000100") < ts_key("1700000000.000101")  # floats cannot tell these apart reliably
