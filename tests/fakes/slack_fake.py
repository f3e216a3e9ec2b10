"""A small fake of the Slack Web API over real HTTP, for ``WebClient(base_url=fake.url)``; records every call.

It keeps channel messages (so ``chat.update`` edits in place and ``conversations.replies`` returns threads),
checks the bearer token, and serves the file-upload flow of ``files_upload_v2``. Also: helpers to sign Events
API requests the way Slack does (v0 HMAC-SHA256).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

BOT_TOKEN = "xoxb-test-bot-token"
APP_TOKEN = "xapp-test-app-token"
BOT_USER = "UBESTBOT1"
BOT_ID = "BBESTBOT1"
TEAM = "T0TESTTEAM"


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default (5) drops bursts of connections: clients then wait for a SYN retry


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class FakeSlack:
    def __init__(self, *, bot_token: str = BOT_TOKEN, app_token: str = APP_TOKEN) -> None:
        self.tokens = {bot_token, app_token}
        self.calls: list[Call] = []
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.uploads: dict[str, bytes] = {}
        self.users_by_email: dict[str, dict[str, Any]] = {}
        self.socket_url: str | None = None
        self.failures: dict[str, str] = {}  # method -> error returned (once)
        self._ts = itertools.count(1)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- test helpers ------------------------------------------------------------------------------------------

    def next_ts(self) -> str:
        return f"{1_700_000_000 + next(self._ts)}.000100"

    def add_message(self, channel: str, text: str, *, user: str, thread_ts: str | None = None, **extra: Any) -> str:
        """A message a person wrote (so ``conversations.replies`` can return it); returns its ts."""
        with self._lock:
            ts = self.next_ts()
            message = {"type": "message", "user": user, "text": text, "ts": ts, **extra}
            if thread_ts:
                message["thread_ts"] = thread_ts
            self.messages.setdefault(channel, []).append(message)
            return ts

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate: Callable[[FakeSlack], bool], timeout: float = 10.0) -> None:
        """Block until ``predicate(self)`` holds (re-checked after every call), or fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    names = [c.method for c in self.calls]
                    raise AssertionError(f"timed out waiting; calls so far: {names}")
                self._changed.wait(min(left, 0.2))

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        with self._lock:
            return next(m for m in self.messages.get(channel, []) if m["ts"] == ts)

    def bot_messages(self, channel: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self.messages.get(channel, []) if m.get("bot_id") == BOT_ID]

    # -- the API -----------------------------------------------------------------------------------------------

    def _api(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        with self._changed:
            self.calls.append(Call(method, params))
            self._changed.notify_all()
            if method in self.failures:
                return {"ok": False, "error": self.failures.pop(method)}
            handler = getattr(self, "_" + method.replace(".", "_"), None)
            result = handler(params) if handler else {"ok": True}
            self._changed.notify_all()
            return result

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True, "url": "https://test.slack.com/", "team": "Test", "user": "bestbefore", "team_id": TEAM,
            "user_id": BOT_USER, "bot_id": BOT_ID, "is_enterprise_install": False,
        }  # fmt: skip

    def _chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params["channel"]
        ts = self.next_ts()
        message = {
            "type": "message", "user": BOT_USER, "bot_id": BOT_ID, "text": params.get("text", ""),
            "blocks": _blocks(params), "ts": ts,
        }  # fmt: skip
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
        if params.get("metadata"):
            metadata = params["metadata"]
            message["metadata"] = json.loads(metadata) if isinstance(metadata, str) else metadata
        self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        for message in self.messages.get(params["channel"], []):
            if message["ts"] == params["ts"]:
                if message.get("bot_id") != BOT_ID:
                    return {"ok": False, "error": "cant_update_message"}
                message["text"] = params.get("text", "")
                message["blocks"] = _blocks(params)
                if params.get("metadata"):
                    metadata = params["metadata"]
                    message["metadata"] = json.loads(metadata) if isinstance(metadata, str) else metadata
                message["edited"] = {"user": BOT_USER, "ts": self.next_ts()}
                return {"ok": True, "channel": params["channel"], "ts": params["ts"], "text": message["text"]}
        return {"ok": False, "error": "message_not_found"}

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        thread = params["ts"]
        found = [
            m for m in self.messages.get(params["channel"], []) if m["ts"] == thread or m.get("thread_ts") == thread
        ]
        if not found:
            return {"ok": False, "error": "thread_not_found"}
        if str(params.get("include_all_metadata")).lower() not in ("true", "1"):
            found = [{k: v for k, v in m.items() if k != "metadata"} for m in found]
        return {"ok": True, "messages": sorted(found, key=lambda m: m["ts"]), "has_more": False}

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        users = str(params.get("users", ""))
        return {"ok": True, "channel": {"id": "D" + users.replace(",", "")[:10]}}

    def _users_lookupByEmail(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users_by_email.get(str(params.get("email", "")).lower())
        return {"ok": True, "user": user} if user else {"ok": False, "error": "users_not_found"}

    def _files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._ts):08d}"
        base = self.url.removesuffix("/api/")
        return {"ok": True, "upload_url": f"{base}/upload/{file_id}", "file_id": file_id}

    def _files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files")
        listed = json.loads(files) if isinstance(files, str) else files or []
        return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in listed]}

    def _apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.socket_url is None:
            return {"ok": False, "error": "socket_mode_not_enabled"}
        return {"ok": True, "url": self.socket_url}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
                pass

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if parts.path.startswith("/upload/"):
                    fake.uploads[parts.path.rsplit("/", 1)[1]] = raw
                    self._send(200, f"OK - {len(raw)}".encode(), "text/plain")
                    return
                if not parts.path.startswith("/api/"):
                    self._send(404, b"not found", "text/plain")
                    return
                method = parts.path.removeprefix("/api/")
                params: dict[str, Any] = dict(parse_qsl(parts.query))
                kind = self.headers.get("Content-Type", "")
                if raw and kind.startswith("application/json"):
                    params.update(json.loads(raw))
                elif raw:
                    params.update(parse_qsl(raw.decode()))
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
                token = token or str(params.pop("token", ""))
                if token not in fake.tokens:
                    result: dict[str, Any] = {"ok": False, "error": "invalid_auth"}
                else:
                    result = fake._api(method, params)
                self._send(200, json.dumps(result).encode(), "application/json; charset=utf-8")

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


def _blocks(params: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = params.get("blocks")
    if isinstance(blocks, str):
        return list(json.loads(blocks))
    return list(blocks or [])


# -- signing Events API requests ---------------------------------------------------------------------------------


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, *, timestamp: float | None = None) -> dict[str, str]:
    stamp = str(int(timestamp if timestamp is not None else time.time()))
    return {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": slack_signature(secret, stamp, body),
    }


_event_ids = itertools.count(1)


def event_body(event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    """An Events API ``event_callback`` envelope around ``event``."""
    return {
        "token": "unused", "team_id": TEAM, "api_app_id": "A0TESTAPP", "type": "event_callback",
        "event_id": event_id or f"Ev{next(_event_ids):010d}", "event_time": int(time.time()), "event": event,
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
    }  # fmt: skip
