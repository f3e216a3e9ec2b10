"""Who may verify a doc (its owner, or a member of the configured reviewers user group), and telling the owner.

The owner hears about a doc at most once a day per kind of notice (a claim in the ledger); a notice that could
not be sent is released so the next request tries again.
"""

from __future__ import annotations

import logging
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.mrkdwn import Block
from rag.ledger.doc_reviews import DocReviewLog
from rag.models import DocMeta
from rag.owners import owner_email, owner_slack_id


def owner_user(meta: DocMeta, client: WebClient, *, logger: logging.Logger) -> str | None:
    """The owner's Slack user id (front matter ``owner_slack``, or ``owner`` as an id or an e-mail), or None."""
    if user := owner_slack_id(meta.owner):
        return user
    if email := owner_email(meta.owner):
        try:
            return str(client.users_lookupByEmail(email=email)["user"]["id"])
        except SlackApiError as exc:
            logger.warning("owner of %s not found in Slack: %s", meta.doc_id, exc.response.get("error"))
    return None


def may_verify(
    user: str, meta: DocMeta, client: WebClient, *, reviewers_group: str | None, logger: logging.Logger
) -> bool:
    """The doc's owner may verify it, and so may members of ``[slack] reviewers_group``."""
    if user == owner_user(meta, client, logger=logger):
        return True
    if not reviewers_group:
        return False
    try:
        members = client.usergroups_users_list(usergroup=reviewers_group)["users"] or []
    except SlackApiError as exc:
        logger.warning("could not read the reviewers group %s: %s", reviewers_group, exc.response.get("error"))
        return False
    return user in members


def tell_owner(
    meta: DocMeta,
    client: WebClient,
    reviews: DocReviewLog,
    *,
    kind: str,
    at: datetime,
    message: tuple[str, list[Block]],
    logger: logging.Logger,
) -> bool:
    """DM the owner, at most once a day per doc and ``kind``; True when a DM was sent now."""
    owner = owner_user(meta, client, logger=logger)
    if owner is None:
        logger.info("%s has no owner in Slack to tell (%s)", meta.doc_id, kind)
        return False
    if not reviews.claim_owner_notice(meta.doc_id, kind, at):
        logger.info("the owner of %s already heard about it today (%s)", meta.doc_id, kind)
        return False
    text, blocks = message
    try:
        channel = client.conversations_open(users=owner)["channel"]["id"]
        client.chat_postMessage(channel=channel, text=text, blocks=blocks, unfurl_links=False)
    except SlackApiError as exc:
        reviews.release_owner_notice(meta.doc_id, kind, at)
        logger.warning("could not tell the owner of %s: %s", meta.doc_id, exc.response.get("error"))
        return False
    return True
