"""Passage ages (#14): each chunk of a git source is dated by the newest commit among its own lines; other chunks by
the first time the index saw their hash. Checked against ``git blame -L`` on the real 18F handbook."""

from __future__ import annotations

import json
import random
import re
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bestbefore.cli import app
from rag.config import SourceConfig
from rag.index.indexing import refresh_source
from rag.index.sqlite_store import SQLiteStore
from rag.ingest.chunking import ChunkingSettings
from rag.ingest.passage_dates import chunk_body, parse_incremental_blame
from rag.models import Chunk
from rag.providers.local_embedder import HashingEmbedder
from tests.conftest import HANDBOOK_BUNDLE

NOW = datetime(2026, 12, 3, tzinfo=UTC)
CHUNKING = ChunkingSettings()


def build(pages: Path, index: Path, now: datetime = NOW) -> SQLiteStore:
    store = SQLiteStore(index)
    source = SourceConfig(name="tts", path=pages, include=["**/*.md"])
    refresh_source(source, store=store, embedder=HashingEmbedder(), chunking=CHUNKING, now=now)
    return store


def stored_chunks(index: Path) -> list[tuple[str, str, str, str, str | None]]:
    """(chunk_id, path, text, heading_path json, passage_at) of every chunk."""
    db = sqlite3.connect(index)
    try:
        return db.execute(
            "SELECT c.chunk_id, d.path, c.text, c.heading_path, c.passage_at FROM chunks c "
            "JOIN docs d ON d.doc_id = c.doc_id ORDER BY c.chunk_id"
        ).fetchall()
    finally:
        db.close()


def blame_range(pages: Path, path: str, first: int, last: int) -> datetime:
    """The newest committer time among the non-blank lines first..last (1-based), by ``git blame --line-porcelain``."""
    out = subprocess.run(
        ["git", "-C", str(pages), "blame", "--line-porcelain", "-L", f"{first},{last}", "--", path],
        capture_output=True, check=True, text=True,
    ).stdout  # fmt: skip
    newest: list[int] = []
    stamp = 0
    for line in out.split("\n"):
        if line.startswith("committer-time "):
            stamp = int(line.split(" ")[1])
        elif line.startswith("\t") and line[1:].strip():
            newest.append(stamp)
    return datetime.fromtimestamp(max(newest), UTC)


def span_of(text: str, body: str) -> tuple[int, int] | None:
    """1-based first and last line of the one place ``body``'s words occur in ``text`` (None: not exactly once)."""
    pattern = re.compile(r"\s+".join(re.escape(word) for word in body.split()))
    found = list(pattern.finditer(text))
    if len(found) != 1:
        return None
    match = found[0]
    return text.count("\n", 0, match.start()) + 1, text.count("\n", 0, match.end() - 1) + 1


@pytest.fixture(scope="module")
def handbook_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if not HANDBOOK_BUNDLE.exists():
        pytest.skip(f"{HANDBOOK_BUNDLE} not found")
    target = tmp_path_factory.mktemp("passages") / "handbook"
    subprocess.run(["git", "clone", "-q", str(HANDBOOK_BUNDLE), str(target)], check=True)
    index = target.parent / "index.sqlite"
    build(target / "pages", index).close()
    return target / "pages", index


def test_passage_ages_match_git_blame_on_the_handbook(handbook_index: tuple[Path, Path]) -> None:
    pages, index = handbook_index
    rows = stored_chunks(index)
    assert all(passage is not None for *_, passage in rows)
    rng = random.Random(14)
    rng.shuffle(rows)
    checked = 0
    for chunk_id, path, text, heading_json, passage in rows:
        chunk = Chunk(chunk_id, "", 0, text, "", tuple(json.loads(heading_json)))
        span = span_of((pages / path).read_text(encoding="utf-8"), chunk_body(chunk))
        if span is None:
            continue
        expected = blame_range(pages, path, *span)
        assert datetime.fromisoformat(str(passage)) == expected, (path, span)
        checked += 1
        if checked == 50:
            break
    assert checked == 50


def git(repo: Path, *args: str, when: str | None = None) -> None:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "HOME": str(repo), "PATH": "/usr/bin:/bin"}  # fmt: skip
    if when:
        env |= {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def test_a_typo_fix_dates_the_page_not_the_untouched_passages(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    page = repo / "travel.md"
    page.write_text("# Travel\n\n## Booking\n\nBook trains early.\n\n## Claims\n\nClaim within 30 days.\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "first", when="2022-03-10T12:00:00+00:00")
    store = build(repo, tmp_path / "index.sqlite")
    store.close()
    page.write_text(page.read_text().replace("Claim within 30 days", "Claim within 60 days"))
    git(repo, "commit", "-qam", "typo", when="2026-12-01T09:00:00+00:00")
    build(repo, tmp_path / "index.sqlite", now=NOW + timedelta(days=1)).close()
    dates = {text.split("\n")[-1]: passage for _, _, text, _, passage in stored_chunks(tmp_path / "index.sqlite")}
    assert dates == {
        "Book trains early.": "2022-03-10T12:00:00+00:00",
        "Claim within 60 days.": "2026-12-01T09:00:00+00:00",
    }


def test_passage_ages_are_stable_across_a_fresh_clone(handbook_index: tuple[Path, Path], tmp_path: Path) -> None:
    _, index = handbook_index
    again = tmp_path / "again"
    subprocess.run(["git", "clone", "-q", str(HANDBOOK_BUNDLE), str(again)], check=True)
    build(again / "pages", tmp_path / "again.sqlite", now=NOW + timedelta(days=30)).close()
    first = {row[0]: row[4] for row in stored_chunks(index)}
    second = {row[0]: row[4] for row in stored_chunks(tmp_path / "again.sqlite")}
    assert first == second


def test_outside_git_a_chunk_is_dated_when_its_text_was_first_seen(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "a.md").write_text("# A\n\nOld paragraph one.\n\n## B\n\nOld paragraph two.\n", encoding="utf-8")
    store = build(pages, tmp_path / "index.sqlite", now=NOW)
    store.close()
    (pages / "a.md").write_text("# A\n\nOld paragraph one.\n\n## B\n\nNew paragraph two.\n", encoding="utf-8")
    later = NOW + timedelta(days=40)
    build(pages, tmp_path / "index.sqlite", now=later).close()
    dates = {text.split("\n")[-1]: passage for _, _, text, _, passage in stored_chunks(tmp_path / "index.sqlite")}
    assert dates == {"Old paragraph one.": NOW.isoformat(), "New paragraph two.": later.isoformat()}


def test_incremental_blame_parsing_marks_uncommitted_and_shallow_boundary_lines() -> None:
    sha_a, sha_b, zero = "a" * 40, "b" * 40, "0" * 40
    output = (
        f"{sha_a} 1 1 2\ncommitter-time 1600000000\nfilename x.md\n"
        f"{zero} 3 3 1\ncommitter-time 1700000000\nfilename x.md\n"
        f"{sha_b} 4 4 1\ncommitter-time 1500000000\nboundary\nfilename x.md\n"
        f"{sha_a} 5 5 1\nfilename x.md\n"
    ).encode()
    first = datetime.fromtimestamp(1600000000, UTC)
    assert parse_incremental_blame(output, 5, frozenset({sha_b})) == [first, first, None, None, first]
    root = datetime.fromtimestamp(1500000000, UTC)  # not a shallow boundary: a root commit, a true date
    assert parse_incremental_blame(output, 5)[3] == root


def typo_fixed_repo(tmp_path: Path) -> Path:
    """A page written in March 2022 whose one section got a typo fix on 1 Dec 2026."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    page = repo / "travel.md"
    page.write_text(
        "# Travel policy\n\n## Booking\n\nBook trains early through the travel portal and keep the receipt.\n\n"
        "## Hotels\n\nHotels up to 150 EUR a night in capital cities, 120 EUR elsewhere.\n\n"
        "## Claims\n\nClaim within 30 days.\n"
    )
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "first", when="2022-03-10T12:00:00+00:00")
    page.write_text(page.read_text().replace("Claim within 30 days", "Claim within 60 days"))
    git(repo, "commit", "-qam", "typo", when="2026-12-01T09:00:00+00:00")
    return repo


def cli(config: Path, *args: str) -> Any:
    result = CliRunner().invoke(app, ["-c", str(config), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_passage_basis_in_sources_stale_and_answers(tmp_path: Path, home: Path) -> None:
    repo = typo_fixed_repo(tmp_path)
    config = tmp_path / "bestbefore.toml"
    config.write_text(
        f'[[sources]]\nname = "handbook"\npath = "{repo}"\n\n[index]\nembedder = "hashing"\n\n'
        '[staleness]\ndefault = "1y"\n'
    )
    cli(config, "ingest", "--json")
    [row] = json.loads(cli(config, "sources", "--json").stdout)
    assert row["updated_at"] == "2026-12-01T09:00:00+00:00"
    assert row["oldest_passage_at"] == "2022-03-10T12:00:00+00:00"

    assert json.loads(cli(config, "stale", "--json").stdout) == []  # the page was touched two days ago
    [stale] = json.loads(cli(config, "stale", "--basis", "passage", "--json").stdout)  # but it is mostly 2022
    assert stale["doc_id"] == "handbook:travel.md" and stale["age_days"] > 365

    answer = json.loads(cli(config, "ask", "how much for hotels in capital cities?", "--json").stdout)
    [source] = [s for s in answer["sources"] if s["cited"]]
    assert source["passage_at"] == "2022-03-10T12:00:00+00:00" and not source["stale"]
    shown = cli(config, "ask", "how much for hotels in capital cities?").stdout
    assert "the cited passage is from March 2022" in shown

    config.write_text(config.read_text() + 'basis = "passage"\n')
    answer = json.loads(cli(config, "ask", "how much for hotels in capital cities?", "--json").stdout)
    assert [s["stale"] for s in answer["sources"] if s["cited"]] == [True]
    assert "whose cited passage is from March 2022" in answer["stale_warning"]


def test_a_front_matter_review_date_wins_over_the_passage_basis() -> None:
    from rag.answer.staleness import StalenessPolicy
    from rag.models import DateOrigin, DocMeta

    policy = StalenessPolicy(default=timedelta(days=365), basis="passage")
    old_passage = datetime(2020, 1, 1, tzinfo=UTC)
    reviewed = DocMeta("h:a.md", "h", "a.md", "A", "x", NOW - timedelta(days=10), DateOrigin.FRONT_MATTER)
    from_git = DocMeta("h:a.md", "h", "a.md", "A", "x", NOW - timedelta(days=10), DateOrigin.GIT)
    assert policy.check(reviewed, NOW, old_passage) is None  # a review vouches for the whole page
    assert policy.check(from_git, NOW, old_passage) is not None
    assert StalenessPolicy(default=timedelta(days=365)).check(from_git, NOW, old_passage) is None  # basis "page"


def test_stale_suggest_proposes_thresholds_from_the_commit_history(tmp_path: Path, home: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "policies").mkdir(parents=True)
    (repo / "runbooks").mkdir()
    git(repo, "init", "-q")
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for step in range(6):  # policies change every 10 days, runbooks every 90
        for folder, every in (("policies", 10), ("runbooks", 90)):
            page = repo / folder / "a.md"
            page.write_text(f"# {folder}\n\nVersion {step}.\n")
            git(repo, "add", ".")
            git(repo, "commit", "-qm", f"{folder} {step}", when=(start + timedelta(days=every * step)).isoformat())
    (repo / "once.md").write_text("# Once\n\nWritten once.\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "once", when=start.isoformat())
    config = tmp_path / "bestbefore.toml"
    config.write_text(f'[[sources]]\nname = "hb"\npath = "{repo}"\n\n[index]\nembedder = "hashing"\n')
    found = json.loads(cli(config, "stale", "--suggest", "--json").stdout)
    assert found == [
        {"glob": "hb/*", "files": 1, "intervals": 0, "median_interval_days": None, "suggested": None},
        {"glob": "hb/policies/**", "files": 1, "intervals": 5, "median_interval_days": 10.0, "suggested": "30d"},
        {"glob": "hb/runbooks/**", "files": 1, "intervals": 5, "median_interval_days": 90.0, "suggested": "180d"},
    ]
    shown = cli(config, "stale", "--suggest").stdout
    assert '[staleness.paths]\n"hb/policies/**" = "30d"\n"hb/runbooks/**" = "180d"' in shown
    assert "not enough history" in shown
