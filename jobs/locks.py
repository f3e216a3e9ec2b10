"""Run-once claims for scheduled job slots: Redis ``SET NX PX`` with renewal, or in-process without Redis.

A *slot* is one scheduled firing of a job (``digest@2026-11-23T09:00+01:00``). The first holder to claim a slot runs
it; the claim is renewed while the job runs (so a long job never loses it) and, when the job succeeds, it is kept as
a "done" marker for ``done_ttl`` so a replica that fires late for the same slot skips it instead of running it again.
If the job raises, the claim is released (a restart or another replica may retry the slot). If the holder dies,
renewal stops and the claim expires after ``ttl``: another replica may then take the slot.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from typing import Any, Protocol

from rag.redis_connection import RedisConnection

log = logging.getLogger(__name__)

# Extend / keep the key only while it still holds our token (another holder's claim is never touched).
_RENEW = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
)
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


class SlotClaims(Protocol):
    def claim(self, slot: str) -> AbstractContextManager[bool]:
        """Enter to learn whether this caller runs ``slot`` (True) or someone else already did / does (False)."""

    def close(self) -> None: ...


class RedisSlotClaims:
    """Claims shared by every replica through one Redis."""

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "bestbefore:job:",
        ttl: timedelta = timedelta(seconds=60),
        done_ttl: timedelta = timedelta(days=8),
    ) -> None:
        self._redis = client
        self._connection: RedisConnection | None = None
        self._owned = True  # close() closes ``client``; not so for a shared connection
        self._prefix = prefix
        self._ttl_ms = int(ttl.total_seconds() * 1000)
        self._done_ms = int(done_ttl.total_seconds() * 1000)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisSlotClaims:
        """Claims over a connection of their own (closed with them)."""
        claims = cls.shared(RedisConnection(url, timeout=5), **kwargs)
        claims._owned = True
        return claims

    @classmethod
    def shared(cls, redis: RedisConnection, **kwargs: Any) -> RedisSlotClaims:
        """Claims over the process's shared connection (its owner closes it)."""
        claims = cls(redis.client, **kwargs)
        claims._connection = redis
        claims._owned = False
        return claims

    @contextmanager
    def claim(self, slot: str) -> Iterator[bool]:
        key = self._prefix + slot
        token = uuid.uuid4().hex
        try:
            won = self._redis.set(key, token, nx=True, px=self._ttl_ms)
        except Exception:
            if self._connection is not None:
                self._connection.failed()  # the job fails (and is recorded); the outage is counted once
            raise
        if self._connection is not None:
            self._connection.recovered()
        if not won:
            yield False
            return
        stop = threading.Event()
        renewer = threading.Thread(target=self._keep, args=(key, token, stop), name=f"renew {slot}", daemon=True)
        renewer.start()
        succeeded = False
        try:
            yield True
            succeeded = True
        finally:
            stop.set()
            renewer.join()
            try:
                if succeeded:
                    self._renew(keys=[key], args=[token, self._done_ms])
                else:
                    self._release(keys=[key], args=[token])
            except Exception:  # the claim then simply expires after ttl
                log.warning("could not settle the claim on job slot %s", slot, exc_info=True)

    def _keep(self, key: str, token: str, stop: threading.Event) -> None:
        while not stop.wait(self._ttl_ms / 3000):
            try:
                if not self._renew(keys=[key], args=[token, self._ttl_ms]):
                    log.warning("lost the claim on %s (expired while running)", key)
                    return
            except Exception:
                log.warning("could not renew the claim on %s", key, exc_info=True)

    def close(self) -> None:
        if self._connection is None:
            self._redis.close()
        elif self._owned:
            self._connection.close()


class LocalSlotClaims:
    """Claims within one process (no ``REDIS_URL``): the same slot never runs twice here, nor twice at once."""

    def __init__(self, *, done_ttl: timedelta = timedelta(days=8)) -> None:
        self._lock = threading.Lock()
        self._taken: dict[str, float] = {}
        self._done_s = done_ttl.total_seconds()

    @contextmanager
    def claim(self, slot: str) -> Iterator[bool]:
        with self._lock:
            now = time.monotonic()
            self._taken = {s: t for s, t in self._taken.items() if t > now}
            if slot in self._taken:
                won = False
            else:
                self._taken[slot] = float("inf")
                won = True
        succeeded = False
        try:
            yield won
            succeeded = True
        finally:
            if won:
                with self._lock:
                    if succeeded:
                        self._taken[slot] = time.monotonic() + self._done_s
                    else:
                        self._taken.pop(slot, None)

    def close(self) -> None:
        pass
