"""One user floods the bot (200 questions in 10 s): are the other users still answered, and how fast?

    .venv/bin/python benchmarks/rate_limit_burst.py                      # LLM latency 0.5 s per answer
    .venv/bin/python benchmarks/rate_limit_burst.py --flood 200 --seconds 10 --llm-seconds 0.5

The real bot over HTTP (Starlette/uvicorn, Bolt, the answer workers, the real pipeline over the small index of the
bot tests) against the fake Slack Web API. The generator is the extractive one behind a fixed delay
(``--llm-seconds``) standing in for a hosted LLM, which is what makes answers slow and workers scarce. Three runs,
each on a fresh bot: the other users alone; with the flood and no limits (``[limits]`` rates 0); with the flood
and the default ``[limits]``. The flooder asks in C0FLOOD, one question every ``seconds/flood``; six other users
ask 4 questions each over the same 10 s (one of them in C0FLOOD too). Reported per run: the other users' time from
posting the event to their answer reaching Slack (p50 / p95 / max), and what happened to the flooder's questions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.config import LimitsConfig  # noqa: E402
from rag.limits.questions import slow_down_message  # noqa: E402
from rag.models import SearchHit, Turn  # noqa: E402
from rag.providers.generation import Generation, Generator  # noqa: E402
from tests.fakes.bot_harness import BotHarness, start_harness  # noqa: E402
from tests.fakes.slack_fake import BOT_USER, event_body  # noqa: E402

OTHERS = [("U0BOB", "C0FLOOD")] + [(f"U0TEAM{n}", f"C0TEAM{n}") for n in range(1, 6)]
QUESTIONS_EACH = 4
NOTICE = slow_down_message(0).split("—")[0]


class SlowGenerator:
    """A generator that takes ``seconds`` per answer, like a hosted LLM."""

    def __init__(self, inner: Generator, seconds: float) -> None:
        self.inner, self.seconds, self.id = inner, seconds, f"slow-{inner.id}"

    def generate(self, question: str, evidence: Sequence[SearchHit], *, history: Sequence[Turn] = ()) -> Generation:
        time.sleep(self.seconds)
        return self.inner.generate(question, evidence, history=history)


def post_mention(harness: BotHarness, user: str, channel: str, text: str) -> tuple[str, float]:
    ts = harness.fake.add_message(channel, text, user=user)
    event = {"type": "app_mention", "user": user, "text": text, "ts": ts, "channel": channel, "event_ts": ts}
    sent = time.monotonic()
    harness.post(event_body(event))
    return ts, sent


def run(label: str, limits: LimitsConfig, *, flood: int, seconds: float, llm_seconds: float) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="bestbefore-burst-")) / "home"
    harness = start_harness(home, limits=limits)
    harness.services.pipeline = replace(
        harness.services.pipeline, generator=SlowGenerator(harness.services.pipeline.generator, llm_seconds)
    )
    sent: dict[str, float] = {}  # question ts -> when its event was posted (others only)
    lock = threading.Lock()
    question = f"<@{BOT_USER}> How many days of paid holiday do employees get?"

    def flooder() -> None:
        start = time.monotonic()
        for n in range(flood):
            time.sleep(max(0.0, start + n * seconds / flood - time.monotonic()))
            post_mention(harness, "U0FLOOD", "C0FLOOD", question)

    def other(user: str, channel: str, offset: float) -> None:
        start = time.monotonic()
        for n in range(QUESTIONS_EACH):
            time.sleep(max(0.0, start + offset + n * seconds / QUESTIONS_EACH - time.monotonic()))
            ts, at = post_mention(harness, user, channel, question)
            with lock:
                sent[ts] = at

    try:
        threads = [threading.Thread(target=flooder)] if flood else []
        threads += [threading.Thread(target=other, args=(u, c, 0.3 + i * 0.2)) for i, (u, c) in enumerate(OTHERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        def waits(fake: Any) -> list[float]:
            """Seconds from each other user's event to the answer replacing its placeholder."""
            question_of = {  # placeholder ts -> the question it answers (its thread)
                m["ts"]: m.get("thread_ts") for channel in {c for _, c in OTHERS} for m in fake.bot_messages(channel)
            }
            return [
                call.at - sent[question_of[call.params["ts"]]]
                for call in fake.calls_to("chat.update")
                if question_of.get(call.params["ts"]) in sent
            ]

        expected = len(OTHERS) * QUESTIONS_EACH
        harness.fake.wait_for(lambda fake: len(waits(fake)) >= expected, timeout=600)
        others = sorted(waits(harness.fake))
        flood_answers = sum(1 for _, context in harness.recorder.seen if context.user == "U0FLOOD")
        notices = [c for c in harness.fake.calls_to("chat.postMessage") if NOTICE in c.params.get("text", "")]
        return {
            "run": label,
            "others_answered": f"{len(others)}/{expected}",
            "others_p50_s": round(statistics.median(others), 2),
            "others_p95_s": round(others[min(len(others) - 1, int(0.95 * len(others)))], 2),
            "others_max_s": round(max(others), 2),
            "flood_answered_while_measuring": flood_answers,
            "flood_notices": len(notices),
        }
    finally:
        harness.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flood", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--llm-seconds", type=float, default=0.5)
    args = parser.parse_args()
    off = LimitsConfig(user_per_minute=0, channel_per_minute=0)
    on = LimitsConfig()
    print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}", flush=True)
    runs = [
        ("others alone", on, 0),
        ("flood, no limits", off, args.flood),
        ("flood, default [limits]", on, args.flood),
    ]
    for label, limits, flood in runs:
        result = run(label, limits, flood=flood, seconds=args.seconds, llm_seconds=args.llm_seconds)
        print(json.dumps(result), flush=True)
    print(f"load average after: {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
