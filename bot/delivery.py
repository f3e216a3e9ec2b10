"""How an answer reaches Slack: replacing a placeholder (or posting into a thread), or streamed as it is written.

``StreamedDelivery`` uses slack-sdk's ``chat_stream`` helper (``chat.startStream`` / ``appendStream`` /
``stopStream``): the text streams into the thread, and the sources, the ⚠ block and the feedback controls are
attached when the stream stops. Streamed messages are thread replies; in channels they carry the asker as
``recipient_user_id`` / ``recipient_team_id``. When a workspace refuses streaming, the delivery falls back to a
placeholder replaced with ``chat.update`` (or a plain post under an agent status) and the workspace is remembered,
so its later answers skip streaming.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.chat_stream import ChatStream

from bot.blocks import Reply, answer_reply, placeholder_reply
from bot.mrkdwn import escape
from bot.runtime import BotRuntime
from rag.models import Answer

STREAM_BUFFER = 32  # characters buffered before a chat.startStream / appendStream call
LinkMessage = Callable[[str], None]  # remembers that the message ts carries the answer (for votes)


class Delivery(Protocol):
    def on_text(self, piece: str) -> None:
        """A piece of the answer text as the generator writes it (ignored where nothing streams)."""

    def deliver(self, answer: Answer, *, note: str | None, metadata: dict[str, Any], link: LinkMessage) -> None:
        """Put the finished answer in Slack."""

    def fail(self, reply: Reply) -> None:
        """Put the friendly error reply where the answer would have gone."""


def post_reply(
    client: WebClient, channel: str, thread: str | None, reply: Reply, metadata: dict[str, Any] | None = None
) -> Any:
    return client.chat_postMessage(
        channel=channel, thread_ts=thread, text=reply.text, blocks=reply.blocks, unfurl_links=False, metadata=metadata
    )


def post_placeholder(client: WebClient, channel: str, thread: str | None) -> str:
    return str(post_reply(client, channel, thread, placeholder_reply())["ts"])


class PlaceholderDelivery:
    """Today's flow: the placeholder is replaced in place; without one (under an agent status) the answer is posted."""

    def __init__(self, client: WebClient, channel: str, thread: str | None, placeholder_ts: str | None) -> None:
        self.client, self.channel, self.thread, self.placeholder_ts = client, channel, thread, placeholder_ts

    def on_text(self, piece: str) -> None:
        return None

    def deliver(self, answer: Answer, *, note: str | None, metadata: dict[str, Any], link: LinkMessage) -> None:
        reply = answer_reply(answer, note=note)
        if self.placeholder_ts is None:
            link(str(post_reply(self.client, self.channel, self.thread, reply, metadata=metadata)["ts"]))
        else:
            link(self.placeholder_ts)  # before the update: a vote on the answer can never miss its link
            self.client.chat_update(channel=self.channel, ts=self.placeholder_ts, text=reply.text, blocks=reply.blocks,
                                    metadata=metadata)  # fmt: skip

    def fail(self, reply: Reply) -> None:
        if self.placeholder_ts is None:
            post_reply(self.client, self.channel, self.thread, reply)
        else:
            self.client.chat_update(channel=self.channel, ts=self.placeholder_ts, text=reply.text, blocks=reply.blocks)


class StreamedDelivery:
    """The answer streamed into ``thread``; a refusal switches to :class:`PlaceholderDelivery` for the rest."""

    def __init__(
        self,
        client: WebClient,
        runtime: BotRuntime,
        *,
        channel: str,
        thread: str,
        team: str | None,
        user: str | None,
        has_status: bool,
        logger: logging.Logger,
    ) -> None:
        self.client, self.runtime, self.channel, self.thread, self.team = client, runtime, channel, thread, team
        self.has_status, self.logger = has_status, logger
        recipient = {} if channel.startswith("D") else {"recipient_team_id": team, "recipient_user_id": user}
        self.stream: ChatStream = client.chat_stream(channel=channel, thread_ts=thread, buffer_size=STREAM_BUFFER,
                                                     **recipient)  # fmt: skip
        self.streamed = ""
        self.fallback: PlaceholderDelivery | None = None
        self._lock = threading.Lock()

    def _refused(self, exc: SlackApiError) -> PlaceholderDelivery:
        self.runtime.agent.refuse_streaming(self.team)
        self.logger.info("streaming refused in workspace %s (%s): placeholder and chat.update from now on",
                         self.team, exc.response.get("error"))  # fmt: skip
        placeholder = None if self.has_status else post_placeholder(self.client, self.channel, self.thread)
        return PlaceholderDelivery(self.client, self.channel, self.thread, placeholder)

    def on_text(self, piece: str) -> None:
        with self._lock:
            if self.fallback is not None:
                return
            try:
                self.stream.append(markdown_text=escape(piece))
                self.streamed += piece
            except SlackApiError as exc:
                if self.stream.ts is not None:
                    raise  # the stream broke after it started: the answer fails with the friendly reply
                self.fallback = self._refused(exc)

    def deliver(self, answer: Answer, *, note: str | None, metadata: dict[str, Any], link: LinkMessage) -> None:
        with self._lock:
            if self.fallback is None:
                # the streamed text stays (nothing streamed: the whole text goes now); the blocks add the rest, and
                # the text again only when it changed at the end (a refusal, an outage)
                nothing_streamed = not self.streamed.strip()
                changed = not nothing_streamed and (answer.refused or answer.error is not None)
                reply = answer_reply(answer, note=note, with_text=changed)
                try:
                    self.stream.stop(markdown_text=escape(answer.text) if nothing_streamed else None,
                                     blocks=reply.blocks, metadata=metadata)  # fmt: skip
                except SlackApiError as exc:
                    if self.stream.ts is not None:
                        raise
                    self.fallback = self._refused(exc)
                else:
                    link(str(self.stream.ts))
                    return
        self.fallback.deliver(answer, note=note, metadata=metadata, link=link)

    def fail(self, reply: Reply) -> None:
        if self.fallback is not None:
            self.fallback.fail(reply)
        elif self.stream.ts is not None:
            self.stream.stop(blocks=reply.blocks)
        else:
            post_reply(self.client, self.channel, self.thread, reply)
