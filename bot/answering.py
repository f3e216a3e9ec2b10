"""Answering a question asked in Slack: placeholder at once, the answer in its place when ready.

``handle_question`` runs in Bolt's listener pool after the event was acked: it decides whether to answer,
posts the placeholder ("Searching the docs…") and hands the slow part to the runtime's answer workers, so a
burst of questions never delays anyone's placeholder. The answer replaces the placeholder with ``chat.update``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks import error_reply, help_reply, index_unavailable_reply, truncation_note
from bot.delivery import Delivery, PlaceholderDelivery, StreamedDelivery, post_placeholder, post_reply
from bot.messages import (
    Question,
    answer_metadata,
    ignore_reason,
    is_thread_reply,
    parse_question,
    reply_thread,
    thread_history,
)
from bot.runtime import BotIdentity, BotRuntime
from bot.throttle import over_limit
from rag.answer.pipeline import AskContext, answer_question
from rag.errors import IndexUnavailableError
from rag.models import Turn
from rag.providers.generation import can_stream

REPLIES_LIMIT = 100
AGENT_STATUS = "is searching the docs…"
LOADING_MESSAGES = ["Searching the team's docs…", "Reading the closest sections…", "Checking how fresh they are…"]


def handle_question(
    event: Mapping[str, Any],
    client: WebClient,
    runtime: BotRuntime,
    *,
    identity: BotIdentity,
    is_dm: bool,
    logger: logging.Logger,
) -> None:
    channel = str(event.get("channel") or "")
    reason = ignore_reason(
        event, bot_user_id=identity.user_id, bot_id=identity.bot_id, ignore_bots=runtime.config.slack.ignore_bots
    )
    if reason is not None or not channel:
        logger.debug("not answering message %s: %s", event.get("ts"), reason or "no channel")
        return
    if not runtime.channel(channel).enabled:
        logger.debug("not answering in %s: disabled in bestbefore.toml", channel)
        return
    if not runtime.claims.claim(f"message:{channel}:{event['ts']}"):
        logger.info("message %s in %s was already answered", event["ts"], channel)
        return
    thread = reply_thread(event, is_dm=is_dm)
    if over_limit(event, client, runtime.limits, channel=channel, thread=thread, logger=logger):
        return
    question = parse_question(
        str(event.get("text") or ""), bot_user_id=identity.user_id, max_chars=runtime.config.slack.max_question_chars
    )
    if not question.text:
        post_reply(client, channel, thread, help_reply())
        return
    scope = channel
    agent_thread = start_agent_thread(event, client, runtime, identity=identity, logger=logger) if is_dm else None
    if agent_thread:
        thread = agent_thread  # agent messaging: a loading status in the DM's thread instead of a placeholder
        scope = runtime.agent.viewing(str(event.get("user") or "")) or channel
    delivery: Delivery
    if (
        thread is not None
        and can_stream(runtime.services.pipeline.generator)
        and runtime.agent.streaming(identity.team_id)
    ):
        delivery = StreamedDelivery(client, runtime, channel=channel, thread=thread, team=identity.team_id,
                                    user=str(event.get("user") or ""), has_status=bool(agent_thread), logger=logger)  # fmt: skip
    else:
        placeholder_ts = None if agent_thread else post_placeholder(client, channel, thread)
        delivery = PlaceholderDelivery(client, channel, thread, placeholder_ts)
    runtime.workers.submit(
        answer_and_deliver, event, question, client, runtime,
        channel=channel, thread=thread, delivery=delivery, identity=identity, logger=logger, scope=scope,
    )  # fmt: skip


def start_agent_thread(
    event: Mapping[str, Any], client: WebClient, runtime: BotRuntime, *, identity: BotIdentity, logger: logging.Logger
) -> str | None:
    """In a workspace with the agent messaging experience: set the DM thread's loading status and return the thread
    to answer in. None where the feature is off (remembered per workspace; today's DM flow then applies)."""
    if not runtime.agent.available(identity.team_id):
        return None
    thread = str(event.get("thread_ts") or event["ts"])
    try:
        client.assistant_threads_setStatus(
            channel_id=str(event["channel"]), thread_ts=thread, status=AGENT_STATUS, loading_messages=LOADING_MESSAGES
        )
    except SlackApiError as exc:
        runtime.agent.refuse(identity.team_id)
        logger.info("no agent messaging in workspace %s (%s): DMs are answered as before",
                    identity.team_id, exc.response.get("error"))  # fmt: skip
        return None
    return thread


def answer_and_deliver(
    event: Mapping[str, Any],
    question: Question,
    client: WebClient,
    runtime: BotRuntime,
    *,
    channel: str,
    thread: str | None,
    delivery: Delivery,
    identity: BotIdentity,
    logger: logging.Logger,
    scope: str | None = None,
) -> None:
    """Answer and hand the answer to ``delivery`` (placeholder, post or stream); any failure becomes a friendly
    reply with a reference to the log. ``scope``: the channel whose sources and thresholds apply."""
    reference = uuid.uuid4().hex
    scope = scope or channel
    try:
        history = earlier_turns(event, client, identity=identity, logger=logger) if thread else ()
        context = AskContext(
            surface="slack",
            user=str(event.get("user")),
            channel=channel,
            thread=thread,
            history=history,
            sources=runtime.sources_for(scope),
            policy=runtime.policy_for(scope),
        )
        answer = answer_question(question.text, runtime.services.pipeline, context=context, on_text=delivery.on_text)
        reference = answer.answer_id
        limit = runtime.config.slack.max_question_chars
        note = truncation_note(question.original_chars, limit) if question.truncated else None

        def link(ts: str) -> None:
            try:
                runtime.services.feedback.link_message(answer.answer_id, channel, ts)
            except Exception:  # the answer still goes out; only votes on it would be missed
                logger.exception("could not link message %s to answer %s", ts, answer.answer_id)

        delivery.deliver(answer, note=note, metadata=answer_metadata(answer.answer_id, question.text), link=link)
        logger.info("answered %s in %s (answer %s)", event.get("ts"), channel, answer.answer_id)
    except IndexUnavailableError as exc:  # Weaviate down: say so; the next question tries again
        logger.warning("document index unavailable for %s in %s: %s", event.get("ts"), channel, exc)
        try:
            delivery.fail(index_unavailable_reply())
        except Exception:
            logger.exception("could not post the index-unavailable reply")
    except Exception:
        logger.exception("failed to answer message %s in %s (reference %s)", event.get("ts"), channel, reference)
        try:
            delivery.fail(error_reply(reference))
        except Exception:
            logger.exception("could not post the error reply (reference %s)", reference)


def earlier_turns(
    event: Mapping[str, Any], client: WebClient, *, identity: BotIdentity, logger: logging.Logger
) -> tuple[Turn, ...]:
    """The thread's earlier turns when this message follows up on one of the bot's answers, else ()."""
    if not is_thread_reply(event):
        return ()
    try:
        replies = client.conversations_replies(
            channel=str(event["channel"]), ts=str(event["thread_ts"]), limit=REPLIES_LIMIT, include_all_metadata=True
        )
    except SlackApiError as exc:
        logger.warning("could not read thread %s: %s", event["thread_ts"], exc.response.get("error"))
        return ()
    history = thread_history(
        replies.get("messages") or [],
        current_ts=str(event["ts"]),
        bot_user_id=identity.user_id,
        bot_id=identity.bot_id,
    )
    return history or ()
