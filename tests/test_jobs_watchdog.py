"""The staleness watchdog: stale docs ranked by citations, owner DMs once per threshold crossing (fake Slack API)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient

from jobs import runs
from jobs.nudges import NudgeLog
from jobs.runs import JobDeps
from rag.config import DigestConfig
from tests.fakes.jobs_support import index_docs, ledger_of, make_deps, seed_answer
from tests.fakes.slack_fake import BOT_TOKEN, FakeSlack

NOW = datetime(2026, 11, 24, 8, tzinfo=UTC)
ALICE = {"id": "U0ALICE01", "name": "alice"}


@pytest.fixture
def slack(slack: FakeSlack) -> FakeSlack:
    slack.users_by_email["alice@example.com"] = ALICE
    return slack


@pytest.fixture
def deps(tmp_path: Path, home: Path, slack: FakeSlack) -> Iterator[JobDeps]:
    deps = make_deps(
        tmp_path, slack=WebClient(token=BOT_TOKEN, base_url=slack.url), digest=DigestConfig(nudge_owners=True)
    )
    deps.nudges = NudgeLog(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    index_docs(deps, NOW - timedelta(days=1))
    yield deps
    deps.nudges.close()
    ledger_of(deps).close()


def dms(slack: FakeSlack) -> list[tuple[str, str]]:
    return [(c.params["channel"], c.params["text"]) for c in slack.calls_to("chat.postMessage")]


def test_stale_docs_are_ranked_by_citations_in_the_last_30_days(deps: JobDeps, slack: FakeSlack) -> None:
    for days in (1, 2, 3):
        seed_answer(ledger_of(deps), NOW - timedelta(days=days), cited=("handbook:expenses.md",))
    seed_answer(ledger_of(deps), NOW - timedelta(days=5), cited=("handbook:laptops.md",))
    for _ in range(5):  # cited often, but two months ago: outside the window
        seed_answer(ledger_of(deps), NOW - timedelta(days=60), cited=("handbook:leave.md",))
    seed_answer(ledger_of(deps), NOW - timedelta(days=1), cited=("handbook:onboarding.md",))
    deps.settings.app.digest.nudge_owners = False
    report = runs.watchdog(deps, NOW)
    ranking = [(r.stale.meta.path, r.citations) for r in report.ranked]
    # onboarding is fresh (reviewed this month) and not listed, however often it is cited
    assert ranking == [("expenses.md", 3), ("laptops.md", 1), ("leave.md", 0)]
    assert report.nudged == [] and dms(slack) == []


def test_owners_are_nudged_once_per_threshold_crossing(deps: JobDeps, slack: FakeSlack, tmp_path: Path) -> None:
    seed_answer(ledger_of(deps), NOW - timedelta(days=2), cited=("handbook:leave.md",))
    report = runs.watchdog(deps, NOW)
    assert sorted(report.nudged) == ["handbook:expenses.md", "handbook:leave.md"]  # laptops.md has no owner
    assert [c.params["email"] for c in slack.calls_to("users.lookupByEmail")] == ["alice@example.com"]
    sent = dict(dms(slack))
    assert set(sent) == {"DU0ALICE01", "DU0BOBBY01"}  # conversations.open with alice's looked-up id, and bob's id
    assert "Leave policy" in sent["DU0ALICE01"] and "cited in 1 answer " in sent["DU0ALICE01"]
    assert "limit" in sent["DU0ALICE01"] and "last_reviewed" in sent["DU0ALICE01"]
    assert "not cited" in sent["DU0BOBBY01"]
    # the next days' runs (and another replica) send nothing new: one nudge per doc per crossing
    assert runs.watchdog(deps, NOW + timedelta(days=1)).nudged == []
    assert len(dms(slack)) == 2
    # the doc is reviewed (new date), goes stale again later: a new crossing, a new nudge
    leave = tmp_path / "docs" / "leave.md"
    leave.write_text(leave.read_text().replace("2024-01-10", "2025-10-01"))
    index_docs(deps, NOW + timedelta(days=1))
    assert runs.watchdog(deps, NOW + timedelta(days=400)).nudged == ["handbook:leave.md"]
    assert len(dms(slack)) == 3


def test_an_unreachable_owner_is_retried_at_the_next_run(deps: JobDeps, slack: FakeSlack) -> None:
    del slack.users_by_email["alice@example.com"]  # users.lookupByEmail -> users_not_found
    report = runs.watchdog(deps, NOW)
    assert report.nudged == ["handbook:expenses.md"]
    assert len(report.unreachable) == 1 and "users_not_found" in report.unreachable[0]
    slack.users_by_email["alice@example.com"] = ALICE  # she joined the workspace
    assert runs.watchdog(deps, NOW + timedelta(days=1)).nudged == ["handbook:leave.md"]
    assert sorted(c for c, _ in dms(slack)) == ["DU0ALICE01", "DU0BOBBY01"]


def test_a_channel_owner_is_told_in_the_channel(deps: JobDeps, slack: FakeSlack, tmp_path: Path) -> None:
    """GOV.UK page expiry: owner_slack "#channel" is where the nudge goes; "@handle" cannot be looked up (#12)."""
    laptops = tmp_path / "docs" / "laptops.md"
    laptops.write_text(laptops.read_text().replace("---\nlast_reviewed", '---\nowner_slack: "#it-team"\nlast_reviewed'))
    expenses = tmp_path / "docs" / "expenses.md"
    expenses.write_text(expenses.read_text().replace("owner: U0BOBBY01", "owner_slack: '@bob'"))
    index_docs(deps, NOW)
    report = runs.watchdog(deps, NOW)
    assert "handbook:laptops.md" in report.nudged
    sent = dict(dms(slack))
    assert "Laptops" in sent["#it-team"]
    assert report.unreachable == ["handbook:expenses.md: owner '@bob' is neither a Slack id, a #channel nor an e-mail"]
