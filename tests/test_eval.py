"""``bestbefore eval`` on small BEIR folders written here, through the CLI and through rag.evaluation.beir."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bestbefore.cli import app
from rag.evaluation.beir import DatasetError, evaluate_dataset, load_beir
from rag.index.sqlite_store import SQLiteStore
from rag.ingest.chunking import ChunkingSettings
from rag.models import InputType
from rag.providers.embedding_disk_cache import DiskCachedEmbedder
from rag.providers.local_embedder import HashingEmbedder

SCIFACT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scifact"

CORPUS = {
    "sourdough": (
        "Sourdough starter care",
        "Feed the sourdough starter with flour and water every day to keep the yeast alive.",
    ),
    "bicycle": ("Bicycle tyre repair", "To fix a punctured bicycle tyre, remove the inner tube and patch the hole."),
    "tax": ("Filing income tax", "Income tax returns are filed once a year with receipts for deductible expenses."),
    "volcano": ("Volcanic eruptions", "Magma rises through the crust and erupts from a volcano as lava and ash."),
    "chess": ("Chess openings", "The Sicilian defence is a chess opening that answers the king pawn move."),
    "garden": ("Tomato gardening", "Tomato plants need full sun, deep watering and a stake to climb."),
    "whales": (
        "Whale migration",
        "Humpback whales migrate thousands of kilometres between feeding and breeding waters.",
    ),
    "coffee": ("Espresso brewing", "Espresso is brewed by forcing hot water through finely ground coffee beans."),
    "python": ("Python packaging", "A pyproject file declares the build backend and dependencies of a Python package."),
    "glacier": ("Glacier retreat", "Glaciers retreat when summer melting exceeds the winter snowfall that feeds them."),
    "violin": ("Violin practice", "Violin students practise scales slowly with a metronome to improve intonation."),
    "comet": ("Comet tails", "A comet tail of gas and dust points away from the sun, pushed by the solar wind."),
}
QUERIES = {
    "q1": "how do I feed a sourdough starter",
    "q2": "patch a punctured bicycle inner tube",
    "q3": "why do glaciers retreat",
    "q4": "which way does a comet tail point",
}
RELEVANT = {"q1": "sourdough", "q2": "bicycle", "q3": "glacier", "q4": "comet"}


def write_beir(folder: Path, *, gz: bool = False, qrels: dict[str, str] | None = None, split: str = "test") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps({"_id": d, "title": t, "text": x}) + "\n" for d, (t, x) in CORPUS.items())
    if gz:
        with gzip.open(folder / "corpus.jsonl.gz", "wt", encoding="utf-8") as handle:
            handle.write(lines)
    else:
        (folder / "corpus.jsonl").write_text(lines, encoding="utf-8")
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in QUERIES.items()), encoding="utf-8"
    )
    (folder / "qrels").mkdir(exist_ok=True)
    rows = "".join(f"{q}\t{d}\t1\n" for q, d in (qrels or RELEVANT).items())
    (folder / "qrels" / f"{split}.tsv").write_text("query-id\tcorpus-id\tscore\n" + rows, encoding="utf-8")
    return folder


@pytest.fixture
def config(tmp_path: Path, home: Path) -> Path:
    path = tmp_path / "bestbefore.toml"
    path.write_text('[index]\nembedder = "hashing"\nalpha = 0.5\n', encoding="utf-8")
    return path


def run_eval(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--config", str(config), "eval", *args])
    if "--json" in args:
        return result.exit_code, result.stdout, result.stderr
    flat = " ".join(result.stdout.split()), " ".join(result.stderr.split())  # rich wraps to the terminal width
    return result.exit_code, *flat


def test_eval_json_reports_three_methods_and_ranks_the_clearly_relevant_doc_first(tmp_path: Path, config: Path) -> None:
    folder = write_beir(tmp_path / "beir", gz=True)
    code, out, _ = run_eval(config, str(folder), "--json")
    assert code == 0, out
    report = json.loads(out)
    assert set(report) == {"bm25", "dense", "hybrid"}
    for values in report.values():
        assert set(values) == {"ndcg@10", "recall@10", "recall@100"}
    # Every query shares distinctive words with exactly one doc: BM25 and hybrid put it first.
    assert report["bm25"]["ndcg@10"] == pytest.approx(1.0)
    assert report["hybrid"]["ndcg@10"] == pytest.approx(1.0)
    assert report["hybrid"]["recall@10"] == pytest.approx(1.0)


def test_eval_scores_drop_when_the_judged_doc_is_unrelated(tmp_path: Path, config: Path) -> None:
    wrong = {"q1": "tax", "q2": "chess", "q3": "coffee", "q4": "violin"}
    folder = write_beir(tmp_path / "beir", qrels=wrong)
    code, out, _ = run_eval(config, str(folder), "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["bm25"]["ndcg@10"] < 0.5
    assert report["bm25"]["recall@10"] < 1.0


def test_eval_uses_the_named_split_and_prints_a_table(tmp_path: Path, config: Path) -> None:
    folder = write_beir(tmp_path / "beir", split="train", qrels={"q1": "sourdough", "q3": "glacier"})
    code, out, _ = run_eval(config, str(folder), "--split", "train", "--alpha", "0.3")
    assert code == 0, out
    assert "2 queries" in out and "12 docs" in out and "alpha 0.3" in out
    assert "hybrid" in out and "nDCG@10" in out


def test_eval_names_a_missing_split_and_the_splits_that_exist(tmp_path: Path, config: Path) -> None:
    folder = write_beir(tmp_path / "beir")
    code, _, err = run_eval(config, str(folder), "--split", "dev")
    assert code == 1
    assert "dev.tsv not found" in err and "splits here: test" in err


def test_eval_names_the_file_and_line_of_a_malformed_corpus_entry(tmp_path: Path, config: Path) -> None:
    folder = write_beir(tmp_path / "beir")
    with (folder / "corpus.jsonl").open("a", encoding="utf-8") as handle:
        handle.write("{not json\n")
    code, _, err = run_eval(config, str(folder))
    assert code == 1
    assert "corpus.jsonl:13:notvalidJSON" in err.replace(" ", "")


def test_load_beir_rejects_judged_queries_without_text(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "beir", qrels={"q9": "sourdough"})
    with pytest.raises(DatasetError, match="not in queries.jsonl"):
        load_beir(folder, "test")


def test_every_chunk_starts_with_its_title_and_long_docs_count_once(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "beir")
    long_text = " ".join(["Feed the sourdough starter daily."] * 80)  # several chunks of one doc
    (folder / "corpus.jsonl").write_text(
        (folder / "corpus.jsonl").read_text()
        + json.dumps({"_id": "long", "title": "Starter diary", "text": long_text})
        + "\n"
    )
    dataset = load_beir(folder, "test")
    store = SQLiteStore(tmp_path / "index.sqlite")
    report = evaluate_dataset(dataset, store, HashingEmbedder(), ChunkingSettings(60, 10), alpha=0.5)
    long_chunks = [c for c in store.stored_docs()["long"].chunk_hashes]
    assert len(long_chunks) > 2
    rows = store.chunks_by_rowid(range(1, store.count_chunks() + 1))
    assert all(chunk.text.startswith(meta.title) for chunk, meta in rows.values())
    for method in ("bm25", "dense", "hybrid"):
        ranking = report.runs[method]["q1"]
        assert list(ranking).count("long") <= 1  # chunk hits aggregate to one entry per doc
    assert report.docs == 13 and report.chunks == store.count_chunks()
    store.close()


def test_disk_cache_returns_the_same_vectors_without_embedding_again(tmp_path: Path) -> None:
    texts = [text for _, text in CORPUS.values()]
    first_inner = HashingEmbedder()
    first = DiskCachedEmbedder(first_inner, tmp_path / "cache")
    vectors = first.embed(texts, input_type=InputType.DOCUMENT).vectors
    first.close()
    assert first_inner.calls > 0
    again_inner = HashingEmbedder()
    again = DiskCachedEmbedder(again_inner, tmp_path / "cache")
    batch = again.embed(list(reversed(texts)), input_type=InputType.DOCUMENT)
    assert again_inner.calls == 0 and batch.cache_hits == len(texts)
    assert batch.vectors == pytest.approx(vectors[::-1])
    queries = again.embed(texts[:2], input_type=InputType.QUERY)  # another input type is another key
    assert queries.cache_misses == 2 and again_inner.calls == 1
    again.close()


@pytest.mark.skipif(not SCIFACT.exists(), reason="../shared/data/scifact not found")
def test_real_scifact_loads_and_bm25_finds_judged_abstracts(tmp_path: Path) -> None:
    dataset = load_beir(SCIFACT, "test")
    assert len(dataset.corpus) == 5183 and len(dataset.queries) == 300
    assert len(load_beir(SCIFACT, "train").queries) == 809
    # A slice: 40 test queries against their judged abstracts plus 400 others (hashing vectors: BM25 matters here).
    keep_queries = sorted(dataset.queries)[:40]
    judged = {d for q in keep_queries for d in dataset.qrels[q]}
    others = [d for d in dataset.corpus if d not in judged][:400]
    subset = type(dataset)(
        corpus={d: dataset.corpus[d] for d in [*judged, *others]},
        queries={q: dataset.queries[q] for q in keep_queries},
        qrels={q: dataset.qrels[q] for q in keep_queries},
        split="test",
    )
    report = evaluate_dataset(
        subset, SQLiteStore(tmp_path / "i.sqlite"), HashingEmbedder(), ChunkingSettings(), alpha=0.5
    )
    assert report.metrics["bm25"]["ndcg@10"] > 0.6
    assert report.metrics["bm25"]["recall@100"] > 0.9
