"""Redis (the embedding cache) stops mid-serve: answers go on without the cache and the outage is counted in
``/metrics`` (``bestbefore_cache_events_total{event="outage"}``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from tests.conftest import RedisServer
from tests.fakes.bot_harness import start_harness
from tests.fakes.fault_support import serve_monitoring
from tests.fakes.slack_fake import BOT_USER

OUTAGE = re.compile(r'^bestbefore_cache_events_total\{event="outage",layer="embedding"\} (\S+)$', re.MULTILINE)


def outage_events(metrics_url: str) -> float:
    found = OUTAGE.search(httpx.get(metrics_url, timeout=10).text)
    assert found is not None, "the cache outage metric is not exported"
    return float(found.group(1))


def test_answers_bypass_a_stopped_redis_and_the_outage_is_counted(
    home: Path, redis_server: RedisServer, redis_url: str
) -> None:
    harness = start_harness(home, redis_url=redis_url)
    monitoring = serve_monitoring(harness.services)
    metrics = monitoring.url + "/metrics"
    try:
        harness.mention(f"<@{BOT_USER}> How many days of paid holiday do employees get?", channel="C0UP")
        harness.wait_answered("C0UP")
        assert outage_events(metrics) == 0

        redis_server.stop()
        harness.mention(f"<@{BOT_USER}> How do I set up the VPN?", channel="C0DOWN")
        [update] = harness.wait_answered("C0DOWN")
        reply = update["text"] + json.dumps(update["blocks"])
        assert "WireGuard" in reply and "Sorry" not in reply
        assert outage_events(metrics) >= 1
        assert harness.recorder.seen[-1][0].cache["outages"] == 1
    finally:
        if redis_server.process is None:
            redis_server.start()
        monitoring.stop()
        harness.close()
