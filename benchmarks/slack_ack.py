"""Slack ack latency: N concurrent signed events against the real HTTP app, each answered exactly once; and the
Slack path end to end (event in -> ``chat.update`` out) with the ledger in PostgreSQL behind a latency proxy.

    .venv/bin/python benchmarks/slack_ack.py                        # 50 events, MiniLM answers
    .venv/bin/python benchmarks/slack_ack.py --events 50 --retries 1 --embedder hashing
    .venv/bin/python benchmarks/slack_ack.py --path 40 --ledger-latency-ms 5 --embedder hashing   # (#11)

``--path N`` sends N events one at a time and times each from the send until its ``chat.update`` reached the fake
Slack, twice in one run: with the ledger in a local SQLite file, then in PostgreSQL (127.0.0.1:5432, a scratch
database) behind a TCP proxy that holds every reply ``--ledger-latency-ms``. Answers and message links are queued
for the ledger's writer, so the two p95s should match: the database is not on the reply path. The run also checks
that every answer and link did reach PostgreSQL.

The bot runs as in production (Starlette under uvicorn, Bolt running each listener in the acking thread, which hands
the event to the bot's one pool, the real pipeline over a small real index) against the fake Slack Web API of the tests. ``N`` threads wait
on a barrier and post their signed ``app_mention`` at the same moment; the ack latency is what each client measures
from sending to the HTTP 200. ``--retries R`` re-delivers every event R more times (same ``event_id``, with
``X-Slack-Retry-Num``) in the same burst. Also reported: time until each placeholder and each answer reached the
fake Slack. The run fails (exit 1) unless every event got exactly one placeholder and one answer.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.bot_harness import SECRET, start_harness  # noqa: E402
from tests.fakes.latency_proxy import LatencyProxy  # noqa: E402
from tests.fakes.slack_fake import BOT_USER, event_body, signed_headers  # noqa: E402

QUESTIONS = [
    "How many days of paid holiday do employees get?",
    "Do contractors get paid holiday?",
    "How do I set up the VPN?",
    "When do deploys go out?",
    "Who approves hotfixes?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def burst(base_url: str, deliveries: list[tuple[bytes, int]]) -> list[tuple[int, float, float]]:
    """Post every delivery at the same moment (one thread and connection each): (status, sent at, ack ms)."""
    barrier = threading.Barrier(len(deliveries))
    clients = [httpx.Client(timeout=30) for _ in deliveries]
    for client in clients:  # open each connection before the burst, as Slack's keep-alive would
        client.get(base_url + "/healthz")

    def deliver(index: int) -> tuple[int, float, float]:
        body, attempt = deliveries[index]
        headers = signed_headers(SECRET, body)
        if attempt:
            headers |= {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_timeout"}
        barrier.wait()
        started = time.monotonic()
        response = clients[index].post(base_url + "/slack/events", content=body, headers=headers)
        return response.status_code, started, (time.monotonic() - started) * 1000

    with ThreadPoolExecutor(max_workers=len(deliveries)) as pool:
        results = list(pool.map(deliver, range(len(deliveries))))
    for client in clients:
        client.close()
    return results


def scratch_postgres() -> tuple[str, str]:
    """A new database on the local PostgreSQL: (its name, the admin URL to drop it with)."""
    import psycopg

    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    name = f"bestbefore_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, admin


def drop_postgres(name: str, admin: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def path_latency(events: int, embedder: str, database_url: str | None) -> dict[str, object]:
    """Events one at a time: ms from the send until the answer's ``chat.update`` reached the fake Slack."""
    home = Path(tempfile.mkdtemp(prefix="bestbefore-slack-path-")) / "home"
    harness = start_harness(home, embedder=embedder, database_url=database_url)
    try:
        harness.mention(f"<@{BOT_USER}> warm-up question about holidays", channel="C0WARMUP")
        harness.wait_answered("C0WARMUP", timeout=120)
        latencies: list[float] = []
        for n in range(events):
            channel = f"C{n:04d}PATH"
            started = time.monotonic()
            harness.mention(f"<@{BOT_USER}> {QUESTIONS[n % len(QUESTIONS)]}", channel=channel, user=f"U{n:04d}PATH")
            harness.wait_answered(channel, timeout=60)
            [update] = [c for c in harness.fake.calls_to("chat.update") if c.params["channel"] == channel]
            latencies.append((update.at - started) * 1000)
        harness.settle()
        ledger = harness.services.ledger
        reads: list[float] = []  # what one synchronous ledger call costs here (the reply path makes none)
        linked = 0
        for call in harness.fake.calls_to("chat.update"):
            if call.params["channel"].endswith("PATH"):
                mark = time.monotonic()
                linked += bool(ledger.answer_for_message(call.params["channel"], call.params["ts"]))
                reads.append((time.monotonic() - mark) * 1000)
        return {
            "p50_ms": round(statistics.median(latencies), 1),
            "p95_ms": round(percentile(latencies, 95), 1),
            "max_ms": round(max(latencies), 1),
            "links_in_ledger": linked,
            "one_ledger_read_p50_ms": round(statistics.median(reads), 1),
        }
    finally:
        harness.close()


def run_path(events: int, embedder: str, latency_ms: float) -> dict[str, object]:
    local = path_latency(events, embedder, None)
    name, admin = scratch_postgres()
    proxy = LatencyProxy("127.0.0.1", 5432, latency=latency_ms / 1000).start()
    try:
        remote = path_latency(events, embedder, f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/{name}")
    finally:
        proxy.close()
        drop_postgres(name, admin)
    return {
        "events": events,
        "embedder": embedder,
        "ledger_latency_ms": latency_ms,
        "sqlite": local,
        "postgres_behind_proxy": remote,
        "p95_ratio": round(float(remote["p95_ms"]) / float(local["p95_ms"]), 2),  # type: ignore[arg-type]
        "all_linked": local["links_in_ledger"] == events and remote["links_in_ledger"] == events,
    }


def run(events: int, retries: int, embedder: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bestbefore-slack-bench-") as tmp:  # removed afterwards
        return _run(Path(tmp) / "home", events, retries, embedder)


def _run(home: Path, events: int, retries: int, embedder: str) -> dict[str, object]:
    harness = start_harness(home, embedder=embedder)
    try:
        # warm up: model load, first search, connection set-up (not timed)
        harness.mention(f"<@{BOT_USER}> warm-up question about holidays", channel="C0WARMUP")
        harness.wait_answered("C0WARMUP", timeout=120)
        bodies = []
        for n in range(events):
            channel = f"C{n:04d}BENCH"
            text = f"<@{BOT_USER}> {QUESTIONS[n % len(QUESTIONS)]}"
            ts = harness.fake.add_message(channel, text, user=f"U{n:04d}")
            event = {"type": "app_mention", "user": f"U{n:04d}", "text": text, "ts": ts, "channel": channel}
            bodies.append(json.dumps(event_body(event)).encode())
        deliveries = [(body, attempt) for body in bodies for attempt in range(retries + 1)]
        with multiprocessing.get_context("spawn").Pool(1) as client_process:  # the load generator has its own GIL
            results = client_process.apply(burst, (harness.web.url, deliveries))
        sent_at = {
            body: started for (body, attempt), (_, started, _) in zip(deliveries, results, strict=True) if attempt == 0
        }
        channels = [f"C{n:04d}BENCH" for n in range(events)]
        harness.fake.wait_for(
            lambda fake: len({c.params["channel"] for c in fake.calls_to("chat.update")} & set(channels)) == events,
            timeout=300,
        )
        harness.settle()
        posts = Counter(c.params["channel"] for c in harness.fake.calls_to("chat.postMessage"))
        updates = Counter(c.params["channel"] for c in harness.fake.calls_to("chat.update"))
        once = all(posts[c] == 1 and updates[c] == 1 for c in channels)
        start_by_channel = {
            json.loads(body)["event"]["channel"]: sent_at[body] for body in bodies if body in sent_at
        }  # fmt: skip
        placeholder_ms = [
            (c.at - start_by_channel[c.params["channel"]]) * 1000
            for c in harness.fake.calls_to("chat.postMessage")
            if c.params["channel"] in start_by_channel
        ]
        answer_ms = [
            (c.at - start_by_channel[c.params["channel"]]) * 1000
            for c in harness.fake.calls_to("chat.update")
            if c.params["channel"] in start_by_channel
        ]
        acks = [ms for _, _, ms in results]
        return {
            "events": events,
            "deliveries": len(deliveries),
            "embedder": embedder,
            "statuses": dict(Counter(status for status, _, _ in results)),
            "ack_p50_ms": round(statistics.median(acks), 1),
            "ack_p99_ms": round(percentile(acks, 99), 1),
            "ack_max_ms": round(max(acks), 1),
            "placeholder_p50_ms": round(statistics.median(placeholder_ms), 1),
            "placeholder_p99_ms": round(percentile(placeholder_ms, 99), 1),
            "answer_p50_ms": round(statistics.median(answer_ms), 1),
            "answer_p99_ms": round(percentile(answer_ms, 99), 1),
            "answered_exactly_once": once,
            "answers": sum(updates[c] for c in channels),
        }
    finally:
        harness.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--retries", type=int, default=0, help="extra deliveries of each event (same event_id)")
    parser.add_argument("--embedder", default="minilm", choices=["minilm", "hashing"])
    parser.add_argument("--path", type=int, default=0, help="time N events one at a time, event in -> chat.update out")
    parser.add_argument("--ledger-latency-ms", type=float, default=5.0, help="latency of the PostgreSQL proxy")
    args = parser.parse_args()
    if args.path:
        outcome = run_path(args.path, args.embedder, args.ledger_latency_ms)
        print(json.dumps(outcome, indent=2))
        sys.exit(0 if outcome["all_linked"] else 1)
    result = run(args.events, args.retries, args.embedder)
    print(json.dumps(result, indent=2))
    if not result["answered_exactly_once"] or set(result["statuses"]) != {200}:  # type: ignore[arg-type]
        sys.exit(1)


if __name__ == "__main__":
    main()
