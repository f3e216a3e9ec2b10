"""``bestbefore serve`` and the web app: clear configuration errors, extra routes, and a real served process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from typer.testing import CliRunner

from bestbefore.cli import app as cli
from bestbefore.services import Services
from bestbefore.web import create_web_app
from rag.config import Settings
from tests.conftest import free_port
from tests.fakes.bot_harness import SECRET, WebServer
from tests.fakes.slack_fake import BOT_TOKEN, BOT_USER, FakeSlack, event_body, signed_headers


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack().start()
    yield server
    server.stop()


@pytest.fixture
def workdir(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory (no .env, a bestbefore.toml using the hashing embedder)."""
    path = tmp_path / "work"
    path.mkdir()
    (path / "bestbefore.toml").write_text('[index]\nembedder = "hashing"\n')
    monkeypatch.chdir(path)
    return path


def test_serve_without_bot_token_names_the_variable(workdir: Path) -> None:
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2  # a configuration error
    assert "SLACK_BOT_TOKEN is not set" in result.output


def test_serve_over_http_without_signing_secret_says_what_to_set(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2
    assert "SLACK_SIGNING_SECRET is not set" in result.output and "SLACK_APP_TOKEN" in result.output


def test_serve_with_a_rejected_token_fails_clearly_without_echoing_it(
    workdir: Path, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-wrong-secret-value")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("SLACK_API_URL", fake.url)
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2
    assert "Slack did not accept SLACK_BOT_TOKEN" in result.output and "invalid_auth" in result.output
    assert "xoxb-wrong-secret-value" not in result.output


def test_web_app_serves_healthz_and_extra_routes_without_slack(home: Path) -> None:
    async def hello(request: object) -> PlainTextResponse:
        return PlainTextResponse("extra")

    services = Services(Settings(_env_file=None, bestbefore_home=home))  # type: ignore[call-arg]
    web = WebServer(create_web_app(services, slack_app=None, extra_routes=[Route("/extra", hello)])).start()
    try:
        with httpx.Client() as http:
            assert http.get(web.url + "/healthz").json() == {"status": "ok"}
            assert http.get(web.url + "/extra").text == "extra"
            assert http.post(web.url + "/slack/events", content=b"{}").status_code == 404
    finally:
        web.stop()
        services.close()


def test_bestbefore_serve_process_answers_a_signed_event(workdir: Path, fake: FakeSlack) -> None:
    port = free_port()
    env = {**os.environ, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.url}
    command = [str(Path(sys.executable).parent / "bestbefore"), "serve", "--port", str(port), "--host", "127.0.0.1"]
    process = subprocess.Popen(command, env=env, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        with httpx.Client(timeout=5) as http:
            while True:
                try:
                    if http.get(base + "/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None and time.monotonic() < deadline, "bestbefore serve did not start"
                time.sleep(0.1)
            ts = fake.add_message("C0GENERAL", f"<@{BOT_USER}> hello?", user="U0ALICE")
            event = {"type": "app_mention", "user": "U0ALICE", "text": f"<@{BOT_USER}> hello?", "ts": ts,
                     "channel": "C0GENERAL", "event_ts": ts}  # fmt: skip
            raw = json.dumps(event_body(event)).encode()
            response = http.post(base + "/slack/events", content=raw, headers=signed_headers(SECRET, raw))
            assert response.status_code == 200
        fake.wait_for(lambda f: len(f.calls_to("chat.update")) == 1, timeout=20)
        [update] = fake.calls_to("chat.update")
        assert "couldn't find this in the docs" in update.params["text"]  # the index is empty
    finally:
        process.send_signal(signal.SIGINT)
        try:
            output = process.communicate(timeout=15)[0].decode()
        except subprocess.TimeoutExpired:
            process.kill()
            output = process.communicate()[0].decode()
    assert BOT_TOKEN not in output and SECRET not in output
