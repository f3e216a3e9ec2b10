"""The Bolt listeners, run in the thread that acks the event: a question is handed to the bot's pool; a reaction
is stored at once (a vote is one queued ledger write, and the message's answer is usually known in memory)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.answering import handle_question
from bot.reactions import handle_reaction
from bot.runtime import BotIdentity, BotRuntime


def identity_of(context: BoltContext) -> BotIdentity:
    return BotIdentity(user_id=context.bot_user_id, bot_id=context.bot_id)


def register_listeners(app: App, runtime: BotRuntime) -> None:
    @app.event("app_mention")
    def answer_mention(event: dict[str, Any], client: WebClient, context: BoltContext, logger: logging.Logger) -> None:
        handle_question(event, client, runtime, identity=identity_of(context), is_dm=False, logger=logger)

    @app.event("message")
    def answer_direct_message(
        event: dict[str, Any], client: WebClient, context: BoltContext, logger: logging.Logger
    ) -> None:
        if event.get("channel_type") != "im":
            return  # channel messages reach the bot only as app_mention events
        handle_question(event, client, runtime, identity=identity_of(context), is_dm=True, logger=logger)

    @app.event("reaction_added")
    def record_reaction(event: dict[str, Any], context: BoltContext, logger: logging.Logger) -> None:
        handle_reaction(event, runtime, added=True, identity=identity_of(context), logger=logger)

    @app.event("reaction_removed")
    def retract_reaction(event: dict[str, Any], context: BoltContext, logger: logging.Logger) -> None:
        handle_reaction(event, runtime, added=False, identity=identity_of(context), logger=logger)
