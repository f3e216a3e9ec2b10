"""Cohere refuses connections or never answers: the answer still comes, inside ``[cohere] deadline``, saying the
language model is unavailable and listing the sources (found by keyword search when embedding failed).
Driven through the real ``cohere`` SDK against tests/fakes/cohere_fake.py, a closed port and a silent listener."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rag.answer.pipeline import UNAVAILABLE
from rag.config import CohereConfig
from rag.errors import ProviderAuthError, ProviderError, ProviderUnavailableError
from rag.providers.cohere_api import CohereAPI, RetryPolicy
from rag.providers.cohere_chat import CohereGenerator
from rag.providers.deadline import answer_budget
from tests.fakes.bot_harness import start_harness
from tests.fakes.cohere_fake import FakeCohereServer
from tests.fakes.fault_support import HOTEL_QUESTION, cli_env, handbook_config, run_cli, stderr_lines
from tests.fakes.slack_fake import BOT_USER
from tests.fakes.tcp_proxy import SilentListener
from tests.test_cohere import KEY, hit

SHORT_DEADLINES = "[cohere]\nembed_dimension = 256\ntimeout = 1\ndeadline = 2\n"


def test_cli_answers_with_keyword_sources_inside_the_deadline_when_cohere_is_unreachable(
    home: Path, server: FakeCohereServer, unreachable_url: str
) -> None:
    config = handbook_config(home.parent / "cfg", SHORT_DEADLINES, embedder=None)  # Cohere embeds
    ingest = run_cli(config, cli_env(home, COHERE_API_KEY=KEY, CO_API_URL=server.url), "ingest", "--json")
    assert ingest.returncode == 0, ingest.stderr

    # Today: 67 s, then an error and no sources. The subprocess timeout fails the test if the deadline is not kept.
    asked = run_cli(config, cli_env(home, COHERE_API_KEY=KEY, CO_API_URL=unreachable_url), "ask", HOTEL_QUESTION,
                    "--json", timeout=30)  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["answer"] == UNAVAILABLE
    assert answer["sources"] and answer["sources"][0]["doc_id"] == "handbook:policies/travel-policy.md"
    assert "Cohere embed unavailable" in answer["error"] and "deadline 2s" in answer["error"]
    assert "Traceback" not in asked.stderr
    assert "Cohere is unreachable" in asked.stderr  # the start-up key check warned and went on


def test_slack_gets_the_sources_not_an_apology_when_cohere_never_answers(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SilentListener() as silent:
        monkeypatch.setenv("COHERE_API_KEY", KEY)
        monkeypatch.setenv("CO_API_URL", silent.url)
        # Local embedder, Cohere for rerank and chat: both hang on the silent listener.
        harness = start_harness(home, cohere=CohereConfig(timeout=1, deadline=2))
        try:
            harness.mention(f"<@{BOT_USER}> How many days of paid holiday do employees get?", channel="C0HOL")
            [update] = harness.wait_answered("C0HOL", timeout=20)
            reply = update["text"] + json.dumps(update["blocks"])
            assert UNAVAILABLE in reply and "Holiday allowance" in reply
            assert "Sorry" not in reply
            assert silent.accepted >= 2  # the start-up check and the answer really tried Cohere
        finally:
            harness.close()


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 498])
def test_statuses_that_cannot_succeed_are_not_retried(server: FakeCohereServer, status: int) -> None:
    api = CohereAPI(KEY, base_url=server.url, policy=RetryPolicy(timeout=5, deadline=5, backoff=0.01))
    server.fake.fail("/v2/chat", status, status, status)
    expected = ProviderAuthError if status in (401, 403, 498) else ProviderError
    with pytest.raises(expected) as caught:
        CohereGenerator(api).generate("When are expenses reimbursed?", [hit("handbook:e.md", "Expenses monthly.")])
    assert len(server.fake.calls("/v2/chat")) == 1
    if expected is ProviderAuthError:
        assert "COHERE_API_KEY" in str(caught.value)
    api.close()


def test_a_rejected_key_still_stops_with_the_variable_to_fix(home: Path, server: FakeCohereServer) -> None:
    config = handbook_config(home.parent / "cfg", SHORT_DEADLINES, embedder=None)
    result = run_cli(config, cli_env(home, COHERE_API_KEY="wrong-key-123", CO_API_URL=server.url), "ingest")
    assert result.returncode != 0
    assert stderr_lines(result) and "COHERE_API_KEY" in result.stderr
    assert "wrong-key-123" not in result.stderr + result.stdout and "Traceback" not in result.stderr


def test_every_call_of_one_answer_shares_the_answer_budget(server: FakeCohereServer) -> None:
    """The call's own deadline is 30 s; inside an answer budget of 0.5 s its retries stop within the budget."""
    sleeps: list[float] = []
    api = CohereAPI(
        KEY, base_url=server.url, policy=RetryPolicy(timeout=5, deadline=30, backoff=0.05), sleep=record(sleeps)
    )
    server.fake.always_fail["/v2/chat"] = 503
    generator = CohereGenerator(api)
    with answer_budget(0.5), pytest.raises(ProviderUnavailableError, match="503"):
        generator.generate("When are expenses reimbursed?", [hit("handbook:e.md", "Expenses monthly.")])
    assert sleeps and sum(sleeps) < 0.5  # the waits were cut to the budget, not to the call's 30 s
    with answer_budget(0.0), pytest.raises(ProviderUnavailableError, match="no time left"):
        generator.generate("When are expenses reimbursed?", [hit("handbook:e.md", "Expenses monthly.")])
    api.close()


def record(sleeps: list[float]) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        time.sleep(seconds)

    return sleep
