"""Posting into the digest channel when the bot was never invited: join it first (public channels only).

``chat.postMessage`` answers ``not_in_channel`` when the bot is not a member. The bot then joins with
``conversations.join`` (scope ``channels:join``; a ``#name`` is resolved with ``conversations.list``, scope
``channels:read``) and posts again. The chart upload (``files_upload_v2``) needs membership in any case, which is
why the bot joins rather than posting with ``chat:write.public``. A private channel cannot be joined: the error
says to invite the bot.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from rag.errors import ConfigError

log = logging.getLogger(__name__)

_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
LIST_PAGE = 200


def channel_id(slack: WebClient, channel: str) -> str | None:
    """The id of ``channel`` (an id as is; ``#name`` / ``name`` looked up among public channels), or None."""
    if _CHANNEL_ID.match(channel):
        return channel
    name = channel.lstrip("#")
    cursor: str | None = None
    while True:
        page: Any = slack.conversations_list(
            types="public_channel", exclude_archived=True, limit=LIST_PAGE, cursor=cursor
        )
        for found in page.get("channels") or []:
            if found.get("name") == name:
                return str(found["id"])
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            return None


def join_channel(slack: WebClient, channel: str) -> str:
    """Join ``channel``; returns its id. Raises ConfigError saying what to do when the bot cannot join."""
    found = channel_id(slack, channel)
    if found is None:
        raise ConfigError(
            f"The bot is not a member of the digest channel {channel} and it is not a public channel it can join: "
            "invite it with /invite @bestbefore, or set [digest] channel to an existing channel."
        )
    try:
        slack.conversations_join(channel=found)
    except SlackApiError as exc:
        error = exc.response.get("error")
        raise ConfigError(
            f"The bot is not a member of the digest channel {channel} and could not join it ({error}); "
            "invite it with /invite @bestbefore (private channels cannot be joined)."
        ) from exc
    log.info(
        "digest: joined %s (%s) — the bot must be a member to post the digest and upload its chart", channel, found
    )
    return found


def post_to_channel(slack: WebClient, channel: str, **message: Any) -> Any:
    """``chat.postMessage`` to ``channel``, joining it first when the bot is not a member."""
    try:
        return slack.chat_postMessage(channel=channel, **message)
    except SlackApiError as exc:
        if exc.response.get("error") != "not_in_channel":
            raise
    log.info("digest: the bot is not in %s; joining it (the chart upload needs membership)", channel)
    return slack.chat_postMessage(channel=join_channel(slack, channel), **message)
