"""Socket Mode: the builtin client opens ``apps.connections.open`` on the fake Web API, connects to a local websocket
server, acks an ``events_api`` envelope (a retry) and the answer is posted; a second delivery is not answered again;
an ``interactive`` envelope (a feedback button press) is a vote.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.server import ServerConnection, serve

from bestbefore.serve import start_socket_mode
from bestbefore.services import Services
from bot.app import build_slack_bot
from tests.fakes.bot_harness import RecordingRecorder, build_index, make_settings
from tests.fakes.slack_fake import APP_TOKEN, BOT_USER, FakeSlack, block_actions_payload, event_body, feedback_action


class SocketServer:
    """A local stand-in for Slack's Socket Mode endpoint: sends envelopes, collects the client's acks."""

    def __init__(self) -> None:
        self.outbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self.acks: queue.Queue[dict[str, Any]] = queue.Queue()
        self.connected = threading.Event()
        self._server = serve(self._handle, "127.0.0.1", 0, compression=None)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/link"

    def _handle(self, ws: ServerConnection) -> None:
        ws.send(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0TESTAPP"}}))
        self.connected.set()
        while True:
            with contextlib.suppress(queue.Empty):
                ws.send(json.dumps(self.outbox.get(timeout=0.05)))
            try:
                message = ws.recv(timeout=0.05)
            except TimeoutError:
                continue
            except Exception:
                return
            self.acks.put(json.loads(message))

    def start(self) -> SocketServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()


@pytest.fixture
def socket_server() -> Iterator[SocketServer]:
    server = SocketServer().start()
    yield server
    server.stop()


def test_socket_mode_event_is_acked_and_answered_once(home: Path, socket_server: SocketServer) -> None:
    fake = FakeSlack().start()
    fake.socket_url = socket_server.url
    settings = make_settings(home, fake)
    settings.slack_signing_secret = None  # Socket Mode needs no signing secret
    recorder = RecordingRecorder()
    services = Services(settings, recorders=[recorder])
    build_index(services)
    bot = build_slack_bot(settings, services, socket_mode=True)
    handler = start_socket_mode(bot, APP_TOKEN)
    try:
        assert socket_server.connected.wait(10)
        assert [c.method for c in fake.calls_to("apps.connections.open")] == ["apps.connections.open"]
        ts = fake.add_message("C0GENERAL", f"<@{BOT_USER}> how do I set up the VPN?", user="U0ALICE")
        event = {"type": "app_mention", "user": "U0ALICE", "text": f"<@{BOT_USER}> how do I set up the VPN?",
                 "ts": ts, "channel": "C0GENERAL", "event_ts": ts}  # fmt: skip
        payload = event_body(event, event_id="Ev0SOCKET")
        for envelope_id, attempt in (("env-1", 1), ("env-2", 2)):
            socket_server.outbox.put({
                "envelope_id": envelope_id, "type": "events_api", "accepts_response_payload": False,
                "retry_attempt": attempt, "retry_reason": "timeout", "payload": payload,
            })  # fmt: skip
        acks = [socket_server.acks.get(timeout=10), socket_server.acks.get(timeout=10)]
        assert sorted(ack["envelope_id"] for ack in acks) == ["env-1", "env-2"]
        fake.wait_for(lambda f: len(f.calls_to("chat.update")) == 1)
        bot.runtime.drain(timeout=10)
        [placeholder] = fake.calls_to("chat.postMessage")
        [update] = fake.calls_to("chat.update")
        assert placeholder.params["thread_ts"] == ts
        assert update.params["ts"] == fake.bot_messages("C0GENERAL")[0]["ts"]
        assert "WireGuard" in update.params["text"]
        assert len(recorder.seen) == 1

        # interactivity over the socket: a feedback button press is acked after the vote is stored
        message = fake.message("C0GENERAL", update.params["ts"])
        press = block_actions_payload(
            feedback_action(message, "negative_feedback"), user="U0BOB", channel="C0GENERAL", message=message
        )
        socket_server.outbox.put({"envelope_id": "env-3", "type": "interactive", "accepts_response_payload": True,
                                  "payload": press})  # fmt: skip
        assert socket_server.acks.get(timeout=10)["envelope_id"] == "env-3"
        assert services.feedback.votes(recorder.seen[0][0].answer_id) == {"U0BOB": -1}
    finally:
        handler.close()
        bot.close()
        services.close()
        fake.stop()
