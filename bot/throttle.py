"""Rate limits in Slack: a question over its user's or channel's limit is not answered, and the asker is told
(at most once a minute) when to try again. The limits themselves are :class:`rag.limits.questions.QuestionLimits`.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.messages import SlackQuestion
from bot.publisher import SlackPublisher
from rag.limits.questions import QuestionLimits, slow_down_message


def over_limit(
    asked: SlackQuestion, publisher: SlackPublisher, limits: QuestionLimits | None, *, logger: logging.Logger
) -> bool:
    """True when the question must wait (the asker was told, or was told less than a minute ago)."""
    if limits is None:
        return False
    user, channel = asked.user, asked.channel
    admission = limits.admit(user, channel)
    if admission.allowed:
        return False
    logger.info("not answering %s from %s in %s: rate limited for %d s", asked.ts, user, channel,
                admission.retry_after)  # fmt: skip
    if admission.notify:
        try:
            publisher.post_notice(channel, asked.reply_thread, slow_down_message(admission.retry_after))
        except SlackApiError as exc:
            logger.warning("could not post the rate-limit notice: %s", exc.response.get("error"))
    return True
