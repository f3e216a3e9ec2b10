"""The hostile folder (tests/data/hostile/make_hostile.py) through the real CLI: ``ingest``, ``refresh``, ``sources``
and ``digest`` finish, index every good file and report every bad one with its reason — in the table, in
``--json``, in the ledger's refresh record and in the weekly digest (#10)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bestbefore.cli import app
from bestbefore.console import console
from jobs.weeks import week_of

sys.path.insert(0, str(Path(__file__).parent / "data" / "hostile"))
from make_hostile import Hostile, build, remove_tree  # noqa: E402

runner = CliRunner()


@pytest.fixture
def hostile(tmp_path: Path, home: Path) -> Iterator[tuple[Hostile, Path]]:
    made = build(tmp_path / "hostile")
    config = tmp_path / "bestbefore.toml"
    config.write_text(f'[[sources]]\nname = "hostile"\npath = "{made.docs}"\n\n[index]\nembedder = "hashing"\n')
    yield made, config
    remove_tree(made.docs / "deep")  # deeper than pytest's recursive clean-up can go


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def cli_json(*args: str) -> Any:
    return json.loads(cli(*args, "--json"))


def assert_reported(skipped: list[dict[str, str]], made: Hostile) -> None:
    found = {s["path"]: s["reason"] for s in skipped}
    assert set(found) == set(made.bad), set(found) ^ set(made.bad)
    for path, fragment in made.bad.items():
        assert fragment in found[path].lower(), (path, found[path])


@pytest.mark.timeout(120)  # the bar is 30 s (benchmarks/hostile_ingest.py); today's code never finishes
def test_a_hostile_folder_is_ingested_good_files_indexed_bad_ones_reported(
    hostile: tuple[Hostile, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    made, config = hostile
    monkeypatch.setattr(console, "width", 400)  # tables unwrapped, so the assertions can read whole reasons
    report = cli_json("-c", str(config), "ingest")
    assert report["docs_new"] == len(made.good) + len(made.warned)
    assert report["docs_skipped"] == len(made.bad)
    assert_reported(report["skipped"], made)
    assert {w["path"]: w["warning"] for w in report["date_warnings"]}.keys() == made.warned.keys()

    rows = cli_json("-c", str(config), "sources")
    indexed = {row["doc_id"].split(":", 1)[1]: row for row in rows}
    assert set(indexed) == made.good | set(made.warned)
    for path, fragment in made.warned.items():
        assert fragment in indexed[path]["date_warning"], path
        assert indexed[path]["date_origin"] == "first_seen"  # not a git repo: dated when first seen, not 2031
    assert all(indexed[path]["date_warning"] is None for path in made.good)
    assert not any("hunter2" in row["title"] for row in rows)

    table = " ".join(cli("-c", str(config), "sources").split())
    assert "Date warning" in table and "last_reviewed: 2031-01-01 is in the future" in table
    assert "[/oops] [bold]" in table  # rich markup in a title is shown, not interpreted (or crashing)

    again = " ".join(cli("-c", str(config), "refresh").split())  # the human output, with every reason in it
    assert f"{len(made.bad)} files skipped" in again and "a FIFO (named pipe)" in again
    assert f"{len(made.warned)} dates not trusted" in again
    assert "Nothing changed" in again

    digest = cli_json("-c", str(config), "digest", "--week", week_of(datetime.now(UTC), UTC))
    assert digest["figures"]["files_skipped"]["value"] == len(made.bad)
    assert {s["path"] for s in digest["skipped_files"]} == set(made.bad)
    assert {s["source"] for s in digest["skipped_files"]} == {"hostile"}
