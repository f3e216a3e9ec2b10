"""Configuration errors are caught at load, by every command: one line naming the key and its line, exit code 2.

Each case was a silent misbehaviour or a traceback before (#10): duplicate source names (each ingest deleted the other
source's documents), a channel naming an unknown source (every question there refused), a bad time zone
(``ZoneInfoNotFoundError``), a bad cron line (only noticed by ``jobs``), an overflowing duration (``OverflowError``),
a zero threshold, ``ask --source nope`` (a refusal with exit code 0) and ``/dashboard/data?window=`` (HTTP 500).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette
from typer.testing import CliRunner, Result

from bestbefore.cli import app as cli
from bestbefore.dashboard import dashboard_routes
from bestbefore.services import Services
from rag.config import load_app_config, load_settings
from rag.durations import parse_duration
from rag.errors import ConfigError
from tests.conftest import free_port

SOURCES = '[[sources]]\nname = "docs"\npath = "docs"\n\n[index]\nembedder = "hashing"\n'


def one_line_error(result: Result, *needles: str, code: int = 2) -> str:
    """The command failed with ``code``, printed one ``Error:`` line holding every needle, and no traceback."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not an exception escaping the CLI
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def make_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory (the current one from now on) with a ``docs`` folder of two small documents."""
    work = tmp_path / "work"
    (work / "docs").mkdir(parents=True)
    (work / "docs" / "leave.md").write_text("# Leave\n\nEveryone gets 25 days of paid leave a year.\n")
    (work / "docs" / "laptops.md").write_text("# Laptops\n\nLaptops are replaced every three years.\n")
    monkeypatch.chdir(work)
    return work


def make_indexed_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """:func:`make_project` with bestbefore.toml (source ``docs``, hashing embedder), ingested into BESTBEFORE_HOME."""
    work = make_project(tmp_path, monkeypatch)
    configure(work, SOURCES)
    assert CliRunner().invoke(cli, ["ingest"]).exit_code == 0
    return work


@pytest.fixture
def project(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_project(tmp_path, monkeypatch)


def configure(project: Path, text: str) -> Path:
    path = project / "bestbefore.toml"
    path.write_text(text, encoding="utf-8")
    return path


BAD_CONFIGS = {
    "duplicate source name": (
        SOURCES + '\n[[sources]]\nname = "docs"\npath = "other"\n',
        ["sources.1.name", "line 9", "'docs' is already the name of sources.0"],
    ),
    "channel names an unknown source": (
        SOURCES + '\n[channels.C0123]\nsources = ["docs", "wiki"]\n',
        ["channels.C0123.sources", "line 9", "no source named 'wiki' (sources: docs)"],
    ),
    "inline channel table names an unknown source": (
        SOURCES + '\n[channels]\n"#general" = { sources = ["wiki"] }\n',
        ["channels.#general.sources", "line 9", "no source named 'wiki'"],
    ),
    "threshold for an unknown source": (
        SOURCES + '\n[staleness.sources]\nwiki = "30d"\n',
        ["staleness.sources.wiki", "line 9", "no source named 'wiki'"],
    ),
    "bad time zone": (
        SOURCES + '\n[schedules]\ntimezone = "Mars/Olympus_Mons"\n',
        ["schedules.timezone", "line 9", "unknown time zone 'Mars/Olympus_Mons'"],
    ),
    "bad cron line": (
        SOURCES + '\n[schedules]\nrefresh = "0 3 * * *"\nwatchdog = "61 8 * * *"\n',
        ["schedules.watchdog", "line 10", "'61 8 * * *'", "higher than the maximum value (59)"],
    ),
    "cron line with four fields": (
        SOURCES + '\n[schedules]\ndigest = "0 9 * mon"\n',
        ["schedules.digest", "line 9", "5 fields"],
    ),
    "overflowing duration": (
        SOURCES + '\n[staleness]\ndefault = "99999999999d"\n',
        ["staleness.default", "line 9", "'99999999999d' is too long", "1000y"],
    ),
    "overflowing per-source threshold": (
        '[[sources]]\nname = "docs"\npath = "docs"\nstaleness = "99999999999y"\n',
        ["sources.0.staleness", "line 4", "too long"],
    ),
    "zero threshold": (
        SOURCES + '\n[staleness.paths]\n"docs/runbooks/**" = "0d"\n',
        ["staleness.paths.docs/runbooks/**", "line 9", "'0d' is zero"],
    ),
    "zero cache time to live": (
        SOURCES + '\n[cache]\nquery_ttl = "0s"\n',
        ["cache.query_ttl", "line 9", "is zero"],
    ),
    "dashboard window longer than the dashboard shows": (
        SOURCES + '\n[monitoring]\ndashboard_window = "9999d"\n',
        ["monitoring.dashboard_window", "line 9", "400d"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
@pytest.mark.parametrize(
    "command", [["sources"], ["ingest"], ["ask", "how many days of leave?"], ["jobs"]], ids=lambda c: c[0]
)
def test_every_command_refuses_a_bad_config_in_one_line(project: Path, case: str, command: list[str]) -> None:
    text, needles = BAD_CONFIGS[case]
    configure(project, text)
    result = CliRunner().invoke(cli, command)
    one_line_error(result, "bestbefore.toml", *needles)
    assert not (project.parent / "home" / "index.sqlite").exists()  # refused before anything was opened


def test_duplicate_source_names_cannot_delete_each_others_documents(project: Path) -> None:
    configure(project, SOURCES)
    assert CliRunner().invoke(cli, ["ingest"]).exit_code == 0
    (project / "other").mkdir()
    (project / "other" / "wiki.md").write_text("# Wiki\n\nThe wiki lives on the intranet.\n")
    configure(project, SOURCES + '\n[[sources]]\nname = "docs"\npath = "other"\n')
    one_line_error(CliRunner().invoke(cli, ["ingest"]), "sources.1.name", "its own name")
    configure(project, SOURCES)
    listed = CliRunner().invoke(cli, ["sources", "--json"])
    assert listed.exit_code == 0 and "leave.md" in listed.stdout and "laptops.md" in listed.stdout


def test_several_problems_are_one_line_each(project: Path) -> None:
    configure(project, SOURCES + '\n[staleness]\ndefault = "0d"\n\n[schedules]\ntimezone = "Nowhere/City"\n')
    result = CliRunner().invoke(cli, ["stale"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert lines[0] == "Error: Invalid config:"
    assert any("line 9: staleness.default" in line for line in lines[1:])
    assert any("line 12: schedules.timezone" in line for line in lines[1:])


def test_load_app_config_checks_the_same_without_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "bestbefore.toml"
    path.write_text('[[sources]]\nname = "a"\npath = "a"\n\n[[sources]]\nname = "a"\npath = "b"\n')
    with pytest.raises(ConfigError, match=r"line 6: sources\.1\.name: 'a' is already"):
        load_app_config(path)


def test_parse_duration_refuses_overflow_with_a_value_error() -> None:
    for text in ("99999999999d", "1001y", "9" * 400 + "s", float("inf")):
        with pytest.raises(ValueError, match="too long"):
            parse_duration(text)
    assert parse_duration("1000y").days == 365242


@pytest.fixture
def indexed(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_indexed_project(tmp_path, monkeypatch)


def test_ask_with_an_unknown_source_is_an_error_not_a_refusal(indexed: Path) -> None:
    result = CliRunner().invoke(cli, ["ask", "How many days of leave?", "--source", "nope"])
    one_line_error(result, "--source", "no source named 'nope' (sources: docs)")
    answered = CliRunner().invoke(cli, ["ask", "How many days of leave?", "--source", "docs"])
    assert answered.exit_code == 0 and "25 days of paid leave" in answered.stdout


def test_ask_accepts_a_source_still_in_the_index(indexed: Path) -> None:
    configure(indexed, SOURCES.replace('name = "docs"', 'name = "handbook"'))  # renamed: old docs still indexed
    answered = CliRunner().invoke(cli, ["ask", "How many days of leave?", "--source", "docs"])
    assert answered.exit_code == 0 and "25 days of paid leave" in answered.stdout


@pytest.mark.parametrize(
    ("command", "needles"),
    [
        (["ingest", "--source", "nope"], ["No source named 'nope'", "sources: docs"]),
        (["refresh", "-s", "nope"], ["No source named 'nope'"]),
        (["stats", "--since", "99999999999d"], ["--since", "too long"]),
        (["stats", "--since", "0d"], ["--since"]),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(indexed: Path, command: list[str], needles: list[str]) -> None:
    one_line_error(CliRunner().invoke(cli, command), *needles)


@pytest.fixture
def dashboard(home: Path, tmp_path: Path) -> Iterator[str]:
    settings = load_settings(cwd=tmp_path, bestbefore_dashboard_token=SecretStr("letmein"))
    services = Services(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=dashboard_routes(services)), port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    services.close()


@pytest.mark.parametrize("window", ["99999999999d", "9" * 400 + "d", "0d", "401d", "soon"])
def test_dashboard_window_out_of_range_is_a_400_with_one_line(dashboard: str, window: str) -> None:
    response = httpx.get(
        f"{dashboard}/dashboard/data", params={"window": window}, headers={"Authorization": "Bearer letmein"}
    )
    assert response.status_code == 400
    message = response.json()["error"]
    assert "\n" not in message and "Traceback" not in response.text
    ok = httpx.get(f"{dashboard}/dashboard/data", params={"window": "7d"}, headers={"Authorization": "Bearer letmein"})
    assert ok.status_code == 200 and ok.json()["window"] == "7d"
