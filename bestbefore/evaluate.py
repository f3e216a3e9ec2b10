"""``bestbefore eval``: retrieval quality (nDCG@10, Recall@10, Recall@100) of BM25, dense and hybrid search on a
BEIR-format folder, indexed into a temporary store with the configured embedder and chunking."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from bestbefore.cli_context import services_of
from bestbefore.console import console, err, print_error
from rag.errors import BestBeforeError
from rag.evaluation.beir import METHODS, BeirDataset, EvalReport, evaluate_dataset, load_beir
from rag.index.sqlite_store import SQLiteStore
from rag.ingest.chunking import ChunkingSettings
from rag.providers.embedding import Embedder
from rag.providers.embedding_disk_cache import DiskCachedEmbedder

PHASES = {"index": "Indexing corpus", "search": "Running queries"}


def report_table(report: EvalReport) -> Table:
    table = Table(
        title=f"Retrieval on {report.split} ({report.queries} queries, {report.docs} docs, alpha {report.alpha})"
    )
    table.add_column("method")
    for name in ("nDCG@10", "Recall@10", "Recall@100"):
        table.add_column(name, justify="right")
    for method in METHODS:
        values = report.metrics[method]
        table.add_row(method, *(f"{values[k]:.4f}" for k in ("ndcg@10", "recall@10", "recall@100")))
    return table


def eval_command(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="BEIR folder: corpus.jsonl[.gz], queries.jsonl, qrels/<split>.tsv")],
    split: Annotated[str, typer.Option("--split", help="Which qrels file to score")] = "test",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
    alpha: Annotated[
        float | None,
        typer.Option("--alpha", min=0.0, max=1.0, help="Hybrid weight of the vector side (default: config)"),
    ] = None,
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", help="Keep corpus embeddings here and reuse them on the next run")
    ] = None,
) -> None:
    """Measure BM25, dense and hybrid retrieval on a BEIR-format folder (indexed into a temporary store)."""
    services = services_of(ctx)
    try:
        dataset = load_beir(folder, split)
        embedder = services.evaluation_embedder(cache_dir)
        index = services.settings.app.index
        chunking = services.chunking
        with tempfile.TemporaryDirectory(prefix="bestbefore-eval-") as tmp:
            store = services.evaluation_store(Path(tmp) / "index.sqlite")
            try:
                report = _run(dataset, store, embedder, chunking, alpha if alpha is not None else index.alpha, as_json)
            finally:
                store.close()
                cached_vectors = embedder.hits if isinstance(embedder, DiskCachedEmbedder) else 0
                embedder.close()
    except BestBeforeError as exc:
        print_error(exc)
        raise typer.Exit(1) from exc
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        console.print(report_table(report))
        cache = f"; {cached_vectors} vectors (chunks and queries) came from --cache-dir" if cached_vectors else ""
        console.print(
            f"{report.chunks} chunks indexed in {report.index_seconds:.1f}s, "
            f"{report.queries} queries run in {report.search_seconds:.1f}s{cache}"
        )


def _run(
    dataset: BeirDataset,
    store: SQLiteStore,
    embedder: Embedder,
    chunking: ChunkingSettings,
    alpha: float,
    quiet: bool,
) -> EvalReport:
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, disable=quiet,
    ) as bar:  # fmt: skip
        tasks: dict[str, TaskID] = {}

        def step(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(PHASES.get(phase, phase), total=total)
            bar.update(tasks[phase], completed=done, total=total)

        return evaluate_dataset(dataset, store, embedder, chunking, alpha=alpha, progress=step)
