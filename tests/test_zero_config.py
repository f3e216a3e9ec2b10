"""Zero configuration: `bestbefore ingest PATH` with no bestbefore.toml, remembered for the next commands (#12)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bestbefore.cli import app

runner = CliRunner()


def run(*args: str, ok: bool = True) -> dict | list:  # type: ignore[type-arg]
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert (result.exit_code == 0) == ok, result.output
    return json.loads(result.stdout) if ok and "--json" in args else {"output": result.output}


@pytest.fixture
def team_docs(tmp_path: Path) -> Path:
    """A small docs folder that is a git work tree, committed on a known date."""
    folder = tmp_path / "team docs"
    (folder / "guides").mkdir(parents=True)
    (folder / "guides" / "deploy.md").write_text(
        "---\ntitle: Deploying <em>safely</em>\n---\n\nDeploys happen on Tuesdays after the stand-up meeting.\n"
    )
    (folder / "index.md").write_text("# Team docs\n\nWelcome to the team documentation for the platform team.\n")
    env = {"GIT_AUTHOR_DATE": "2024-03-01T12:00:00Z", "GIT_COMMITTER_DATE": "2024-03-01T12:00:00Z"}
    git = ["git", "-C", str(folder), "-c", "user.name=T", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "docs"], check=True, env={**env, "PATH": "/usr/bin:/bin"})
    return folder


def test_ingest_a_folder_then_every_command_works_without_config(
    home: Path, team_docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    monkeypatch.chdir(workdir)  # no bestbefore.toml here
    report = run("ingest", str(team_docs), "--json")
    assert report["source"] == "team-docs" and report["docs_new"] == 2
    assert (home / "sources.json").exists()

    sources = run("sources", "--json")
    assert {s["doc_id"] for s in sources} == {"team-docs:guides/deploy.md", "team-docs:index.md"}
    assert {s["date_origin"] for s in sources} == {"git"}
    assert all(s["updated_at"].startswith("2024-03-01") for s in sources)
    assert next(s for s in sources if s["doc_id"].endswith("deploy.md"))["title"] == "Deploying safely"

    answer = run("ask", "When do deploys happen?", "--json")
    assert not answer["refused"] and "Tuesdays" in answer["answer"]
    # committed 2024-03-01: both past the default 365 days
    assert {s["doc_id"] for s in run("stale", "--json")} == {"team-docs:guides/deploy.md", "team-docs:index.md"}
    assert run("refresh", "--json")["docs_unchanged"] == 2


def test_a_config_file_takes_over(home: Path, team_docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workdir = tmp_path / "project"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    run("ingest", str(team_docs), "--json")
    (workdir / "bestbefore.toml").write_text(f'[[sources]]\nname = "platform"\npath = "{team_docs}"\n')
    report = run("ingest", "--json")
    assert report["source"] == "platform" and report["docs_new"] == 2
    assert {s["doc_id"].split(":")[0] for s in run("sources", "--json")} == {"platform"}  # nothing of the old name
    assert not (home / "sources.json").exists()
    # ingest PATH with a config: the configured source of that folder
    assert run("ingest", str(team_docs), "--json")["docs_unchanged"] == 2


def test_not_a_folder_is_one_clear_line(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = run("ingest", str(tmp_path / "nope"), ok=False)["output"]
    assert "does not exist: give `bestbefore ingest` the folder that holds your docs" in out
    assert "Traceback" not in out
    assert not (home / "sources.json").exists()


def test_a_tech_docs_site_is_recognised(home: Path, gds_way_clone: Path, tmp_path: Path) -> None:
    from rag.ingest.folder_source import folder_source

    source = folder_source(gds_way_clone)
    assert source.name == "gds-way" and source.path == gds_way_clone / "source"
    assert source.url_base == "https://gds-way.digital.cabinet-office.gov.uk" and source.url == "{base}/{path_html}"
