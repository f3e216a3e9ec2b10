"""Acting on a stale doc from Slack: "✅ Still accurate" (owner or reviewers only) and "🚩 Report outdated" (anyone,
with an optional reason in a modal). Both are written to the ledger before the click is acked, so a process that
dies right after the click loses nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import review_blocks as rb
from bot.doc_owners import may_verify, tell_owner
from bot.feedback_buttons import action_time
from bot.runtime import BotRuntime
from rag.models import DocMeta
from rag.reviews import Flag, Verification

Ack = Callable[..., None]
AfterReview = Callable[[WebClient, str], None]  # e.g. re-publish the App Home of the user who acted


def find_doc(runtime: BotRuntime, doc_id: str) -> DocMeta | None:
    stored = runtime.services.store.stored_docs(doc_id.split(":", 1)[0]).get(doc_id)
    return stored.meta if stored else None


def where_pressed(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The channel and thread of the message whose button was pressed (None, None on the App Home tab)."""
    container = body.get("container") or {}
    if container.get("type") != "message":
        return None, None
    return container.get("channel_id"), container.get("thread_ts") or container.get("message_ts")


def tell_user(client: WebClient, body: Mapping[str, Any], text: str, *, logger: logging.Logger) -> None:
    channel, thread = where_pressed(body)
    if channel is None:
        return
    try:
        client.chat_postEphemeral(channel=channel, user=body["user"]["id"], thread_ts=thread, text=text)
    except SlackApiError as exc:
        logger.warning("could not answer %s: %s", body["user"]["id"], exc.response.get("error"))


def handle_verify(
    ack: Ack, body: Mapping[str, Any], action: Mapping[str, Any], client: WebClient, runtime: BotRuntime,
    *, logger: logging.Logger,
) -> Verification | None:  # fmt: skip
    user = str(body["user"]["id"])
    meta = find_doc(runtime, str(action.get("value") or ""))
    if meta is None:
        ack()
        tell_user(client, body, rb.GONE, logger=logger)
        return None
    at = action_time(action)
    reviewers = runtime.config.slack.reviewers_group
    if not may_verify(user, meta, client, reviewers_group=reviewers, logger=logger):
        ack()
        tell_user(client, body, rb.NOT_OWNER, logger=logger)
        request = rb.verify_request(meta, requester=user)
        tell_owner(meta, client, runtime.services.doc_reviews, kind="verify_request", at=at, message=request,
                   logger=logger)  # fmt: skip
        return None
    verification = Verification(doc_id=meta.doc_id, user=user, at=at, source_hash=meta.source_hash)
    runtime.services.doc_reviews.record_verification(verification)  # write, then ack
    ack()
    logger.info("%s verified %s (%s)", user, meta.doc_id, meta.source_hash[:12])
    tell_user(client, body, rb.verified_text(meta), logger=logger)
    return verification


def open_flag_modal(
    ack: Ack, body: Mapping[str, Any], action: Mapping[str, Any], client: WebClient, runtime: BotRuntime,
    *, logger: logging.Logger,
) -> None:  # fmt: skip
    ack()
    meta = find_doc(runtime, str(action.get("value") or ""))
    if meta is None:
        tell_user(client, body, rb.GONE, logger=logger)
        return
    channel, thread = where_pressed(body)
    client.views_open(trigger_id=body["trigger_id"], view=rb.flag_modal(meta, channel=channel, thread=thread))


def submitted_reason(view: Mapping[str, Any]) -> str | None:
    values = ((view.get("state") or {}).get("values") or {}).get(rb.REASON_BLOCK) or {}
    reason = str((values.get(rb.REASON_ACTION) or {}).get("value") or "").strip()
    return reason[: rb.MAX_REASON_CHARS] or None


def handle_flag(
    ack: Ack, body: Mapping[str, Any], view: Mapping[str, Any], client: WebClient, runtime: BotRuntime,
    *, logger: logging.Logger,
) -> Flag | None:  # fmt: skip
    user = str(body["user"]["id"])
    try:
        where = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        where = {}
    meta = find_doc(runtime, str(where.get("doc_id") or ""))
    if meta is None:
        ack(response_action="errors", errors={rb.REASON_BLOCK: rb.GONE})
        return None
    flag = Flag(meta.doc_id, user, datetime.now(UTC), meta.source_hash, submitted_reason(view))
    runtime.services.doc_reviews.record_flag(flag)  # write, then ack (closes the modal)
    ack()
    logger.info("%s reported %s outdated", user, meta.doc_id)
    notice = rb.flag_notice(meta, reporter=user, reason=flag.reason)
    tell_owner(meta, client, runtime.services.doc_reviews, kind="flag", at=flag.at, message=notice, logger=logger)
    if where.get("channel"):
        try:
            client.chat_postEphemeral(channel=where["channel"], user=user, thread_ts=where.get("thread"),
                                      text=rb.FLAGGED)  # fmt: skip
        except SlackApiError as exc:
            logger.warning("could not confirm the report to %s: %s", user, exc.response.get("error"))
    return flag


def register(app: App, runtime: BotRuntime, *, after_review: AfterReview | None = None) -> None:
    def done(client: WebClient, body: Mapping[str, Any]) -> None:
        """Refresh the App Home tab when that is where the user acted (no message to answer under)."""
        if body.get("type") == "view_submission":
            try:
                pressed_in_channel = bool(json.loads(body["view"].get("private_metadata") or "{}").get("channel"))
            except ValueError:
                pressed_in_channel = False
        else:
            pressed_in_channel = where_pressed(body)[0] is not None
        if after_review is not None and not pressed_in_channel:
            after_review(client, str(body["user"]["id"]))

    @app.action(rb.VERIFY_ACTION)
    def still_accurate(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, logger: logging.Logger
    ) -> None:
        handle_verify(ack, body, action, client, runtime, logger=logger)
        done(client, body)

    @app.action(rb.FLAG_ACTION)
    def report_outdated(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, logger: logging.Logger
    ) -> None:
        open_flag_modal(ack, body, action, client, runtime, logger=logger)

    @app.view(rb.FLAG_MODAL)
    def outdated_reported(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, logger: logging.Logger
    ) -> None:
        handle_flag(ack, body, view, client, runtime, logger=logger)
        done(client, body)
