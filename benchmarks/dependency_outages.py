"""Wall time of `bestbefore ask` (a whole CLI process) with each remote dependency healthy, refusing connections or
silent (accepts, never answers), and how many lines the user gets on stderr.

    .venv/bin/python benchmarks/dependency_outages.py [--runs 3] [--deadline 2]

Langfuse rows: the example handbook with the hashing embedder, LANGFUSE_* pointed at the local OTLP fake, a closed
port or a silent listener. Cohere rows: the handbook embedded by the Cohere fake (256 dimensions), then asked with
CO_API_URL pointed at the fake, a closed port or a silent listener, with ``[cohere] timeout = 1`` and
``deadline = --deadline``. Each row is the median of ``--runs`` processes; "answer printed → exit" is the time from the answer's last line
to the end of the process (closing the ledger, the tracer, the interpreter). Compare rows of the same run only.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.cohere_fake import FakeCohereServer  # noqa: E402
from tests.fakes.fault_support import BESTBEFORE, HOTEL_QUESTION, cli_env, handbook_config, run_cli  # noqa: E402
from tests.fakes.network import free_port  # noqa: E402
from tests.fakes.otlp_fake import FakeLangfuse  # noqa: E402
from tests.fakes.tcp_proxy import SilentListener  # noqa: E402

KEY = "bench-cohere-key"


@contextmanager
def endpoint(kind: str, healthy: Callable[[], str]) -> Iterator[str]:
    if kind == "healthy":
        yield healthy()
    elif kind == "refused":
        yield f"http://127.0.0.1:{free_port()}"
    else:
        with SilentListener() as silent:
            yield silent.url


def timed_ask(config: Path, env: dict[str, str], runs: int) -> tuple[float, float, int, str]:
    """Median wall time of the process, median time from the answer's last line to the exit, stderr lines, answer."""
    totals, tails, lines, answer = [], [], 0, ""
    for _ in range(runs):
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(BESTBEFORE), "-c", str(config), "ask", HOTEL_QUESTION],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert process.stdout is not None and process.stderr is not None
        printed = started
        first = ""
        for line in process.stdout:
            first = first or line.strip()
            if line.startswith("trace "):  # the answer's last line (render.print_answer)
                printed = time.perf_counter()
        errors = process.stderr.read()
        process.wait(timeout=300)
        ended = time.perf_counter()
        totals.append(ended - started)
        tails.append(ended - printed)
        lines = max(lines, len([line for line in errors.splitlines() if line.strip()]))
        answer = first[:40]
    return statistics.median(totals), statistics.median(tails), lines, answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--deadline", type=float, default=2.0)
    args = parser.parse_args()
    rows: list[tuple[str, str, float, float, int, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        config = handbook_config(Path(tmp) / "local")
        assert run_cli(config, cli_env(home), "ingest").returncode == 0
        langfuse = FakeLangfuse().start()
        for kind in ("none", "healthy", "refused", "silent"):
            if kind == "none":
                rows.append(("Langfuse", "not configured", *timed_ask(config, cli_env(home), args.runs)))
                continue
            with endpoint(kind, lambda: langfuse.url) as host:
                env = cli_env(home, LANGFUSE_PUBLIC_KEY="pk", LANGFUSE_SECRET_KEY="sk", LANGFUSE_HOST=host)
                rows.append(("Langfuse", kind, *timed_ask(config, env, args.runs)))
        langfuse.stop()

        cohere = FakeCohereServer().start()
        cohere.fake.api_key = KEY
        cohere_home = Path(tmp) / "cohere-home"
        extra = f"[cohere]\nembed_dimension = 256\ntimeout = 1\ndeadline = {args.deadline:g}\n"
        cohere_config = handbook_config(Path(tmp) / "cohere", extra, embedder=None)
        assert (
            run_cli(cohere_config, cli_env(cohere_home, COHERE_API_KEY=KEY, CO_API_URL=cohere.url), "ingest").returncode
            == 0
        )
        for kind in ("healthy", "refused", "silent"):
            with endpoint(kind, lambda: cohere.url) as url:
                env = cli_env(cohere_home, COHERE_API_KEY=KEY, CO_API_URL=url)
                rows.append((f"Cohere (deadline {args.deadline:g} s)", kind, *timed_ask(cohere_config, env, args.runs)))
        cohere.stop()

    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"load average {' '.join(load)}; median of {args.runs} processes per row")
    print("| dependency | state | `ask` process (s) | answer printed → exit (s) | stderr lines | answer |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for dependency, state, seconds, tail, lines, answer in rows:
        print(f"| {dependency} | {state} | {seconds:.2f} | {tail:.2f} | {lines} | {answer}… |")


if __name__ == "__main__":
    main()
