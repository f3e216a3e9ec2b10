"""Hostile uploads: peak RSS of ``bestbefore serve`` while N clients each send a 1 GB unsigned body, and the time
each client waits for the 413.

    .venv/bin/python benchmarks/hostile_http.py                    # 10 clients x 1 GB, both framings, /slack/events
    .venv/bin/python benchmarks/hostile_http.py --clients 10 --gigabytes 1 --path /hooks/refresh

``bestbefore serve`` runs in HTTP mode as a subprocess (hashing embedder, the fake Slack Web API of the tests). Each
client opens a raw socket and streams its body from a generator (64 KiB blocks: the client never holds the body),
once with ``Content-Length: 1 GB`` and once chunked, all clients at the same moment. The server's RSS is sampled
every 10 ms from ``/proc/PID/status`` (and ``VmHWM``, the kernel's peak, read at the end). While the attack runs,
``GET /healthz`` is timed to show the server still answers. ``--baseline-src DIR`` runs another checkout's code
(e.g. a ``git worktree`` of main) with the same venv, for the "before" figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.bot_harness import SECRET  # noqa: E402
from tests.fakes.raw_http import RawResult, chunked, plain, send_raw  # noqa: E402
from tests.fakes.serve_process import serve_process  # noqa: E402
from tests.fakes.slack_fake import BOT_TOKEN, FakeSlack  # noqa: E402

GB = 1024**3


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class RssSampler:
    """The highest VmRSS of ``pid`` seen while running (sampled every 10 ms)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_kb = max(self.peak_kb, status_kb(self.pid, "VmRSS"))
            except OSError:
                return
            time.sleep(0.01)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def attack(base: str, path: str, clients: int, size: int, framing: str) -> list[RawResult]:
    barrier = threading.Barrier(clients)

    def one(_: int) -> RawResult:
        if framing == "chunked":
            headers, body = {"Transfer-Encoding": "chunked"}, chunked(size)
        else:
            headers, body = {"Content-Length": str(size)}, plain(size)
        headers["Content-Type"] = "application/json"
        barrier.wait()
        return send_raw(base, path, headers=headers, body=body, timeout=120)

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, range(clients)))


def healthz_during(base: str, stop: threading.Event, seen: list[float]) -> None:
    with httpx.Client(timeout=30) as http:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                http.get(base + "/healthz")
                seen.append((time.perf_counter() - started) * 1000)
            except httpx.HTTPError:
                seen.append(float("inf"))
            time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--path", default="/slack/events")
    parser.add_argument("--framing", choices=["content-length", "chunked", "both"], default="both")
    parser.add_argument("--baseline-src", type=Path, help="run this checkout's code instead (PYTHONPATH)")
    args = parser.parse_args()
    size = int(args.gigabytes * GB)
    framings = ["content-length", "chunked"] if args.framing == "both" else [args.framing]
    fake = FakeSlack().start()
    workdir = Path(tempfile.mkdtemp(prefix="bestbefore-hostile-"))
    (workdir / "bestbefore.toml").write_text('[index]\nembedder = "hashing"\n')
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.url,
           "BESTBEFORE_HOME": str(workdir / "home"), "BESTBEFORE_WEBHOOK_SECRET": "whsec-bench"}  # fmt: skip
    if args.baseline_src:
        env["PYTHONPATH"] = str(args.baseline_src.resolve())
    print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}")
    failed = False
    try:
        with serve_process(workdir, env) as served:
            idle_kb = status_kb(served.pid, "VmRSS")
            print(f"server pid {served.pid}, RSS at rest {idle_kb / 1024:.0f} MB; {args.clients} clients x "
                  f"{args.gigabytes:g} GB to {args.path}")  # fmt: skip
            for framing in framings:
                stop, health = threading.Event(), []
                prober = threading.Thread(target=healthz_during, args=(served.base, stop, health), daemon=True)
                with RssSampler(served.pid) as sampler:
                    prober.start()
                    started = time.perf_counter()
                    results = attack(served.base, args.path, args.clients, size, framing)
                    wall = time.perf_counter() - started
                    stop.set()
                    prober.join()
                statuses = [r.status for r in results]
                waits = [r.seconds_to_status for r in results if r.seconds_to_status is not None]
                sent = [r.bytes_sent / 1024**2 for r in results]
                finite = [h for h in health if h != float("inf")]
                print(f"\n{framing}: statuses {sorted(set(map(str, statuses)))}  wall {wall:.2f} s")
                print(f"  peak RSS during the attack {sampler.peak_kb / 1024:.0f} MB "
                      f"(+{(sampler.peak_kb - idle_kb) / 1024:.0f} MB over rest)")  # fmt: skip
                if waits:
                    print(f"  time to the 413: p50 {statistics.median(waits) * 1000:.1f} ms, "
                          f"max {max(waits) * 1000:.1f} ms")  # fmt: skip
                print(f"  body sent per client before the cut: median {statistics.median(sent):.1f} MB, "
                      f"max {max(sent):.1f} MB of {size / 1024**2:.0f} MB")  # fmt: skip
                if finite:
                    print(f"  /healthz during the attack: {len(finite)} answered of {len(health)}, "
                          f"p50 {statistics.median(finite):.1f} ms, max {max(finite):.1f} ms")  # fmt: skip
                failed |= any(s != 413 for s in statuses)
            print(f"\nVmHWM (peak RSS over the process's life): {status_kb(served.pid, 'VmHWM') / 1024:.0f} MB")
    finally:
        fake.stop()
    print(f"load average after: {Path('/proc/loadavg').read_text().split()[:3]}")
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    sys.exit(main())
