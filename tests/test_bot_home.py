"""The App Home tab over signed HTTP: the viewer's stale or reported docs with the same buttons, and the week's
figures; acting from the Home tab refreshes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.review_blocks import VERIFY_ACTION
from tests.fakes.bot_harness import BotHarness, start_harness
from tests.fakes.slack_fake import BOT_USER, event_body, home_actions_payload, home_opened_event
from tests.test_bot_doc_review import HOLIDAYS, button
from tests.test_bot_http import HOLIDAY_QUESTION


@pytest.fixture
def harness(home: Path) -> Iterator[BotHarness]:
    h = start_harness(home)
    yield h
    h.close()


def open_home(harness: BotHarness, user: str, count: int) -> dict[str, Any]:
    assert harness.post(event_body(home_opened_event(user))).status_code == 200
    harness.fake.wait_for(
        lambda f: len([c for c in f.calls_to("views.publish") if c.params["user_id"] == user]) >= count
    )
    return harness.fake.views[user]


def test_home_lists_the_owners_stale_docs_with_buttons_and_the_weeks_figures(harness: BotHarness) -> None:
    harness.mention(f"<@{BOT_USER}> {HOLIDAY_QUESTION}")
    harness.wait_answered("C0GENERAL")
    harness.services.ledger.flush()

    view = open_home(harness, "U0OWNER", 1)
    assert view["type"] == "home"
    text = str(view["blocks"])
    assert "Holiday allowance" in text and "past its 12 months limit" in text
    assert button(view, VERIFY_ACTION)["value"] == HOLIDAYS
    figures = next(b for b in view["blocks"] if b["type"] == "section" and "fields" in b)["fields"]
    assert figures[0]["text"] == "*Questions*\n1"

    bob = open_home(harness, "U0BOB", 1)  # owns nothing
    assert "Nothing you own" in str(bob["blocks"]) and not [b for b in bob["blocks"] if b["type"] == "actions"]

    # verifying from the Home tab records it and refreshes the tab
    press = home_actions_payload(button(view, VERIFY_ACTION), user="U0OWNER", view=view)
    assert harness.interact(press).status_code == 200
    assert [v.user for v in harness.services.doc_reviews.verifications()] == ["U0OWNER"]
    harness.fake.wait_for(
        lambda f: len([c for c in f.calls_to("views.publish") if c.params["user_id"] == "U0OWNER"]) == 2
    )
    assert "Nothing you own" in str(harness.fake.views["U0OWNER"]["blocks"])
    assert not [c for c in harness.fake.calls_to("chat.postEphemeral") if c.params["user"] == "U0OWNER"]
