"""Checks a command makes once ``Settings`` are loaded: what ``rag/config.py`` cannot check by itself.

* Cron lines in ``[schedules]`` need the scheduler to be parsed (``rag/`` does not import it): a bad line is a
  ``ConfigError`` naming the key and its line for every command, not only when ``jobs`` starts.
* A configured Redis that does not answer is only worth a warning: the embedding cache works without it.
  ``serve`` and ``jobs`` check it when they start (one-shot commands hear it from the cache when they use it).
"""

from __future__ import annotations

from collections.abc import Callable

from jobs.scheduler import JOB_NAMES
from jobs.weeks import cron_trigger
from rag.config import Settings, config_problem
from rag.errors import ConfigError
from rag.redis_connection import redacted_url

REDIS_PROBE_TIMEOUT = 1.0  # seconds; a Redis on another host that never answers costs start-up no more


def check_schedules(settings: Settings) -> None:
    """Each ``[schedules]`` cron line parses (in the configured time zone)."""
    schedules = settings.app.schedules
    for name in JOB_NAMES:
        try:
            cron_trigger(getattr(schedules, name), schedules.timezone)
        except ConfigError as exc:
            raise ConfigError(config_problem(settings.config_path, ("schedules", name), str(exc))) from exc


def warn_if_redis_is_down(settings: Settings, warn: Callable[[str], None]) -> bool:
    """Ping ``REDIS_URL`` once; if that fails, ``warn`` (one line) and go on. True when Redis answered."""
    if not settings.redis_url:
        return True
    import redis

    client = redis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=REDIS_PROBE_TIMEOUT, socket_timeout=REDIS_PROBE_TIMEOUT
    )
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        warn(
            f"REDIS_URL: Redis at {redacted_url(settings.redis_url)} is unavailable ({reason}); "
            "going on without it (embeddings are not cached until it is back)"
        )
        return False
    finally:
        client.close()
    return True
