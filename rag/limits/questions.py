"""Who may ask now: a bucket per user and per channel (``[limits]``), and one "slow down" notice a minute."""

from __future__ import annotations

import math
from dataclasses import dataclass

from rag.config import LimitsConfig
from rag.limits.buckets import Bucket, TokenBuckets

NOTICE_EVERY_SECONDS = 60.0


@dataclass(frozen=True)
class Admission:
    """``allowed``, else ``retry_after`` seconds to wait and whether to tell the asker (once a minute at most)."""

    allowed: bool
    retry_after: int = 0
    notify: bool = False


def slow_down_message(retry_after: int) -> str:
    return f"You're asking faster than I can answer — try again in {retry_after} s."


class QuestionLimits:
    """Admits a question when both its user's and its channel's bucket have a token (0 per minute = no limit)."""

    def __init__(self, buckets: TokenBuckets, config: LimitsConfig) -> None:
        self._buckets = buckets
        self._config = config

    def _buckets_for(self, user: str, channel: str) -> list[Bucket]:
        config = self._config
        buckets = []
        if config.user_per_minute > 0 and user:
            buckets.append(Bucket(f"user:{user}", config.user_per_minute / 60, config.user_burst))
        if config.channel_per_minute > 0 and channel:
            buckets.append(Bucket(f"channel:{channel}", config.channel_per_minute / 60, config.channel_burst))
        return buckets

    def admit(self, user: str, channel: str) -> Admission:
        buckets = self._buckets_for(user, channel)
        if not buckets:
            return Admission(True)
        taken = self._buckets.take(buckets)
        if taken.allowed:
            return Admission(True)
        notice = self._buckets.take([Bucket(f"notice:{user}:{channel}", 1 / NOTICE_EVERY_SECONDS, 1)])
        return Admission(False, retry_after=max(1, math.ceil(taken.retry_after)), notify=notice.allowed)

    def close(self) -> None:
        self._buckets.close()
