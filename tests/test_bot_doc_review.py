"""Acting on a stale doc from the answer, over signed HTTP: "✅ Still accurate" by the owner restarts the doc's
clock (refused, politely, for anyone else, whose request reaches the owner once a day); "🚩 Report outdated" opens
a modal, records the flag and tells the owner once per doc per day.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.review_blocks import FLAG_ACTION, FLAG_MODAL, NOT_OWNER, REASON_ACTION, REASON_BLOCK, VERIFY_ACTION
from tests.fakes.bot_harness import BotHarness, make_documents, start_harness
from tests.fakes.slack_fake import BOT_USER, block_actions_payload, view_submission_payload
from tests.test_bot_http import HOLIDAY_QUESTION

HOLIDAYS = "handbook:leave/holidays.md"
OWNER_DM = "DU0OWNER"  # the fake's conversations.open channel for U0OWNER


@pytest.fixture
def harness(home: Path) -> Iterator[BotHarness]:
    h = start_harness(home)
    yield h
    h.close()


def ask(harness: BotHarness, count: int = 1) -> dict[str, Any]:
    harness.mention(f"<@{BOT_USER}> {HOLIDAY_QUESTION}")
    update = harness.wait_answered("C0GENERAL", count)[-1]
    return harness.fake.message("C0GENERAL", update["ts"])


def button(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    for block in message["blocks"]:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            if element["action_id"] == action_id:
                return {"type": "button", "block_id": block["block_id"], "action_id": action_id,
                        "value": element["value"], "text": element["text"]}  # fmt: skip
    raise AssertionError(f"no {action_id} button in {message['blocks']}")


def click(harness: BotHarness, message: dict[str, Any], action_id: str, *, user: str, channel: str) -> int:
    payload = block_actions_payload(button(message, action_id), user=user, channel=channel, message=message)
    return harness.interact(payload).status_code


def owner_dms(harness: BotHarness) -> list[dict[str, Any]]:
    return [c.params for c in harness.fake.calls_to("chat.postMessage") if c.params["channel"] == OWNER_DM]


def ephemerals(harness: BotHarness, user: str) -> list[str]:
    return [c.params["text"] for c in harness.fake.calls_to("chat.postEphemeral") if c.params["user"] == user]


def test_only_the_owner_verifies_and_a_verification_restarts_the_clock(harness: BotHarness) -> None:
    answer = ask(harness)
    assert "Possibly out of date" in answer["text"] or "⚠" in answer["text"]
    assert button(answer, VERIFY_ACTION)["value"] == HOLIDAYS
    reviews = harness.services.doc_reviews

    # someone else: refused, and the owner is asked (once a day, however often it is pressed)
    assert click(harness, answer, VERIFY_ACTION, user="U0BOB", channel="C0GENERAL") == 200
    harness.fake.wait_for(lambda f: len(owner_dms(harness)) == 1 and ephemerals(harness, "U0BOB") == [NOT_OWNER])
    assert click(harness, answer, VERIFY_ACTION, user="U0BOB", channel="C0GENERAL") == 200
    harness.fake.wait_for(lambda f: len(ephemerals(harness, "U0BOB")) == 2)
    [request] = owner_dms(harness)
    assert "<@U0BOB>" in request["text"] and "only you can confirm" in request["text"]
    assert reviews.verifications() == []

    # the owner, from the request in their DM: recorded before the click is acked
    dm = harness.fake.message(OWNER_DM, harness.fake.bot_messages(OWNER_DM)[0]["ts"])
    assert click(harness, dm, VERIFY_ACTION, user="U0OWNER", channel=OWNER_DM) == 200
    [verification] = reviews.verifications()
    holidays = next(d for d in make_documents() if d.doc_id == HOLIDAYS)
    assert (verification.doc_id, verification.user) == (HOLIDAYS, "U0OWNER")
    assert verification.source_hash == holidays.source_hash
    harness.fake.wait_for(lambda f: any("still accurate" in t for t in ephemerals(harness, "U0OWNER")))

    # the same question now: the doc's clock restarted, so no warning and no buttons
    again = ask(harness, 2)
    assert "⚠" not in again["text"]
    assert not [b for b in again["blocks"] if b["type"] == "actions"]
    assert "verified still accurate" in str(again["blocks"])


def test_report_outdated_opens_a_modal_records_the_flag_and_tells_the_owner_once(harness: BotHarness) -> None:
    answer = ask(harness)
    assert click(harness, answer, FLAG_ACTION, user="U0CAROL", channel="C0GENERAL") == 200
    harness.fake.wait_for(lambda f: len(f.modals) == 1)
    [opened] = harness.fake.calls_to("views.open")
    assert opened.params["trigger_id"]
    modal = harness.fake.modals[0]
    assert modal["callback_id"] == FLAG_MODAL and modal["blocks"][1]["optional"] is True

    submit = view_submission_payload(modal, user="U0CAROL", values={REASON_BLOCK: (REASON_ACTION, "We get 28 now")})
    response = harness.interact(submit)
    assert response.status_code == 200 and response.content in (b"", b"{}")  # an empty ack closes the modal
    [flag] = harness.services.doc_reviews.flags()  # written before the ack
    assert (flag.doc_id, flag.user, flag.reason) == (HOLIDAYS, "U0CAROL", "We get 28 now")
    harness.fake.wait_for(lambda f: len(owner_dms(harness)) == 1)
    [notice] = owner_dms(harness)
    assert "<@U0CAROL>" in notice["text"] and "We get 28 now" in notice["text"]
    harness.fake.wait_for(lambda f: len(ephemerals(harness, "U0CAROL")) == 1)

    # a second report the same day is recorded but does not message the owner again
    other = view_submission_payload(modal, user="U0DAVE", values={REASON_BLOCK: (REASON_ACTION, "")})
    assert harness.interact(other).status_code == 200
    assert [(f.user, f.reason) for f in harness.services.doc_reviews.flags()][-1] == ("U0DAVE", None)
    harness.fake.wait_for(lambda f: len(ephemerals(harness, "U0DAVE")) == 1)
    assert len(owner_dms(harness)) == 1

    # the next answer shows the open reports beside the source
    again = ask(harness, 2)
    assert "reported outdated (2)" in str(again["blocks"])
