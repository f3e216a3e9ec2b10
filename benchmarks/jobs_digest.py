"""Scheduled jobs: weekly digest cost over a busy ledger, chart rendering, and the refresh webhook under a burst.

    .venv/bin/python benchmarks/jobs_digest.py [--answers 5000] [--requests 200]

* digest: seeds a SQLite query ledger (through ``QueryLedger.record_answer`` / ``record_vote``) with ``--answers``
  answers in each of two ISO weeks (latencies, costs, refusals, votes, citations of 4 docs), then times
  ``compose_digest`` (two weeks of stats + refresh/failure rows + stale ranking) and the chart PNG, 5 runs each.
* webhook: ``POST /hooks/refresh`` under uvicorn on a loopback port; ``--requests`` signed requests from 8 client
  threads for 2 sources, while each refresh takes 50 ms. Reports the 202 latency (p50/p95) and how many refreshes
  actually ran (coalescing).
Everything lives in a temporary folder; nothing is kept.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.publisher import digest_blocks  # noqa: E402
from jobs import runs  # noqa: E402
from jobs.webhook import RefreshQueue, refresh_webhook_route, signed_headers  # noqa: E402
from tests.fakes.jobs_support import index_docs, ledger_of, make_deps, seed_answer  # noqa: E402
from tests.fakes.network import free_port  # noqa: E402

W46 = datetime(2026, 11, 9, tzinfo=UTC)
DOCS = ("handbook:leave.md", "handbook:expenses.md", "handbook:laptops.md", "handbook:onboarding.md")


def timed(fn: object, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - start) * 1000)
    return out


def bench_digest(tmp: Path, answers: int) -> dict[str, float]:
    deps = make_deps(tmp)
    ledger = ledger_of(deps)
    rng = random.Random(7)
    start = time.perf_counter()
    for week in range(2):
        for i in range(answers):
            at = W46 + timedelta(weeks=week, seconds=rng.uniform(0, 7 * 86400))
            seed_answer(
                ledger, at, user=f"U{rng.randrange(300)}", total_ms=rng.lognormvariate(6, 0.5),
                refused=rng.random() < 0.1, cited=(rng.choice(DOCS),), vote=rng.choice((0, 0, 1, 1, -1)),
                question=f"question {i}",
            )  # fmt: skip
    seed_seconds = time.perf_counter() - start
    index_docs(deps, W46 + timedelta(days=8))
    now = W46 + timedelta(weeks=2, hours=9)
    compose = timed(lambda: runs.compose_digest(deps, "2026-W47", now), 5)
    chart = timed(lambda: runs.chart_of(deps, "2026-W47"), 5)
    digest = runs.compose_digest(deps, "2026-W47", now)
    ledger.close()
    return {
        "answers_per_week": answers,
        "seed_answers_per_s": round(2 * answers / seed_seconds, 1),
        "compose_digest_ms_median": round(statistics.median(compose), 1),
        "chart_png_ms_median": round(statistics.median(chart), 1),
        "blocks_json_bytes": len(json.dumps(digest_blocks(digest), ensure_ascii=False).encode()),
        "questions_in_digest": digest.figure("questions").value or 0,
    }


def bench_webhook(requests: int) -> dict[str, float]:
    secret = "bench-secret"
    ran: list[str] = []

    def refresh(source: str, paths: tuple[str, ...] | None) -> None:
        ran.append(source)
        time.sleep(0.05)

    queue = RefreshQueue(refresh)
    app = Starlette(routes=[refresh_webhook_route(SecretStr(secret), queue, ["handbook", "wiki"])])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    latencies: list[float] = []
    lock = threading.Lock()

    def client(count: int, worker: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            for i in range(count):
                body = json.dumps({"source": ("handbook", "wiki")[i % 2], "paths": [f"doc{worker}-{i}.md"]}).encode()
                start = time.perf_counter()
                response = http.post("/hooks/refresh", content=body, headers=signed_headers(secret, body))
                elapsed = (time.perf_counter() - start) * 1000
                assert response.status_code == 202, response.text
                with lock:
                    latencies.append(elapsed)

    started = time.perf_counter()
    workers = [threading.Thread(target=client, args=(requests // 8, w)) for w in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    burst_s = time.perf_counter() - started
    queue.wait_idle(60)
    server.should_exit = True
    thread.join(10)
    queue.close()
    latencies.sort()
    return {
        "requests": len(latencies),
        "burst_seconds": round(burst_s, 2),
        "accept_ms_p50": round(statistics.median(latencies), 1),
        "accept_ms_p95": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
        "refreshes_run": len(ran),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bestbefore-jobs-bench-") as tmp:
        print(json.dumps({"digest": bench_digest(Path(tmp), args.answers)}, indent=2))
    print(json.dumps({"webhook": bench_webhook(args.requests)}, indent=2))


if __name__ == "__main__":
    main()
