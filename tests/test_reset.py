"""``bestbefore reset`` deletes only what bestbefore created in BESTBEFORE_HOME, and asks first unless ``--yes``."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bestbefore.cli import app as cli
from tests.test_config_errors import make_indexed_project, one_line_error


@pytest.fixture
def indexed(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_indexed_project(tmp_path, monkeypatch)


@pytest.fixture
def used_home(home: Path, indexed: Path) -> Path:
    """BESTBEFORE_HOME after a real ingest and question (index + ledger), plus files the user put there."""
    assert CliRunner().invoke(cli, ["ask", "How many days of leave?"]).exit_code == 0
    (home / "notes.txt").write_text("my notes")
    (home / "backups").mkdir()
    (home / "backups" / "index.sqlite").write_text("an old copy")
    return home


def snapshot(home: Path) -> dict[str, int]:
    return {str(p.relative_to(home)): p.stat().st_size for p in home.rglob("*") if p.is_file()}


def test_reset_yes_deletes_only_bestbefore_files(used_home: Path) -> None:
    assert {"index.sqlite", "ledger.sqlite"} <= {p.name for p in used_home.iterdir()}
    result = CliRunner().invoke(cli, ["reset", "--yes"])
    assert result.exit_code == 0, result.output
    assert "index.sqlite" in result.stdout and "ledger.sqlite" in result.stdout
    assert sorted(p.name for p in used_home.iterdir()) == ["backups", "notes.txt"]
    assert (used_home / "notes.txt").read_text() == "my notes"
    assert (used_home / "backups" / "index.sqlite").read_text() == "an old copy"  # only the top-level files


def test_reset_keeps_writes_still_owed_to_database_url(used_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (used_home / "ledger-spill.jsonl").write_text('{"kind": "answer"}\n')
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://bestbefore@127.0.0.1:5432/ledger")  # not contacted
    assert CliRunner().invoke(cli, ["reset", "--yes"]).exit_code == 0
    assert sorted(p.name for p in used_home.iterdir()) == ["backups", "ledger-spill.jsonl", "notes.txt"]
    monkeypatch.delenv("DATABASE_URL")
    assert CliRunner().invoke(cli, ["reset", "--yes"]).exit_code == 0  # a local ledger's spill goes with it
    assert sorted(p.name for p in used_home.iterdir()) == ["backups", "notes.txt"]


def test_reset_removes_the_folder_when_it_held_only_bestbefore_files(used_home: Path) -> None:
    (used_home / "notes.txt").unlink()
    (used_home / "backups" / "index.sqlite").unlink()
    (used_home / "backups").rmdir()
    assert CliRunner().invoke(cli, ["reset", "-y"]).exit_code == 0
    assert not used_home.exists()
    again = CliRunner().invoke(cli, ["reset", "--yes"])
    assert again.exit_code == 0 and "Nothing to remove" in again.stdout


def test_reset_without_yes_and_without_a_terminal_refuses(used_home: Path) -> None:
    before = snapshot(used_home)
    result = CliRunner().invoke(cli, ["reset"], input="y\n")  # piped input is not a confirmation
    one_line_error(result, "--yes", "nothing removed")
    assert snapshot(used_home) == before


def run_on_a_terminal(cwd: Path, args: list[str], answer: str) -> tuple[int, str]:
    """Run ``bestbefore args`` with a pseudo-terminal as stdin/stdout, answer its prompt, return (exit code, text)."""
    controller, terminal = pty.openpty()
    command = [str(Path(sys.executable).parent / "bestbefore"), *args]
    process = subprocess.Popen(command, cwd=cwd, stdin=terminal, stdout=terminal, stderr=terminal, env=os.environ)
    os.close(terminal)
    seen = b""
    answered = False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(controller, 4096)
                except OSError:  # the terminal closed: the process is done
                    break
                if not chunk:
                    break
                seen += chunk
            if not answered and b"[y/N]" in seen:
                os.write(controller, answer.encode() + b"\r")
                answered = True
            if process.poll() is not None and not ready:
                break
        return process.wait(timeout=15), seen.decode(errors="replace")
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()


def test_reset_asks_on_a_terminal_and_no_keeps_everything(used_home: Path) -> None:
    code, text = run_on_a_terminal(Path.cwd(), ["reset"], "n")
    assert "Delete index.sqlite" in text and "[y/N]" in text
    assert code == 1 and "Nothing removed" in text
    assert (used_home / "index.sqlite").exists() and (used_home / "ledger.sqlite").exists()


def test_reset_asks_on_a_terminal_and_yes_deletes(used_home: Path) -> None:
    code, text = run_on_a_terminal(Path.cwd(), ["reset"], "y")
    assert code == 0, text
    assert sorted(p.name for p in used_home.iterdir()) == ["backups", "notes.txt"]
