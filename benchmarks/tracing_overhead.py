"""Overhead of tracing on `ask`: p95 latency with the query ledger + Langfuse exporter on vs off, same run.

    .venv/bin/python benchmarks/tracing_overhead.py [--rounds 150] [--ledger sqlite|postgresql+psycopg://...]

The example handbook is indexed with the local MiniLM embedder (the default setup); each round asks one of a set
of questions twice, once with tracing off and once on, in alternating order, so drift hits both equally. "On" =
QueryLedger (SQLite file, or the given URL) + AnswerMetrics + LangfuseRecorder pointed at a local OTLP receiver.
The recorders run inside answer_question, so the measured latency includes them. ``--gap-ms`` idles between asks
(default 50 ms) so background export work is not forced to overlap the next ask; ``--gap-ms 0`` is back to back.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.answer.extractive import ExtractiveGenerator  # noqa: E402
from rag.answer.pipeline import AskContext, RagPipeline, answer_question  # noqa: E402
from rag.answer.staleness import StalenessPolicy  # noqa: E402
from rag.config import CostConfig, load_app_config  # noqa: E402
from rag.index.indexing import chunking_settings, refresh_source  # noqa: E402
from rag.index.sqlite_store import SQLiteStore  # noqa: E402
from rag.ledger.query_ledger import QueryLedger  # noqa: E402
from rag.observability.costs import PriceTable  # noqa: E402
from rag.observability.langfuse_tracing import LangfuseRecorder  # noqa: E402
from rag.observability.metrics import AnswerMetrics  # noqa: E402
from rag.observers import AnswerObserver  # noqa: E402
from rag.providers.local_embedder import MiniLMEmbedder  # noqa: E402

RECEIVER = """
import sys, time
sys.path.insert(0, {root!r})
from tests.fakes.otlp_fake import FakeLangfuse
fake = FakeLangfuse()
fake.start()
print(fake.url, flush=True)
while True:
    time.sleep(3600)
"""

QUESTIONS = [
    "How many days of paid time off do I get?",
    "How do I request parental leave?",
    "What is the expense limit for client dinners?",
    "How do I get access to the production database?",
    "Who do I call when the on-call pager fires at night?",
    "How do I book business travel?",
    "What laptop do new hires get?",
    "How do I roll back a failed deploy?",
    "What is the remote work policy?",
    "How are performance reviews scheduled?",
]


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=150)
    parser.add_argument("--ledger", default=None, help="ledger URL (default: a SQLite file in a temp dir)")
    parser.add_argument(
        "--gap-ms",
        type=float,
        default=50.0,
        help="idle time between asks (Slack questions arrive seconds apart; 0 = back to back)",
    )
    parser.add_argument("--only", default="ledger,metrics,langfuse", help="which recorders are on (comma list)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bb-trace-bench-") as tmp:  # removed afterwards, also on errors
        measure(args, Path(tmp))


def measure(args: argparse.Namespace, work: Path) -> None:
    app = load_app_config(ROOT / "examples" / "handbook" / "bestbefore.toml")
    store = SQLiteStore(work / "index.sqlite")
    embedder = MiniLMEmbedder()
    for source in app.sources:
        refresh_source(source, store=store, embedder=embedder, chunking=chunking_settings(app.index),
                       now=datetime.now(UTC))  # fmt: skip
    prices = PriceTable.from_config(CostConfig())
    # The stand-in for Langfuse runs in its own process, as Langfuse would (decoding must not share our GIL).
    receiver = subprocess.Popen(
        [sys.executable, "-c", RECEIVER.format(root=str(ROOT))], stdout=subprocess.PIPE, text=True
    )
    assert receiver.stdout is not None
    receiver_url = receiver.stdout.readline().strip()
    ledger = QueryLedger(args.ledger or f"sqlite:///{work / 'ledger.sqlite'}", prices=prices)
    metrics = AnswerMetrics(prices)
    langfuse = LangfuseRecorder(public_key=f"pk-lf-{uuid.uuid4().hex}", secret_key="sk-lf-bench", host=receiver_url,
                                prices=prices)  # fmt: skip
    available: dict[str, AnswerObserver] = {"ledger": ledger, "metrics": metrics, "langfuse": langfuse}
    tracing = [available[name] for name in args.only.split(",")]
    pipeline = RagPipeline(store=store, embedder=embedder, generator=ExtractiveGenerator(),
                           policy=StalenessPolicy(), recorders=[])  # fmt: skip
    context = AskContext(surface="slack", user="U1", channel="C1", thread="1.1")
    for question in QUESTIONS:  # warm up: model, SQLite pages, first connections
        answer_question(question, pipeline, context=context)
    timings: dict[str, list[float]] = {"off": [], "on": []}
    for n in range(args.rounds):
        question = QUESTIONS[n % len(QUESTIONS)]
        order = ["off", "on"] if n % 2 == 0 else ["on", "off"]
        for mode in order:
            pipeline.recorders = tracing if mode == "on" else []
            started = time.perf_counter()
            answer_question(question, pipeline, context=context)
            timings[mode].append((time.perf_counter() - started) * 1000)
            time.sleep(args.gap_ms / 1000)
    langfuse.close()
    time.sleep(0.5)
    off, on = p95(timings["off"]), p95(timings["on"])
    print(f"asks per mode: {args.rounds}; gap {args.gap_ms:g} ms; ledger: {ledger.engine.url.get_backend_name()}; "
          f"Langfuse export failures: {langfuse.exporter.failures}")  # fmt: skip
    print(f"p50 ms  off {statistics.median(timings['off']):.2f}  on {statistics.median(timings['on']):.2f}")
    print(f"p95 ms  off {off:.2f}  on {on:.2f}  overhead {100 * (on - off) / off:+.1f}% (goal < 5%)")
    ledger.close()
    receiver.terminate()
    receiver.wait(timeout=10)
    store.close()


if __name__ == "__main__":
    main()
