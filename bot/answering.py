"""Answering a question asked in Slack: placeholder at once, the answer in its place when ready.

``handle_question`` runs in the thread that acks the event: it decides whether to answer and hands the event to the
bot's pool once. There the placeholder ("Searching the docs…") goes out first (urgent work, so a burst of questions
never delays anyone's placeholder), then the answer replaces it with ``chat.update``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks import (
    Reply,
    answer_reply,
    error_reply,
    help_reply,
    index_unavailable_reply,
    placeholder_reply,
    truncation_note,
)
from bot.messages import SlackQuestion, answer_metadata, ignore_reason, thread_history
from bot.publisher import SlackPublisher
from bot.runtime import BotIdentity, BotRuntime
from bot.throttle import over_limit
from rag.answer.pipeline import AskContext, answer_question
from rag.errors import IndexUnavailableError
from rag.models import Turn

REPLIES_LIMIT = 100


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
    runtime.workers.submit(post_placeholder, asked, client, runtime, identity=identity, logger=logger, urgent=True)


def post_placeholder(
    asked: SlackQuestion, client: WebClient, runtime: BotRuntime, *, identity: BotIdentity, logger: logging.Logger
) -> None:
    """The placeholder (or the help text for an empty question), then the answer queued behind other placeholders.
    A question over its user's or channel's rate limit gets the limit's notice instead."""
    if over_limit(asked, SlackPublisher(client), runtime.limits, logger=logger):
        return
    if not asked.question.text:
        _post(client, asked.channel, asked.reply_thread, help_reply())
        return
    placeholder = _post(client, asked.channel, asked.reply_thread, placeholder_reply())
    runtime.workers.submit(
        answer_in_place, asked, client, runtime, placeholder_ts=str(placeholder["ts"]), identity=identity, logger=logger
    )


def answer_in_place(
    asked: SlackQuestion,
    client: WebClient,
    runtime: BotRuntime,
    *,
    placeholder_ts: str,
    identity: BotIdentity,
    logger: logging.Logger,
) -> None:
    """Answer and replace the placeholder; any failure becomes a friendly reply with a reference to the log."""
    reference = uuid.uuid4().hex
    channel, question = asked.channel, asked.question
    try:
        history = earlier_turns(asked, client, identity=identity, logger=logger) if asked.reply_thread else ()
        context = AskContext(
            surface="slack",
            user=asked.user,
            channel=channel,
            thread=asked.reply_thread,
            history=history,
            sources=runtime.sources_for(channel),
            policy=runtime.policy_for(channel),
        )
        answer = answer_question(question.text, runtime.services.pipeline, context=context)
        reference = answer.answer_id
        limit = runtime.config.slack.max_question_chars
        note = truncation_note(question.original_chars, limit) if question.truncated else None
        reply = answer_reply(answer, note=note)
        try:
            runtime.services.feedback.link_message(answer.answer_id, channel, placeholder_ts)  # queued
        except Exception:  # the answer still goes out; only votes on it would be missed
            logger.exception("could not link message %s to answer %s", placeholder_ts, answer.answer_id)
        _update(client, channel, placeholder_ts, reply, metadata=answer_metadata(answer.answer_id, question.text))
        logger.info("answered %s in %s (answer %s)", asked.ts, channel, answer.answer_id)
    except IndexUnavailableError as exc:  # Weaviate down: say so; the next question tries again
        logger.warning("document index unavailable for %s in %s: %s", asked.ts, channel, exc)
        try:
            _update(client, channel, placeholder_ts, index_unavailable_reply())
        except Exception:
            logger.exception("could not post the index-unavailable reply")
    except Exception:
        logger.exception("failed to answer message %s in %s (reference %s)", asked.ts, channel, reference)
        try:
            _update(client, channel, placeholder_ts, error_reply(reference))
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


def _post(client: WebClient, channel: str, thread: str | None, reply: Reply) -> Any:
    return client.chat_postMessage(
        channel=channel, thread_ts=thread, text=reply.text, blocks=reply.blocks, unfurl_links=False
    )


def _update(client: WebClient, channel: str, ts: str, reply: Reply, metadata: dict[str, Any] | None = None) -> None:
    client.chat_update(channel=channel, ts=ts, text=reply.text, blocks=reply.blocks, metadata=metadata)
