"""Answering a question asked in Slack: placeholder (or a stream, or an agent's loading status) at once, the answer
when ready.

``handle_question`` runs in the thread that acks the event: it decides whether to answer and hands the event to the
bot's pool once. There :func:`start_answer` goes first (urgent work, so a burst of questions never delays anyone's
placeholder): the placeholder ("Searching the docs…"), or — where the answer streams (:mod:`bot.delivery`) or the
agent messaging experience shows a loading status — nothing yet; then the answer is delivered when ready.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks import error_reply, help_reply, index_unavailable_reply, truncation_note
from bot.delivery import Delivery, PlaceholderDelivery, StreamedDelivery, post_placeholder, post_reply
from bot.messages import SlackQuestion, answer_metadata, ignore_reason, thread_history
from bot.publisher import SlackPublisher
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
    """In the acking thread: decide whether to answer, read the event once, hand it to the bot's pool."""
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
    asked = SlackQuestion.from_event(
        event, is_dm=is_dm, bot_user_id=identity.user_id, max_chars=runtime.config.slack.max_question_chars
    )
    runtime.workers.submit(start_answer, asked, client, runtime, identity=identity, logger=logger, urgent=True)


def start_answer(
    asked: SlackQuestion, client: WebClient, runtime: BotRuntime, *, identity: BotIdentity, logger: logging.Logger
) -> None:
    """The placeholder, the stream or the agent's loading status (or the help text for an empty question), then the
    answer queued behind other placeholders. A question over its user's or channel's rate limit gets the limit's
    notice instead."""
    if over_limit(asked, SlackPublisher(client), runtime.limits, logger=logger):
        return
    if not asked.question.text:
        post_reply(client, asked.channel, asked.reply_thread, help_reply())
        return
    scope = asked.channel
    agent_thread = start_agent_thread(asked, client, runtime, identity=identity, logger=logger) if asked.is_dm else None
    if agent_thread:
        asked = replace(asked, reply_thread=agent_thread)  # a loading status in the DM's thread, no placeholder
        scope = runtime.agent.viewing(asked.user) or asked.channel
    channel, thread = asked.channel, asked.reply_thread
    delivery: Delivery
    if (
        thread is not None
        and can_stream(runtime.services.pipeline.generator)
        and runtime.agent.streaming(identity.team_id)
    ):
        delivery = StreamedDelivery(client, runtime, channel=channel, thread=thread, team=identity.team_id,
                                    user=asked.user, has_status=bool(agent_thread), logger=logger)  # fmt: skip
    else:
        placeholder_ts = None if agent_thread else post_placeholder(client, channel, thread)
        delivery = PlaceholderDelivery(client, channel, thread, placeholder_ts)
    runtime.workers.submit(
        answer_and_deliver, asked, client, runtime, delivery=delivery, identity=identity, logger=logger, scope=scope
    )


def start_agent_thread(
    asked: SlackQuestion, client: WebClient, runtime: BotRuntime, *, identity: BotIdentity, logger: logging.Logger
) -> str | None:
    """In a workspace with the agent messaging experience: set the DM thread's loading status and return the thread
    to answer in. None where the feature is off (remembered per workspace; today's DM flow then applies)."""
    if not runtime.agent.available(identity.team_id):
        return None
    thread = asked.thread_ts or asked.ts
    try:
        client.assistant_threads_setStatus(
            channel_id=asked.channel, thread_ts=thread, status=AGENT_STATUS, loading_messages=LOADING_MESSAGES
        )
    except SlackApiError as exc:
        runtime.agent.refuse(identity.team_id)
        logger.info("no agent messaging in workspace %s (%s): DMs are answered as before",
                    identity.team_id, exc.response.get("error"))  # fmt: skip
        return None
    return thread


def answer_and_deliver(
    asked: SlackQuestion,
    client: WebClient,
    runtime: BotRuntime,
    *,
    delivery: Delivery,
    identity: BotIdentity,
    logger: logging.Logger,
    scope: str | None = None,
) -> None:
    """Answer and hand the answer to ``delivery`` (placeholder, post or stream); any failure becomes a friendly
    reply with a reference to the log. ``scope``: the channel whose sources and thresholds apply."""
    reference = uuid.uuid4().hex
    channel, question = asked.channel, asked.question
    scope = scope or channel
    try:
        history = earlier_turns(asked, client, identity=identity, logger=logger) if asked.reply_thread else ()
        context = AskContext(
            surface="slack",
            user=asked.user,
            channel=channel,
            thread=asked.reply_thread,
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
                runtime.services.feedback.link_message(answer.answer_id, channel, ts)  # queued
            except Exception:  # the answer still goes out; only votes on it would be missed
                logger.exception("could not link message %s to answer %s", ts, answer.answer_id)

        delivery.deliver(answer, note=note, metadata=answer_metadata(answer.answer_id, question.text), link=link)
        logger.info("answered %s in %s (answer %s)", asked.ts, channel, answer.answer_id)
    except IndexUnavailableError as exc:  # Weaviate down: say so; the next question tries again
        logger.warning("document index unavailable for %s in %s: %s", asked.ts, channel, exc)
        try:
            delivery.fail(index_unavailable_reply())
        except Exception:
            logger.exception("could not post the index-unavailable reply")
    except Exception:
        logger.exception("failed to answer message %s in %s (reference %s)", asked.ts, channel, reference)
        try:
            delivery.fail(error_reply(reference))
        except Exception:
            logger.exception("could not post the error reply (reference %s)", reference)


def earlier_turns(
    asked: SlackQuestion, client: WebClient, *, identity: BotIdentity, logger: logging.Logger
) -> tuple[Turn, ...]:
    """The thread's earlier turns when this message follows up on one of the bot's answers, else ()."""
    if not asked.is_thread_reply or asked.thread_ts is None:
        return ()
    try:
        replies = client.conversations_replies(
            channel=asked.channel, ts=asked.thread_ts, limit=REPLIES_LIMIT, include_all_metadata=True
        )
    except SlackApiError as exc:
        logger.warning("could not read thread %s: %s", asked.thread_ts, exc.response.get("error"))
        return ()
    history = thread_history(
        replies.get("messages") or [],
        current_ts=asked.ts,
        bot_user_id=identity.user_id,
        bot_id=identity.bot_id,
    )
    return history or ()
