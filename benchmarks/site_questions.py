"""#12: answers on two real documentation sites — the 18F/TTS handbook (Eleventy) and the GDS Way (tech-docs).

    .venv/bin/python benchmarks/site_questions.py [--cache-dir DIR] [--verbose]

Clones both git bundles from ../shared/data, indexes each with the embedded default (MiniLM, SQLite, extractive
answers), asks the 30 questions of tests/data/<site>_questions.jsonl and prints, per site: top-5 page hit rate,
answer sentences cut mid-way, answers containing markup, refusals, and cited URLs that the site itself links to
(its own internal links and redirects — proof the URL is served, without going on the internet).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.config import IndexConfig, SourceConfig  # noqa: E402
from rag.evaluation.site_questions import SiteReport, evaluate_site, load_questions, site_pipeline  # noqa: E402
from rag.index.sqlite_store import SQLiteStore  # noqa: E402
from rag.ingest.readers import split_front_matter  # noqa: E402
from rag.providers.embedding_disk_cache import DiskCachedEmbedder  # noqa: E402
from rag.providers.local_embedder import make_local_embedder  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
HANDBOOK = "https://handbook.tts.gsa.gov"
GDS_WAY = "https://gds-way.digital.cabinet-office.gov.uk"


def sites(clones: Path) -> dict[str, tuple[SourceConfig, Path]]:
    return {
        "tts_handbook": (
            SourceConfig(name="tts-handbook", path=clones / "handbook" / "pages", url_base=HANDBOOK,
                         url="{base}/{path_noext}/"),
            ROOT / "tests" / "data" / "tts_handbook_questions.jsonl",
        ),
        "gds_way": (
            SourceConfig(name="gds-way", path=clones / "gds-way" / "source", url_base=GDS_WAY, url="{base}/{path_html}"),
            ROOT / "tests" / "data" / "gds_way_questions.jsonl",
        ),
    }  # fmt: skip


def linked_by_site(name: str, folder: Path) -> set[str]:
    """URLs the site links to itself (so it serves them): internal links, permalinks and redirect sources."""
    found: set[str] = set()
    if name == "tts_handbook":
        for page in folder.rglob("*.md"):
            text = page.read_text(encoding="utf-8")
            meta, _ = split_front_matter(text)
            if meta.get("permalink"):
                found.add(HANDBOOK + str(meta["permalink"]))
            for target in re.findall(r'{%\s*page\s+"([^"#]+)', text):
                found.add(f"{HANDBOOK}/{target.strip('/')}/")
        return found
    for page in folder.rglob("*.erb"):
        for target in re.findall(r"\]\((/[^)#\s]+\.html)", page.read_text(encoding="utf-8")):
            found.add(GDS_WAY + target)
    config = yaml.safe_load((folder.parent / "config" / "tech-docs.yml").read_text(encoding="utf-8"))
    found.update(GDS_WAY + target.split("#")[0] for target in (config.get("redirects") or {}).values())
    return found


def report_lines(report: SiteReport, linked: set[str], verbose: bool) -> list[str]:
    cited, served = report.url_counts(linked)
    lines = [
        f"| {report.name} | {len(report.results)} | {report.hit_rate:.0%} | {report.cut_sentences} | "
        f"{report.answers_with_markup} | {report.refused} | {served} of {cited} |"
    ]
    if verbose:
        for result in report.results:
            mark = "HIT " if result.hit else "MISS"
            print(f"{mark} {result.question}\n     expected {result.expected}\n     ranked   {result.ranked}")
            print(f"     answer   {result.answer[:400]}")
            for problem in result.cut + result.markup:
                print(f"     PROBLEM  {problem}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "bestbefore-bench-cache")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    index = IndexConfig()
    embedder = DiskCachedEmbedder(make_local_embedder(index.embedder), args.cache_dir)
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bestbefore-sites-") as tmp:
        clones = Path(tmp)
        for bundle, target in (("handbook/handbook.bundle", "handbook"), ("gds-way/gds-way.bundle", "gds-way")):
            subprocess.run(["git", "clone", "-q", str(DATA / bundle), str(clones / target)], check=True)
        for name, (source, questions) in sites(clones).items():
            started = time.perf_counter()
            store = SQLiteStore(clones / f"{name}.sqlite", title_weight=index.title_weight)
            pipeline, pages = site_pipeline(source, store, embedder, index)
            report = evaluate_site(name, load_questions(questions), pipeline, pages)
            rows.extend(report_lines(report, linked_by_site(name, source.path), args.verbose))
            print(f"{name}: {store.count_chunks()} chunks, {time.perf_counter() - started:.0f} s", file=sys.stderr)
            store.close()
    embedder.close()
    print(
        "| site | questions | top-5 page hit | sentences cut | answers with markup | refused | cited URLs the site links |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    print(f"\nload average: {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
