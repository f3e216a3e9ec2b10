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
        self.refused: dict[str, str] = {}  # method -> error returned on every call (e.g. streaming not allowed)
        self.public_channels: list[dict[str, Any]] = []  # conversations.list: [{"id", "name"}]
        self.not_member: set[str] = set()  # channels (ids or names) the bot was never invited to
        self.usergroups: dict[str, list[str]] = {}  # usergroups.users.list: group id -> user ids
        self.views: dict[str, dict[str, Any]] = {}  # views.publish: user -> the Home tab view
        self.modals: list[dict[str, Any]] = []  # views.open: the modals opened
        self.statuses: list[dict[str, Any]] = []  # assistant.threads.setStatus calls
        self.agent_view = False  # the workspace has the agent messaging experience (a paid plan)
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
            if method in self.refused:
                return {"ok": False, "error": self.refused[method]}
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
        if channel in self.not_member:
            return {"ok": False, "error": "not_in_channel"}
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

    # chat.startStream / appendStream / stopStream: a message whose text grows; thread replies only, and in
    # channels (not DMs) only with the recipient user and team, as Slack requires
    def _chat_startStream(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params["channel"])
        if not params.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}
        if not channel.startswith("D") and not (params.get("recipient_user_id") and params.get("recipient_team_id")):
            return {"ok": False, "error": "missing_recipient_user_id"}
        ts = self.next_ts()
        message = {"type": "message", "user": BOT_USER, "bot_id": BOT_ID, "text": _chunk_text(params), "blocks": [],
                   "ts": ts, "thread_ts": params["thread_ts"], "streaming": True}  # fmt: skip
        self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": ts}

    def _chat_appendStream(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._streaming(params)
        if message is None:
            return {"ok": False, "error": "message_not_in_streaming_state"}
        message["text"] += _chunk_text(params)
        return {"ok": True, "channel": params["channel"], "ts": params["ts"]}

    def _chat_stopStream(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._streaming(params)
        if message is None:
            return {"ok": False, "error": "message_not_in_streaming_state"}
        message["text"] += _chunk_text(params)
        message["blocks"] = _blocks(params)
        if params.get("metadata"):
            metadata = params["metadata"]
            message["metadata"] = json.loads(metadata) if isinstance(metadata, str) else metadata
        message["streaming"] = False
        return {"ok": True, "channel": params["channel"], "ts": params["ts"], "message": message}

    def _streaming(self, params: dict[str, Any]) -> dict[str, Any] | None:
        found = [m for m in self.messages.get(str(params.get("channel")), []) if m["ts"] == params.get("ts")]
        return found[0] if found and found[0].get("streaming") else None

    def _conversations_list(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "channels": list(self.public_channels), "response_metadata": {"next_cursor": ""}}

    def _conversations_join(self, params: dict[str, Any]) -> dict[str, Any]:
        found = next((c for c in self.public_channels if c["id"] == params.get("channel")), None)
        if found is None:
            return {"ok": False, "error": "channel_not_found"}
        self.not_member -= {found["id"], found["name"], "#" + found["name"]}
        return {"ok": True, "channel": found}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("user"))
        email = next((e for e, u in self.users_by_email.items() if u.get("id") == user), None)
        return {"ok": True, "user": {"id": user, "team_id": TEAM, "profile": {"email": email} if email else {}}}

    def _usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        users = self.usergroups.get(str(params.get("usergroup")))
        return {"ok": True, "users": users} if users is not None else {"ok": False, "error": "no_such_subteam"}

    def _chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": self.next_ts()}

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params["view"]
        view = json.loads(view) if isinstance(view, str) else view
        self.views[str(params["user_id"])] = view
        return {"ok": True, "view": {"id": f"V{next(self._ts):08d}", **view}}

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        view = params["view"]
        view = json.loads(view) if isinstance(view, str) else view
        self.modals.append(view)
        return {"ok": True, "view": {"id": f"V{next(self._ts):08d}", **view}}

    def _assistant_threads_setStatus(self, params: dict[str, Any]) -> dict[str, Any]:
        if not self.agent_view:
            return {"ok": False, "error": "feature_not_enabled"}
        self.statuses.append(dict(params))
        return {"ok": True}

    def _assistant_threads_setSuggestedPrompts(self, params: dict[str, Any]) -> dict[str, Any]:
        if not self.agent_view:
            return {"ok": False, "error": "feature_not_enabled"}
        return {"ok": True}

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
        if params.get("channel_id") in self.not_member:
            return {"ok": False, "error": "not_in_channel"}
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


def _chunk_text(params: dict[str, Any]) -> str:
    chunks = params.get("chunks")
    listed = json.loads(chunks) if isinstance(chunks, str) else chunks or []
    text = "".join(str(c.get("text", "")) for c in listed if c.get("type") == "markdown_text")
    return text + str(params.get("markdown_text") or "")


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


# -- interactivity payloads (as Slack sends them: form field ``payload``, signed like events) --------------------


def interaction_form(payload: dict[str, Any]) -> bytes:
    """The body of an interactivity request: ``payload=<json>``, form-encoded."""
    from urllib.parse import urlencode

    return urlencode({"payload": json.dumps(payload)}).encode()


def signed_form_headers(secret: str, body: bytes, *, timestamp: float | None = None) -> dict[str, str]:
    return {**signed_headers(secret, body, timestamp=timestamp), "Content-Type": "application/x-www-form-urlencoded"}


_triggers = itertools.count(1)


def block_actions_payload(
    action: dict[str, Any], *, user: str, channel: str, message: dict[str, Any], thread_ts: str | None = None
) -> dict[str, Any]:
    """A ``block_actions`` payload for a press on a button of the bot's message ``message`` in ``channel``."""
    container: dict[str, Any] = {
        "type": "message", "message_ts": message["ts"], "channel_id": channel, "is_ephemeral": False,
    }  # fmt: skip
    if thread_ts:
        container["thread_ts"] = thread_ts
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
        "api_app_id": "A0TESTAPP", "token": "unused", "container": container,
        "trigger_id": f"{next(_triggers)}.1234.abcdef", "team": {"id": TEAM, "domain": "test"},
        "enterprise": None, "is_enterprise_install": False, "channel": {"id": channel, "name": "general"},
        "message": message, "state": {"values": {}}, "response_url": "https://hooks.slack.invalid/actions/T/1/x",
        "actions": [{"action_ts": f"{time.time():.6f}", **action}],
    }  # fmt: skip


def feedback_action(message: dict[str, Any], value: str) -> dict[str, Any]:
    """The action of a press on the feedback buttons of ``message`` (``positive_feedback`` / ``negative_feedback``)."""
    block = next(b for b in message["blocks"] if b["type"] == "context_actions")
    element = block["elements"][0]
    text = element["positive_button" if value == "positive_feedback" else "negative_button"]["text"]
    return {"type": "feedback_buttons", "action_id": element["action_id"], "block_id": block["block_id"],
            "value": value, "text": text}  # fmt: skip


def view_submission_payload(view: dict[str, Any], *, user: str, values: dict[str, Any]) -> dict[str, Any]:
    """A ``view_submission`` payload for the modal ``view`` (as ``views.open`` got it), with the inputs' values."""
    state = {"values": {block: {action: {"type": "plain_text_input", "value": value}}
                        for block, (action, value) in values.items()}}  # fmt: skip
    opened = {
        "id": f"V{next(_triggers):08d}", "team_id": TEAM, "type": "modal", "private_metadata": "", "callback_id": "",
        "hash": "1700000000.abcdef", "previous_view_id": None, "root_view_id": None, "app_id": "A0TESTAPP",
        "external_id": "", "app_installed_team_id": TEAM, "bot_id": BOT_ID, **view, "state": state,
    }  # fmt: skip
    return {
        "type": "view_submission", "team": {"id": TEAM, "domain": "test"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
        "api_app_id": "A0TESTAPP", "token": "unused", "trigger_id": f"{next(_triggers)}.1234.abcdef",
        "view": opened, "response_urls": [], "is_enterprise_install": False, "enterprise": None,
    }  # fmt: skip


def home_opened_event(user: str, *, tab: str = "home") -> dict[str, Any]:
    """An ``app_home_opened`` event (the user opened the app's Home or Messages tab)."""
    return {"type": "app_home_opened", "user": user, "channel": "D" + user[:10], "tab": tab,
            "event_ts": f"{time.time():.6f}"}  # fmt: skip


def home_actions_payload(action: dict[str, Any], *, user: str, view: dict[str, Any]) -> dict[str, Any]:
    """A ``block_actions`` payload for a press on a button of the published Home tab ``view``."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
        "api_app_id": "A0TESTAPP", "token": "unused",
        "container": {"type": "view", "view_id": "V0HOME"},
        "trigger_id": f"{next(_triggers)}.1234.abcdef", "team": {"id": TEAM, "domain": "test"},
        "enterprise": None, "is_enterprise_install": False,
        "view": {"id": "V0HOME", "team_id": TEAM, "type": "home", "private_metadata": "", "callback_id": "",
                 "state": {"values": {}}, "hash": "1700000000.abcdef", **view},
        "actions": [{"action_ts": f"{time.time():.6f}", **action}],
    }  # fmt: skip
