"""Langfuse refuses connections or never answers: the CLI prints the answer and ends promptly, with at most one
warning line and no export stack traces. Driven through the real langfuse SDK (OTLP exporter) in a subprocess."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.fault_support import HOTEL_QUESTION, cli_env, handbook_config, run_cli, stderr_lines
from tests.fakes.otlp_fake import FakeLangfuse


def langfuse_env(home: Path, host: str) -> dict[str, str]:
    return cli_env(home, LANGFUSE_PUBLIC_KEY="pk-lf-test", LANGFUSE_SECRET_KEY="sk-lf-test", LANGFUSE_HOST=host)


@pytest.fixture
def indexed(home: Path) -> Path:
    config = handbook_config(home.parent / "cfg")
    ingest = run_cli(config, cli_env(home), "ingest", "--json")
    assert ingest.returncode == 0, ingest.stderr
    return config


def test_cli_prints_the_answer_and_exits_with_at_most_one_warning(
    home: Path, indexed: Path, unreachable_url: str
) -> None:
    # Today: 4-7 s more after the answer and export stack traces; the subprocess timeout bounds the exit.
    result = run_cli(indexed, langfuse_env(home, unreachable_url), "ask", HOTEL_QUESTION, timeout=20)
    assert result.returncode == 0, result.stderr
    assert "Travel policy" in result.stdout
    lines = stderr_lines(result)
    assert len(lines) <= 1, lines
    assert "Traceback" not in result.stderr and "Transient error" not in result.stderr
    assert "sk-lf-test" not in result.stderr + result.stdout


def test_a_reachable_langfuse_still_gets_the_trace_before_the_cli_exits(home: Path, indexed: Path) -> None:
    fake = FakeLangfuse().start()
    try:
        result = run_cli(indexed, langfuse_env(home, fake.url), "ask", HOTEL_QUESTION, timeout=20)
        assert result.returncode == 0 and stderr_lines(result) == []
        assert "question" in {span["name"] for span in fake.spans}  # close() sent it before the process ended
    finally:
        fake.stop()
