"""Event claims: in-process with expiry, Redis SET NX EX shared between processes, and the outage fallback."""

from __future__ import annotations

import redis

from bot.dedupe import KEY_PREFIX, InProcessClaims, RedisClaims, event_claim_key
from tests.conftest import RedisServer


def test_in_process_claims_win_once_and_expire() -> None:
    now = [1000.0]
    claims = InProcessClaims(ttl_seconds=60, clock=lambda: now[0])
    assert claims.claim("event:Ev1") is True
    assert claims.claim("event:Ev1") is False
    assert claims.claim("event:Ev2") is True
    now[0] += 61
    assert claims.claim("event:Ev1") is True  # expired: a new delivery a day later is a new event


def test_in_process_claims_stay_bounded() -> None:
    claims = InProcessClaims(max_entries=3)
    for n in range(10):
        assert claims.claim(f"k{n}")
    assert claims.claim("k9") is False and claims.claim("k0") is True  # the oldest were dropped


def test_event_claim_key() -> None:
    assert event_claim_key({"type": "event_callback", "event_id": "Ev9"}) == "event:Ev9"
    assert event_claim_key({"type": "url_verification", "challenge": "x"}) is None


def test_redis_claims_are_shared_and_expire(redis_url: str) -> None:
    first, second = RedisClaims(redis_url, ttl_seconds=120), RedisClaims(redis_url, ttl_seconds=120)
    try:
        assert first.claim("event:EvA") is True
        assert second.claim("event:EvA") is False  # another process sees the claim
        client = redis.Redis.from_url(redis_url)
        assert 0 < client.ttl(KEY_PREFIX + "event:EvA") <= 120
        client.close()
    finally:
        first.close()
        second.close()


def test_redis_outage_falls_back_to_in_process_claims(redis_url: str, redis_server: RedisServer) -> None:
    claims = RedisClaims(redis_url)
    try:
        assert claims.claim("event:EvB") is True
        redis_server.stop()
        assert claims.claim("event:EvB") is False  # claimed before the outage: remembered in memory too
        assert claims.claim("event:EvC") is True  # still answered during the outage...
        assert claims.claim("event:EvC") is False  # ...exactly once
        redis_server.start()
        assert claims.claim("event:EvC") is False  # Redis restarted empty, but the outage claim still holds
        assert claims.claim("event:EvD") is True
        client = redis.Redis.from_url(redis_url)
        assert client.exists(KEY_PREFIX + "event:EvD") == 1  # back on Redis
        client.close()
    finally:
        if redis_server.process is None:
            redis_server.start()
        claims.close()
