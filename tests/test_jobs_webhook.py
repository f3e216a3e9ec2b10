"""``POST /hooks/refresh`` over a real HTTP server: signatures accepted / rejected, 202 at once, bursts coalesced."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import SecretStr
from starlette.routing import Route

from bestbefore.web import create_web_app
from jobs.runs import JobDeps
from jobs.webhook import RefreshQueue, refresh_webhook_route, signature, signed_headers
from tests.conftest import free_port
from tests.fakes.jobs_support import ledger_of, make_deps

SECRET = "whsec-test-7f3a9c"


class Server:
    """The web app (bestbefore.web.create_web_app with the webhook route) under uvicorn on a free port."""

    def __init__(self, route: Route) -> None:
        app = create_web_app(None, slack_app=None, extra_routes=[route])  # type: ignore[arg-type]
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> httpx.Client:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(10)


def post(
    client: httpx.Client, payload: Any, *, secret: str = SECRET, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = json.dumps(payload).encode()
    return client.post(
        "/hooks/refresh", content=body, headers=headers if headers is not None else signed_headers(secret, body)
    )


@pytest.fixture
def deps(tmp_path: Path, home: Path) -> Iterator[JobDeps]:
    deps = make_deps(tmp_path)
    yield deps
    ledger_of(deps).close()


def test_signed_request_refreshes_the_named_paths_in_the_background(deps: JobDeps) -> None:
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)

    def refresh(source: str, paths: tuple[str, ...] | None) -> None:
        deps.index.indexer.refresh([deps.settings.app.source(source)], paths=paths, now=now).raise_for_failures()

    queue = RefreshQueue(refresh)
    with Server(refresh_webhook_route(SecretStr(SECRET), queue, ["handbook"])) as client:
        response = post(client, {"source": "handbook", "paths": ["leave.md", "laptops.md"]})
        assert response.status_code == 202
        assert response.json() == {"accepted": True, "source": "handbook", "paths": ["leave.md", "laptops.md"],
                                   "coalesced": False}  # fmt: skip
        assert queue.wait_idle(30)
    runs = deps.ledger.refresh_runs_between(now, now.replace(hour=13))
    assert [(r["ok"], r["result"]["docs_new"]) for r in runs] == [(True, 2)]
    indexed = sorted(d.meta.path for d in deps.index.store.stored_docs().values())
    assert indexed == ["laptops.md", "leave.md"]
    queue.close()


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing"),
        ({"X-Bestbefore-Timestamp": "{now}", "X-Bestbefore-Signature": "sha256=" + "0" * 64}, "invalid signature"),
        ({"X-Bestbefore-Timestamp": "{old}", "X-Bestbefore-Signature": "{old_sig}"}, "too old"),
        ({"X-Bestbefore-Timestamp": "{now}", "X-Bestbefore-Signature": "{wrong_secret}"}, "invalid signature"),
        ({"X-Bestbefore-Timestamp": "yesterday", "X-Bestbefore-Signature": "sha256=00"}, "unix seconds"),
    ],
)
def test_unsigned_forged_or_old_requests_are_rejected(headers: dict[str, str], reason: str) -> None:
    calls: list[str] = []
    queue = RefreshQueue(lambda source, paths: calls.append(source))
    body = json.dumps({"source": "handbook"}).encode()
    now, old = str(int(time.time())), str(int(time.time()) - 301)
    values = {"now": now, "old": old, "old_sig": signature(SECRET, old, body),
              "wrong_secret": signature("not-the-secret", now, body)}  # fmt: skip
    filled = {k: v.format(**values) for k, v in headers.items()}
    with Server(refresh_webhook_route(SecretStr(SECRET), queue, ["handbook"])) as client:
        response = client.post("/hooks/refresh", content=body, headers=filled)
        assert response.status_code == 401
        assert reason in response.json()["error"]
        assert SECRET not in response.text
        # the body is signed as sent: a valid signature over another body does not carry over
        tampered = json.dumps({"source": "handbook", "paths": ["x.md"]}).encode()
        forged = client.post("/hooks/refresh", content=tampered, headers=signed_headers(SECRET, body))
        assert forged.status_code == 401
    assert queue.wait_idle(5) and calls == []
    queue.close()


def test_bad_bodies_get_clear_errors_and_no_secret_means_disabled() -> None:
    queue = RefreshQueue(lambda source, paths: None)
    with Server(refresh_webhook_route(SecretStr(SECRET), queue, ["handbook"])) as client:
        assert "no source named 'wiki'" in post(client, {"source": "wiki"}).json()["error"]
        assert post(client, {"source": "handbook", "paths": ["../etc/passwd"]}).status_code == 422
        assert post(client, {"paths": ["a.md"]}).status_code == 422
        big = client.post("/hooks/refresh", content=b"x" * 70_000, headers=signed_headers(SECRET, b"x" * 70_000))
        assert big.status_code == 413
    with Server(refresh_webhook_route(None, queue, ["handbook"])) as client:
        response = post(client, {"source": "handbook"})
        assert response.status_code == 503 and "BESTBEFORE_WEBHOOK_SECRET" in response.json()["error"]
    queue.close()


def test_a_burst_coalesces_into_one_pending_refresh_per_source() -> None:
    release = threading.Event()
    started = threading.Event()
    calls: list[tuple[str, tuple[str, ...] | None]] = []

    def refresh(source: str, paths: tuple[str, ...] | None) -> None:
        calls.append((source, paths))
        started.set()
        release.wait(10)

    queue = RefreshQueue(refresh)
    with Server(refresh_webhook_route(SecretStr(SECRET), queue, ["handbook", "wiki"])) as client:
        first = post(client, {"source": "handbook", "paths": ["a.md"]})
        assert first.status_code == 202 and started.wait(10)  # the first refresh is running (and blocked)
        burst = [post(client, {"source": "handbook", "paths": [f"{name}.md"]}) for name in "bcb"]
        wiki = post(client, {"source": "wiki"})
        assert [r.status_code for r in burst] == [202, 202, 202] and wiki.status_code == 202
        assert [r.json()["coalesced"] for r in burst] == [False, True, True]
        release.set()
        assert queue.wait_idle(10)
    assert calls == [("handbook", ("a.md",)), ("handbook", ("b.md", "c.md")), ("wiki", None)]
    queue.close()


def test_a_whole_source_request_absorbs_pending_paths_and_a_failing_refresh_keeps_the_worker() -> None:
    gate = threading.Event()
    started = threading.Event()
    calls: list[tuple[str, tuple[str, ...] | None]] = []

    def refresh(source: str, paths: tuple[str, ...] | None) -> None:
        calls.append((source, paths))
        started.set()
        gate.wait(10)
        if len(calls) == 1:
            raise RuntimeError("store unavailable")

    queue = RefreshQueue(refresh)
    queue.submit("handbook", ["a.md"])
    assert started.wait(10)
    queue.submit("handbook", ["b.md"])
    queue.submit("handbook", None)
    queue.submit("handbook", ["c.md"])
    gate.set()
    assert queue.wait_idle(10)
    assert calls == [("handbook", ("a.md",)), ("handbook", None)]
    queue.close()


def test_signed_paths_never_follow_a_symlink_out_of_the_source(deps: JobDeps, tmp_path: Path) -> None:
    """A signed request naming files through a symlinked folder (or a symlinked file) indexes nothing outside."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("# Secret\n\nThe root password is hunter2.\n", encoding="utf-8")
    docs = deps.settings.app.source("handbook").path
    (docs / "shared").symlink_to(outside, target_is_directory=True)
    (docs / "passwd.md").symlink_to(outside / "secret.md")
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)

    def refresh(source: str, paths: tuple[str, ...] | None) -> None:
        deps.index.indexer.refresh([deps.settings.app.source(source)], paths=paths, now=now).raise_for_failures()

    queue = RefreshQueue(refresh)
    with Server(refresh_webhook_route(SecretStr(SECRET), queue, ["handbook"])) as client:
        paths = ["shared/secret.md", "shared", "passwd.md", "leave.md"]
        assert post(client, {"source": "handbook", "paths": paths}).status_code == 202
        assert queue.wait_idle(30)
        assert sorted(d.meta.path for d in deps.index.store.stored_docs().values()) == ["leave.md"]
        (run,) = deps.ledger.refresh_runs_between(now, now.replace(hour=13))
        reasons = {s["path"]: s["reason"] for s in run["result"]["skipped"]}
        assert reasons["shared/secret.md"] == "path goes through the symbolic link shared (not followed)"
        assert reasons["shared"].startswith("symbolic link to a folder pointing outside the source folder")
        assert reasons["passwd.md"].startswith("symbolic link pointing outside the source folder")
        assert run["result"]["docs_skipped"] == 3

        refused = post(client, {"source": "handbook", "paths": ["leave.md\x00.md"]})
        assert refused.status_code == 422 and "control characters" in refused.json()["error"]
    queue.close()
