"""Exactly one answer per Slack event: one claim per event (a message by its channel and ts, others by event id).

Slack redelivers an event when it did not see an ack in time (HTTP ``X-Slack-Retry-Num``, Socket Mode
``retry_attempt``) and occasionally sends the same ``event_id`` twice. With ``REDIS_URL`` set the claim is a Redis
``SET key 1 NX EX ttl`` so several bot processes share it; otherwise an in-process table with expiry. If Redis is
unreachable the claim falls back to the in-process table (a warning is logged) rather than dropping the event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from slack_bolt import BoltResponse

from rag.redis_connection import RedisConnection

log = logging.getLogger(__name__)

KEY_PREFIX = "bestbefore:slack:seen:"
DEFAULT_TTL_SECONDS = 24 * 3600  # Slack's last retry comes ~5 minutes after the first delivery


class EventClaims(Protocol):
    def claim(self, key: str) -> bool:
        """True the first time ``key`` is claimed (within the ttl), False for every later claim."""
        ...


class InProcessClaims:
    """Claims kept in this process: a bounded, time-ordered table (oldest entries expire first)."""

    def __init__(
        self,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()  # key -> expiry, in insertion (= expiry) order
        self._lock = threading.Lock()

    def claim(self, key: str) -> bool:
        now = self._clock()
        with self._lock:
            while self._seen and (next(iter(self._seen.values())) <= now or len(self._seen) >= self._max):
                self._seen.popitem(last=False)
            if key in self._seen:
                return False
            self._seen[key] = now + self._ttl
            return True


class RedisClaims:
    """``SET NX EX`` claims shared by every process using the same Redis; in-process claims while Redis is down."""

    def __init__(
        self, redis: str | RedisConnection, *, ttl_seconds: int = DEFAULT_TTL_SECONDS, socket_timeout: float = 0.5
    ) -> None:
        self._owned = isinstance(redis, str)
        self._redis = RedisConnection(redis, timeout=socket_timeout) if isinstance(redis, str) else redis
        self._errors = self._redis.errors
        self._client: Any = self._redis.client
        self._ttl = ttl_seconds
        self._fallback = InProcessClaims(ttl_seconds=ttl_seconds)
        self._down = False

    def claim(self, key: str) -> bool:
        try:
            won = bool(self._client.set(KEY_PREFIX + key, b"1", nx=True, ex=self._ttl))
        except self._errors as exc:
            self._redis.failed()
            if not self._down:
                log.warning(
                    "Redis unavailable for event de-duplication (%s); using in-process claims", type(exc).__name__
                )
                self._down = True
            return self._fallback.claim(key)
        self._redis.recovered()
        if self._down:
            log.info("Redis is back for event de-duplication")
            self._down = False
        # a key first claimed in-process during an outage stays claimed
        return won and self._fallback.claim(key)

    def close(self) -> None:
        if self._owned:  # a shared connection is closed by whoever built it
            self._redis.close()


def make_claims(redis: str | RedisConnection | None) -> EventClaims:
    return RedisClaims(redis) if redis else InProcessClaims()


QUESTION_EVENTS = ("app_mention", "message")


def event_claim_key(body: dict[str, Any]) -> str | None:
    """The one de-duplication key of an Events API body (None for anything else: commands, url_verification, ...).

    A message (mention or DM) is keyed by its channel and ts, so a retry, a duplicate ``event_id`` and the same
    message delivered under a new event id all meet the same claim; any other event by its ``event_id``.
    """
    if body.get("type") != "event_callback":
        return None
    event = body.get("event") or {}
    if event.get("type") in QUESTION_EVENTS and event.get("channel") and event.get("ts"):
        return f"message:{event['channel']}:{event['ts']}"
    event_id = body.get("event_id")
    return f"event:{event_id}" if event_id else None


def dedupe_middleware(claims: EventClaims) -> Callable[..., BoltResponse | None]:
    """A Bolt global middleware, the only claim an event takes: acks a redelivered event without running any
    listener."""

    def drop_duplicate_events(
        body: dict[str, Any], next_: Callable[[], None], logger: logging.Logger
    ) -> BoltResponse | None:
        key = event_claim_key(body)
        if key is not None and not claims.claim(key):
            logger.info("ignoring duplicate delivery of %s", body.get("event_id"))
            return BoltResponse(status=200, body="")
        next_()
        return None

    return drop_duplicate_events
