"""One Redis connection per process, shared by the embedding cache, the Slack event claims and the job-slot claims.

One timeout policy (``timeout`` seconds to connect and per command, no client-side retries) and one outage state:
the first failure after a healthy spell counts one outage (``outages``); the caller that saw it logs one warning in
its own words (the embedding cache's outages also reach the metrics with each answer). Callers that can do without Redis skip it for ``retry_after`` seconds
(:meth:`may_try`) so an outage costs them nothing rather than one timeout per call.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 0.5
DEFAULT_RETRY_AFTER = 5.0


def redacted_url(url: str) -> str:
    """``redis://host:port/db`` without user name or password (for logs)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class RedisConnection:
    """A ``redis.Redis`` client and the outage bookkeeping every user of it shares."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retry_after: float = DEFAULT_RETRY_AFTER,
    ) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.where = redacted_url(url)
        self.errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self.client: Any = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        self.retry_after = retry_after
        self.available = True
        self.outages = 0  # transitions from available to unavailable
        self.errors_seen = 0  # failed commands
        self._down_until = 0.0
        self._lock = threading.Lock()

    def may_try(self) -> bool:
        """False during the pause after a failure (callers with a fallback skip Redis then)."""
        return self.available or time.monotonic() >= self._down_until

    def failed(self) -> bool:
        """Count a failed command; True when it starts an outage (the caller then logs one warning)."""
        with self._lock:
            self.errors_seen += 1
            self._down_until = time.monotonic() + self.retry_after
            if not self.available:
                return False
            self.available = False
            self.outages += 1
        return True

    def recovered(self) -> bool:
        """Note a successful command; True when it ends an outage."""
        if self.available:
            return False
        with self._lock:
            if self.available:
                return False
            self.available = True
        return True

    def close(self) -> None:
        with contextlib.suppress(*self.errors):
            self.client.close()
