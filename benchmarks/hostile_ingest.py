"""Ingest of a hostile folder through the real CLI (#10): wall time, what was indexed and skipped, the slowest file.

    .venv/bin/python benchmarks/hostile_ingest.py [--levels 5000]

Builds ``tests/data/hostile/make_hostile.py``'s folder (good files beside a FIFO, a socket, a device, a billion-laughs
front matter, a 51 MiB sparse file, symlink loops, a ``--levels``-deep tree, ...) in a temporary folder, then runs
``bestbefore ingest --json`` (hashing embedder, so the time is bestbefore's own) as a subprocess, and the same for a
folder of only the good files. Then each file alone (``scan_source(paths=[file])``) for the slowest single file.
The issue's bar: the whole ingest in under 30 s, no file over ~1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "data" / "hostile"))

from make_hostile import build, remove_tree  # noqa: E402

from rag.config import SourceConfig  # noqa: E402
from rag.ingest.sources import scan_source  # noqa: E402


def ingest(folder: Path, work: Path, name: str) -> tuple[float, dict[str, object]]:
    config = work / f"{name}.toml"
    config.write_text(f'[[sources]]\nname = "{name}"\npath = "{folder}"\n\n[index]\nembedder = "hashing"\n')
    env = {**os.environ, "BESTBEFORE_HOME": str(work / f"home-{name}")}
    for variable in ("REDIS_URL", "DATABASE_URL", "WEAVIATE_URL", "COHERE_API_KEY", "LANGFUSE_PUBLIC_KEY"):
        env.pop(variable, None)
    started = time.perf_counter()
    run = subprocess.run(
        [str(Path(sys.executable).parent / "bestbefore"), "-c", str(config), "ingest", "--json"],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        raise SystemExit(f"ingest of {folder} failed ({run.returncode}): {run.stderr[-2000:]}")
    return seconds, json.loads(run.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, default=5000, help="depth of the deep folder tree (the issue: 5,000)")
    args = parser.parse_args()
    import make_hostile

    make_hostile.DEEP_LEVELS = args.levels
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        made = build(work / "hostile")
        built = time.perf_counter() - started
        good = work / "good"
        for rel in sorted(made.good | set(made.warned)):
            (good / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(made.docs / rel, good / rel)

        hostile_s, report = ingest(made.docs, work, "hostile")
        good_s, good_report = ingest(good, work, "good")
        source = SourceConfig(name="one", path=made.docs)
        slowest: list[tuple[float, str]] = []
        for rel in sorted(made.good | set(made.warned) | set(made.bad)):
            one = time.perf_counter()
            scan_source(source, paths=[rel])
            slowest.append((time.perf_counter() - one, rel))
        slowest.sort(reverse=True)
        remove_tree(made.docs / "deep")

    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"load average {' '.join(load)}; hostile folder built in {built:.1f} s ({args.levels}-level tree)")
    print("| folder | files | indexed | skipped | date warnings | `ingest --json` wall time |")
    print("| --- | --- | --- | --- | --- | --- |")
    total = len(made.good) + len(made.warned) + len(made.bad)
    print(f"| hostile | {total} | {report['docs_new']} | {report['docs_skipped']} | "
          f"{len(report['date_warnings'])} | {hostile_s:.2f} s |")  # type: ignore[arg-type]  # fmt: skip
    print(f"| good files only | {len(made.good) + len(made.warned)} | {good_report['docs_new']} | "
          f"{good_report['docs_skipped']} | {len(good_report['date_warnings'])} | {good_s:.2f} s |")  # type: ignore[arg-type]  # fmt: skip
    print(f"hostile / good wall time: {hostile_s / good_s:.2f}x")
    print("slowest single files: " + ", ".join(f"{rel!r} {seconds * 1000:.0f} ms" for seconds, rel in slowest[:4]))


if __name__ == "__main__":
    main()
