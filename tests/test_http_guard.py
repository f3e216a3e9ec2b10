"""The HTTP server gives nothing away and cannot be exhausted: body limits before reading, signatures before parsing,
short error bodies, the dashboard token never in a URL nor in the access log. Real servers, real sockets.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bestbefore.dashboard import dashboard_routes
from bestbefore.dashboard_auth import SESSION_COOKIE
from bestbefore.http_guard import RequestGuard, redact_query
from bestbefore.services import Services
from bestbefore.web import MAX_EVENT_BYTES, create_web_app
from jobs.webhook import MAX_BODY_BYTES, RefreshQueue, refresh_webhook_route
from rag.config import Settings
from tests.fakes.bot_harness import SECRET, BotHarness, WebServer, start_harness
from tests.fakes.raw_http import chunked, send_raw
from tests.fakes.serve_process import serve_process
from tests.fakes.slack_fake import BOT_TOKEN, BOT_USER, FakeSlack, event_body, signed_headers

TOKEN = "dash-9f8e7d6c5b4a"
SHORT = 200  # bytes: every error body is at most this long


@pytest.fixture
def harness(home: Path) -> Iterator[BotHarness]:
    h = start_harness(home)
    yield h
    h.close()


def assert_short(response: httpx.Response | bytes) -> None:
    body = response if isinstance(response, bytes) else response.content
    assert len(body) <= SHORT and b"Traceback" not in body and b'File "' not in body


def signed_mention(text: str = "hello?") -> bytes:
    event = {"type": "app_mention", "user": "U0ALICE", "text": f"<@{BOT_USER}> {text}", "ts": "1700000000.000100",
             "channel": "C0GENERAL", "event_ts": "1700000000.000100"}  # fmt: skip
    return json.dumps(event_body(event)).encode()


def test_an_oversized_content_length_gets_413_before_any_body_is_sent(harness: BotHarness) -> None:
    result = send_raw(harness.web.url, "/slack/events", headers={"Content-Length": str(10**10)}, timeout=10)
    assert result.status == 413 and result.bytes_sent == 0  # nothing was sent, so nothing was read
    assert b"too large" in result.body
    assert_short(result.body)


def test_a_chunked_body_is_cut_at_the_limit(harness: BotHarness) -> None:
    planned = 256 * 1024 * 1024
    result = send_raw(harness.web.url, "/slack/events", headers={"Transfer-Encoding": "chunked"}, body=chunked(planned))
    assert result.status == 413
    assert result.bytes_sent < 64 * 1024 * 1024  # cut near the 1 MiB limit, not after 256 MiB
    assert_short(result.body)


def test_a_signed_chunked_event_under_the_limit_is_answered(harness: BotHarness) -> None:
    raw = signed_mention("how many days of paid holiday?")
    response = harness.http.post(
        harness.events_url, content=iter([raw[:10], raw[10:]]), headers=signed_headers(SECRET, raw)
    )
    assert response.status_code == 200 and response.request.headers.get("transfer-encoding") == "chunked"
    harness.wait_answered("C0GENERAL")


def test_a_body_just_over_the_limit_with_content_length_is_413(harness: BotHarness) -> None:
    response = harness.http.post(harness.events_url, content=b"{" + b" " * MAX_EVENT_BYTES + b"}")
    assert response.status_code == 413
    assert_short(response)


def test_malformed_unsigned_json_gets_a_short_401(harness: BotHarness) -> None:
    response = harness.http.post(
        harness.events_url,
        content=b'{"type": "event_callback", "event": {',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 401
    assert_short(response)


@pytest.mark.parametrize("timestamp", ["soon", "1e9", "-1", "9" * 40, ""])
def test_a_bad_timestamp_gets_a_short_401(harness: BotHarness, timestamp: str) -> None:
    raw = signed_mention()
    headers = {**signed_headers(SECRET, raw), "X-Slack-Request-Timestamp": timestamp}
    response = harness.http.post(harness.events_url, content=raw, headers=headers)
    assert response.status_code == 401
    assert_short(response)
    assert harness.fake.calls_to("chat.postMessage") == []


def test_signed_but_malformed_json_gets_a_short_400(harness: BotHarness) -> None:
    raw = b'{"type": "event_callback", "event": {'
    headers = {**signed_headers(SECRET, raw), "Content-Type": "application/json"}
    response = harness.http.post(harness.events_url, content=raw, headers=headers)
    assert response.status_code == 400
    assert_short(response)


def test_webhook_body_limit_comes_before_the_signature(home: Path) -> None:
    queue = RefreshQueue(lambda source, paths: None)
    route = refresh_webhook_route(SecretStr("whsec"), queue, ["handbook"])
    web = WebServer(create_web_app(None, slack_app=None, extra_routes=[route])).start()  # type: ignore[arg-type]
    try:
        result = send_raw(web.url, "/hooks/refresh", headers={"Content-Length": str(MAX_BODY_BYTES + 1)}, timeout=10)
        assert result.status == 413 and result.bytes_sent == 0
        unsigned = httpx.post(web.url + "/hooks/refresh", content=b'{"source": ')
        assert unsigned.status_code == 401 and len(unsigned.content) <= SHORT
    finally:
        web.stop()
        queue.close()


def test_an_exception_in_a_route_is_a_short_500_with_a_reference(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(request: Request) -> Response:
        raise RuntimeError("postgres://admin:hunter2@db is down")

    web = WebServer(RequestGuard(Starlette(routes=[Route("/broken", broken)]))).start()
    try:
        response = httpx.get(web.url + "/broken")
    finally:
        web.stop()
    assert response.status_code == 500 and b"hunter2" not in response.content
    assert_short(response)
    assert any("RuntimeError" in r.getMessage() and "hunter2" not in r.getMessage() for r in caplog.records)


def test_redact_query_blanks_credentials_only() -> None:
    assert redact_query("GET /dashboard?window=7d&token=abc HTTP/1.1") == (
        "GET /dashboard?window=7d&token=[redacted] HTTP/1.1"
    )
    assert redact_query("/x?api_key=1&q=token") == "/x?api_key=[redacted]&q=token"


@pytest.fixture
def dashboard(home: Path) -> Iterator[str]:
    settings = Settings(_env_file=None, bestbefore_home=home, bestbefore_dashboard_token=TOKEN)  # type: ignore[call-arg]
    services = Services(settings)
    web = WebServer(create_web_app(services, slack_app=None, extra_routes=dashboard_routes(services))).start()
    yield web.url
    web.stop()
    services.close()


def test_the_dashboard_token_in_the_query_string_is_refused(dashboard: str) -> None:
    for path in (
        f"/dashboard?token={TOKEN}",
        f"/dashboard/data?window=7d&token={TOKEN}",
        f"/dashboard/login?token={TOKEN}",
    ):
        response = httpx.get(dashboard + path)
        assert response.status_code == 400 and "Authorization: Bearer" in response.text and TOKEN not in response.text


def test_bearer_header_and_login_cookie_open_the_dashboard(dashboard: str) -> None:
    assert httpx.get(dashboard + "/dashboard/data").status_code == 401  # loopback needs the token too
    bearer = httpx.get(dashboard + "/dashboard/data?window=7d", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 200 and bearer.json()["questions"] == 0

    with httpx.Client(base_url=dashboard) as browser:
        wrong = browser.post("/dashboard/login", data={"token": "guess"})
        assert wrong.status_code == 401 and SESSION_COOKIE not in browser.cookies
        login = browser.post("/dashboard/login", data={"token": TOKEN})
        assert login.status_code == 303 and login.headers["location"] == "/dashboard"
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/dashboard" in cookie
        assert TOKEN not in cookie
        assert browser.get("/dashboard").status_code == 200
        assert browser.get("/dashboard/data?window=7d").json()["questions"] == 0
        browser.post("/dashboard/logout")
        assert browser.get("/dashboard/data").status_code == 401


def test_login_attempts_are_limited_per_client(dashboard: str) -> None:
    statuses = [httpx.post(dashboard + "/dashboard/login", data={"token": f"guess{n}"}).status_code for n in range(12)]
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack().start()
    yield server
    server.stop()


def test_bestbefore_serve_never_writes_the_token_to_its_access_log(home: Path, tmp_path: Path, fake: FakeSlack) -> None:
    (tmp_path / "bestbefore.toml").write_text('[index]\nembedder = "hashing"\n')
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.url,
           "BESTBEFORE_DASHBOARD_TOKEN": TOKEN, "BESTBEFORE_HOME": str(home)}  # fmt: skip
    with serve_process(tmp_path, env) as served, httpx.Client(base_url=served.base, timeout=10) as http:
        assert http.get(f"/dashboard?window=7d&token={TOKEN}").status_code == 400
        assert http.get("/dashboard", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        oversized = send_raw(served.base, "/slack/events", headers={"Content-Length": str(10**9)}, timeout=10)
        assert oversized.status == 413
        deadline = time.monotonic() + 10
        while "/dashboard?window=7d&token=[redacted]" not in served.log_so_far():  # the access line was written
            assert time.monotonic() < deadline, served.log_so_far()
            time.sleep(0.05)
    assert TOKEN not in served.output and SECRET not in served.output and "Traceback" not in served.output
