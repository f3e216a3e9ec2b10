"""Token buckets: ``take`` one token from each of several buckets at once, or from none and say how long to wait.

:class:`LocalTokenBuckets` keeps them in this process; :class:`RedisTokenBuckets` in Redis (one atomic Lua script,
Redis's clock), so every replica draws from the same buckets. Redis being down never blocks anyone: the Redis
buckets fall back to local ones until it is back (the same policy as the embedding cache).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rag.redis_connection import RedisConnection

log = logging.getLogger(__name__)

KEY_PREFIX = "bestbefore:bucket:"
MAX_LOCAL_BUCKETS = 50_000


@dataclass(frozen=True)
class Bucket:
    """A bucket holds up to ``burst`` tokens and gains ``per_second`` of them each second."""

    key: str
    per_second: float
    burst: int


@dataclass(frozen=True)
class Taken:
    """Whether a token was taken from every bucket; if not, the seconds until one can be."""

    allowed: bool
    retry_after: float = 0.0


class TokenBuckets(Protocol):
    def take(self, buckets: Sequence[Bucket]) -> Taken: ...

    def close(self) -> None: ...


def _refilled(tokens: float, since: float, now: float, bucket: Bucket) -> float:
    return min(float(bucket.burst), tokens + max(0.0, now - since) * bucket.per_second)


class LocalTokenBuckets:
    """Buckets in this process (one lock; full buckets are forgotten when there are too many)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._state: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, buckets: Sequence[Bucket]) -> Taken:
        with self._lock:
            now = self._clock()
            levels = []
            for bucket in buckets:
                tokens, at = self._state.get(bucket.key, (float(bucket.burst), now))
                levels.append(_refilled(tokens, at, now, bucket))
            waits = [(1.0 - level) / b.per_second for level, b in zip(levels, buckets, strict=True) if level < 1.0]
            if waits:
                return Taken(False, max(waits))
            for level, bucket in zip(levels, buckets, strict=True):
                self._state[bucket.key] = (level - 1.0, now)
            if len(self._state) > MAX_LOCAL_BUCKETS:
                self._state = {k: v for k, v in self._state.items() if now - v[1] < 3600}
            return Taken(True)

    def close(self) -> None:
        with self._lock:
            self._state.clear()


# KEYS: bucket keys; ARGV: per_second, burst for each key. Returns {1, "0"} or {0, "<seconds to wait>"}.
TAKE_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local levels = {}
local wait = 0
for i = 1, #KEYS do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'at')
  local tokens = tonumber(state[1]) or burst
  local at = tonumber(state[2]) or now
  local level = math.min(burst, tokens + math.max(0, now - at) * rate)
  levels[i] = level
  if level < 1 then
    wait = math.max(wait, (1 - level) / rate)
  end
end
if wait > 0 then
  return {0, tostring(wait)}
end
for i = 1, #KEYS do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  redis.call('HSET', KEYS[i], 'tokens', tostring(levels[i] - 1), 'at', tostring(now))
  redis.call('PEXPIRE', KEYS[i], math.ceil(burst / rate * 1000) + 1000)
end
return {1, '0'}
"""


class RedisTokenBuckets:
    """Buckets in Redis, shared by every replica. On a Redis failure, local buckets for ``retry_after`` seconds."""

    def __init__(self, redis: str | RedisConnection, *, timeout: float = 0.2, retry_after: float = 5.0) -> None:
        self._owned = isinstance(redis, str)
        self._redis = RedisConnection(redis, timeout=timeout) if isinstance(redis, str) else redis
        self._where = self._redis.where
        self._errors = self._redis.errors
        self._client: Any = self._redis.client
        self._script: Any = self._client.register_script(TAKE_SCRIPT)
        self._fallback = LocalTokenBuckets()
        self._retry_after = retry_after
        self._down_until = 0.0
        self.outages = 0

    def take(self, buckets: Sequence[Bucket]) -> Taken:
        if not buckets:
            return Taken(True)
        if time.monotonic() < self._down_until:
            return self._fallback.take(buckets)
        args: list[float | int] = []
        for bucket in buckets:
            args += [bucket.per_second, bucket.burst]
        try:
            allowed, wait = self._script(keys=[KEY_PREFIX + b.key for b in buckets], args=args)
        except self._errors as exc:
            self._redis.failed()
            if self._down_until == 0.0:
                self.outages += 1
                log.warning("Rate limits at %s unavailable (%s); limiting in this process", self._where, exc)
            self._down_until = time.monotonic() + self._retry_after
            return self._fallback.take(buckets)
        self._redis.recovered()
        if self._down_until:
            self._down_until = 0.0
            log.warning("Rate limits at %s are back", self._where)
        return Taken(bool(int(allowed)), float(wait))

    def close(self) -> None:
        if self._owned:  # a shared connection is closed by whoever built it
            self._redis.close()


def make_token_buckets(redis: str | RedisConnection | None) -> TokenBuckets:
    """Redis buckets shared by replicas when ``REDIS_URL`` is set (on the shared connection), else in this process."""
    return RedisTokenBuckets(redis) if redis else LocalTokenBuckets()
