"""End to end through the CLI on the embedded default: the example handbook and the real staff handbook."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bestbefore.cli import app
from tests.conftest import EXAMPLES

runner = CliRunner()


def run(*args: str) -> dict | list:  # type: ignore[type-arg]
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def example_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:  # type: ignore[type-arg]
    home = tmp_path_factory.mktemp("home")
    mp = pytest.MonkeyPatch()
    mp.setenv("BESTBEFORE_HOME", str(home))
    for name in ("REDIS_URL", "COHERE_API_KEY", "WEAVIATE_URL", "LANGFUSE_PUBLIC_KEY", "DATABASE_URL"):
        mp.delenv(name, raising=False)
    config = str(EXAMPLES / "bestbefore.toml")
    report = run("-c", config, "ingest", "--json")
    yield config, report  # type: ignore[misc]
    mp.undo()


def test_ingest_reports_documents_and_the_skipped_file(example_index: tuple[str, dict]) -> None:  # type: ignore[type-arg]
    _, report = example_index
    docs = list((EXAMPLES / "docs").rglob("*.*"))
    assert report["docs_new"] == len(docs) - 1 == 22
    assert report["docs_skipped"] == 1
    assert report["skipped"][0]["path"] == "archive/floorplan-2019.pdf"
    assert "PDF" in report["skipped"][0]["reason"]
    assert report["chunks_embedded"] >= report["docs_new"]
    for key in ("docs_changed", "docs_unchanged", "docs_removed", "chunks_reused", "chunks_deleted", "seconds"):
        assert key in report


def test_answer_cites_a_stale_policy_and_warns(example_index: tuple[str, dict]) -> None:  # type: ignore[type-arg]
    config, _ = example_index
    answer = run("-c", config, "ask", "How much can I spend on a hotel when I travel?", "--json")
    assert answer["refused"] is False
    assert "180 EUR" in answer["answer"] and "[1]" in answer["answer"]
    first = answer["sources"][0]
    assert first["title"] == "Travel policy" and first["cited"] and first["stale"]
    assert first["doc_id"] == "handbook:policies/travel-policy.md"
    assert first["url"] == "https://handbook.larkspur.example/policies/travel-policy.md"
    assert first["threshold_days"] == 365
    assert datetime.fromisoformat(first["updated_at"]).utcoffset() is not None
    assert re.fullmatch(
        r"Based on \*Travel policy\*, last updated \d+ months ago \(limit 12 months\) — it may be out of date\.",
        answer["stale_warning"],
    )
    assert len(answer["sources"]) <= 5
    assert {"embed", "retrieve", "generate", "total"} <= answer["timings_ms"].keys()
    assert re.fullmatch(r"[0-9a-f]{32}", answer["trace_id"])


def test_fresh_source_gives_no_warning(example_index: tuple[str, dict]) -> None:  # type: ignore[type-arg]
    config, _ = example_index
    answer = run("-c", config, "ask", "How many days of paid vacation do employees get?", "--json")
    assert not answer["refused"] and "28 days" in answer["answer"]
    assert answer["sources"][0]["title"] == "Vacation and time off"
    assert answer["stale_warning"] is None


def test_off_topic_question_is_refused_without_unrelated_sources(example_index: tuple[str, dict]) -> None:  # type: ignore[type-arg]
    config, _ = example_index
    answer = run("-c", config, "ask", "What is the capital of Peru?", "--json")
    assert answer["refused"] is True
    assert answer["answer"] == "I couldn't find this in the docs."
    assert answer["sources"] == []  # none is close; never five unrelated "closest sources" (#12)
    assert answer["stale_warning"] is None


def test_sources_and_stale_listings(example_index: tuple[str, dict]) -> None:  # type: ignore[type-arg]
    config, _ = example_index
    sources = run("-c", config, "sources", "--json")
    assert len(sources) == 22
    assert set(sources[0]) >= {"doc_id", "source", "title", "updated_at", "source_hash", "chunks", "stale",
                               "threshold_days"}  # fmt: skip
    by_id = {s["doc_id"]: s for s in sources}
    assert by_id["handbook:runbooks/incident-response.md"]["threshold_days"] == 90
    assert by_id["handbook:policies/fire-safety.pdf"]["title"] == "Fire safety and evacuation"
    assert by_id["handbook:onboarding/accounts.html"]["title"] == "Accounts and access"
    stale = run("-c", config, "stale", "--json")
    dates = [s["updated_at"] for s in stale]
    assert dates == sorted(dates)
    stale_ids = {s["doc_id"] for s in stale}
    assert {"handbook:policies/remote-work.md", "handbook:policies/travel-policy.md",
            "handbook:runbooks/incident-response.md"} <= stale_ids  # fmt: skip
    assert "handbook:policies/vacation.md" not in stale_ids


def test_second_ingest_embeds_nothing(example_index: tuple[str, dict]) -> None:  # type: ignore[type-arg]
    config, _ = example_index
    result = runner.invoke(app, ["-c", config, "refresh"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "Nothing changed: 22 docs up to date, 0 chunks embedded." in " ".join(result.stdout.split())


def test_bad_config_is_a_clear_error(tmp_path: Path, home: Path) -> None:
    bad = tmp_path / "bestbefore.toml"
    bad.write_text('[[sources]]\nname = "x"\npath = "docs"\n\n[index]\nalpha = "lots"\n')
    result = runner.invoke(app, ["-c", str(bad), "stale"])
    assert result.exit_code == 2
    assert "index.alpha" in result.output and "line 6" in result.output


def write_config(path: Path, docs: Path, *, include: str, embedder: str) -> Path:
    path.write_text(
        f'[[sources]]\nname = "tts"\npath = "{docs}"\ninclude = ["{include}"]\n'
        f'url_base = "https://handbook.tts.gsa.gov"\n\n[index]\nembedder = "{embedder}"\n'
    )
    return path


def git_date(repo: Path, relative: str) -> datetime:
    out = subprocess.run(
        ["git", "-C", str(repo), "log", "-1", "--format=%cI", "--", relative], capture_output=True, text=True
    )
    return datetime.fromisoformat(out.stdout.strip())


def test_real_handbook_dates_and_skips(handbook_clone: Path, tmp_path: Path, home: Path) -> None:
    """All 246 pages: every indexed page carries its own last commit date; the empty redirect stubs are reported."""
    config = write_config(tmp_path / "b.toml", handbook_clone / "pages", include="**/*.md", embedder="hashing")
    report = run("-c", str(config), "ingest", "--json")
    assert report["docs_new"] + report["docs_skipped"] == 246
    assert all("empty" in s["reason"] for s in report["skipped"])
    sources = run("-c", str(config), "sources", "--json")
    assert len(sources) == report["docs_new"]
    for row in sources:
        assert row["date_origin"] == "git"
        relative = "pages/" + row["doc_id"].split(":", 1)[1]
        assert datetime.fromisoformat(row["updated_at"]) == git_date(handbook_clone, relative), row["doc_id"]


def test_real_handbook_answer_with_the_local_model(handbook_clone: Path, tmp_path: Path, home: Path) -> None:
    """The travel section of the real handbook, embedded with the default local model."""
    copy = tmp_path / "clone"
    shutil.copytree(handbook_clone, copy)  # a copy keeps the .git folder, so dates still come from git
    config = write_config(tmp_path / "b.toml", copy / "pages", include="travel-and-leave/**/*.md", embedder="minilm")
    report = run("-c", str(config), "ingest", "--json")
    assert report["docs_new"] >= 20
    answer = run("-c", str(config), "ask", "How do I get reimbursed for my travel expenses?", "--json")
    assert not answer["refused"]
    cited = [s for s in answer["sources"] if s["cited"]]
    assert cited and all("travel" in s["doc_id"] for s in cited)
    first = cited[0]
    expected = git_date(copy, "pages/" + first["doc_id"].split(":", 1)[1])
    assert datetime.fromisoformat(first["updated_at"]) == expected
    # The handbook's pages are 2022-2025; with the default one-year threshold the cited ones are stale.
    assert first["stale"] and answer["stale_warning"] and first["title"] in answer["stale_warning"]


def test_asking_an_empty_index_says_what_to_run(home: Path) -> None:
    result = runner.invoke(app, ["-c", str(EXAMPLES / "bestbefore.toml"), "ask", "hotel?", "--json"])
    assert result.exit_code == 1
    assert "run `bestbefore ingest` first" in result.output
