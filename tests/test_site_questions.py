"""#12's gate: on two real documentation sites, staff questions find the right page in the top 5 (≥ 90 %), and
answers are whole sentences without markup. MiniLM embeds both sites (~3,200 chunks) once; the vectors are kept
in a cache file in the temp folder, so later runs take seconds."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.config import IndexConfig, SourceConfig
from rag.evaluation.site_questions import SiteReport, evaluate_site, load_questions, site_pipeline
from rag.index.sqlite_store import SQLiteStore
from rag.providers.embedding_disk_cache import DiskCachedEmbedder
from rag.providers.local_embedder import make_local_embedder

DATA = Path(__file__).parent / "data"
VECTORS = Path(tempfile.gettempdir()) / "bestbefore-bench-cache"  # shared with benchmarks/site_questions.py


@pytest.fixture(scope="module")
def embedder() -> Iterator[DiskCachedEmbedder]:
    cached = DiskCachedEmbedder(make_local_embedder("minilm"), VECTORS)
    yield cached
    cached.close()


def run_site(name: str, source: SourceConfig, embedder: DiskCachedEmbedder, tmp: Path) -> SiteReport:
    store = SQLiteStore(tmp / "index.sqlite")
    try:
        pipeline, pages = site_pipeline(source, store, embedder, IndexConfig())
        return evaluate_site(name, load_questions(DATA / f"{name}_questions.jsonl"), pipeline, pages)
    finally:
        store.close()


def check(report: SiteReport) -> None:
    assert len(report.results) == 30
    misses = [(r.question, r.ranked) for r in report.misses()]
    assert report.hit_rate >= 0.9, misses
    assert [s for r in report.results for s in r.cut] == []
    assert [(r.answer, r.markup) for r in report.results if r.markup] == []
    assert report.refused <= 3


SITES = {
    "tts_handbook": ("handbook_clone", "pages", "https://handbook.tts.gsa.gov", "{base}/{path_noext}/"),
    "gds_way": ("gds_way_clone", "source", "https://gds-way.digital.cabinet-office.gov.uk", "{base}/{path_html}"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SITES))
def test_site_questions(
    name: str, request: pytest.FixtureRequest, embedder: DiskCachedEmbedder, tmp_path: Path
) -> None:
    clone_fixture, folder, base, rule = SITES[name]
    clone: Path = request.getfixturevalue(clone_fixture)
    source = SourceConfig(name=name.replace("_", "-"), path=clone / folder, url_base=base, url=rule)
    check(run_site(name, source, embedder, tmp_path))
