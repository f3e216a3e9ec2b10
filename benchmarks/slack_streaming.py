"""Time to first visible answer text in Slack: streamed (chat.startStream/appendStream) vs placeholder-then-update.

    .venv/bin/python benchmarks/slack_streaming.py                   # 10 questions per mode
    .venv/bin/python benchmarks/slack_streaming.py --questions 20 --first-token 0.4 --token-delay 0.03

The bot runs as in production (Starlette under uvicorn, Bolt, the answer workers, the real pipeline over a small
index) against the fake Slack Web API and a fake Cohere that streams its answer as server-sent events, one word per
``--token-delay`` seconds after ``--first-token`` seconds (a model's time to first token). Each mode answers the same
questions one after another; "first text" is the time from posting the signed event to the first Slack call that
carries answer text (``chat.startStream`` / ``appendStream`` when streaming; the ``chat.update`` replacing the
placeholder otherwise); "complete" is until ``chat.stopStream`` / that update. Streaming is refused for the second
mode exactly as an old workspace would (``chat.startStream`` -> error), so the fallback path is what is measured.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.bot_harness import start_harness  # noqa: E402
from tests.fakes.cohere_fake import FakeCohereServer  # noqa: E402
from tests.fakes.slack_fake import BOT_USER, FakeSlack  # noqa: E402

QUESTIONS = [
    "How many days of paid holiday do employees get?",
    "When do deploys go out?",
    "How do I set up the VPN?",
    "Do contractors receive paid holiday?",
]
TEXT_METHODS = ("chat.startStream", "chat.appendStream", "chat.stopStream")
WORDS: list[int] = []  # words per answer, as they reached Slack


def first_text_at(fake: FakeSlack, channel: str, since: float, streaming: bool) -> tuple[float, float]:
    """(first call carrying answer text, completion) as monotonic times, for the answer after ``since``."""
    calls = [c for c in fake.calls if c.at >= since and c.params.get("channel") == channel]
    if streaming:
        texty = [
            c for c in calls if c.method in TEXT_METHODS and (c.params.get("chunks") or c.params.get("markdown_text"))
        ]
        done = [c for c in calls if c.method == "chat.stopStream"]
    else:
        texty = done = [c for c in calls if c.method == "chat.update"]
    return texty[0].at, done[0].at


def run_mode(home: Path, cohere: FakeCohereServer, *, streaming: bool, questions: int) -> list[tuple[float, float]]:
    harness = start_harness(home, cohere_url=cohere.url)
    try:
        if not streaming:
            harness.fake.refused["chat.startStream"] = "method_not_allowed"
        results = []
        for n in range(questions):
            channel = f"C0BENCH{n:03d}"
            since = time.monotonic()
            user = f"U0BENCH{n:03d}"  # one asker per question: the per-user rate limit never applies
            harness.mention(f"<@{BOT_USER}> {QUESTIONS[n % len(QUESTIONS)]}", channel=channel, user=user)
            method = "chat.stopStream" if streaming else "chat.update"
            harness.fake.wait_for(lambda f, c=channel, m=method: any(x.method == m and x.params.get("channel") == c
                                                                       for x in f.calls), timeout=60)  # fmt: skip
            first, done = first_text_at(harness.fake, channel, since, streaming)
            results.append((first - since, done - since))
            WORDS.append(len(harness.fake.bot_messages(channel)[0]["text"].split()))
        return results
    finally:
        harness.close()


def summary(label: str, results: list[tuple[float, float]]) -> tuple[float, float]:
    first = statistics.median(r[0] for r in results) * 1000
    done = statistics.median(r[1] for r in results) * 1000
    print(f"{label:<28} first text p50 {first:7.0f} ms   complete p50 {done:7.0f} ms   (n={len(results)})")
    return first, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--first-token", type=float, default=0.4, help="seconds to the first streamed token")
    parser.add_argument("--token-delay", type=float, default=0.03, help="seconds between streamed words")
    args = parser.parse_args()
    cohere = FakeCohereServer().start()
    cohere.fake.first_token_delay, cohere.fake.token_delay = args.first_token, args.token_delay
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ.pop("DATABASE_URL", None)
            streamed = run_mode(Path(tmp) / "a", cohere, streaming=True, questions=args.questions)
            updated = run_mode(Path(tmp) / "b", cohere, streaming=False, questions=args.questions)
    finally:
        cohere.stop()
    print(f"fake Cohere: first token after {args.first_token:.2f} s, then one word per {args.token_delay:.3f} s; "
          f"answers of {min(WORDS)}-{max(WORDS)} words")  # fmt: skip
    s_first, s_done = summary("streaming (chat_stream)", streamed)
    u_first, u_done = summary("placeholder + chat.update", updated)
    print(f"first visible answer text: streaming takes {s_first / u_first:.2f}x the time of placeholder-then-update")
    print(f"load average: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
