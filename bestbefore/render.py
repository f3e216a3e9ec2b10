"""How the CLI shows things: rich tables for people, plain dicts for ``--json``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rag.answer.staleness import StalenessPolicy, StaleSource, oldest_passage, passage_note
from rag.config import SourceConfig
from rag.durations import human_age, human_span
from rag.index.refresh import RefreshResult
from rag.ingest.commit_history import ThresholdSuggestion, commit_history, suggest_thresholds
from rag.models import Answer, DateWarning, SkippedFile, SourceRef, StoredDoc
from rag.reviews import NO_REVIEW, DocReview, reviewed_meta


def source_json(ref: SourceRef) -> dict[str, Any]:
    return {
        "doc_id": ref.doc_id,
        "title": ref.title,
        "url": ref.url,
        "updated_at": ref.updated_at.isoformat(),
        "age_days": ref.age_days,
        "stale": ref.stale,
        "threshold_days": ref.threshold_days,
        "cited": ref.cited,
        "passage_at": ref.passage_at.isoformat() if ref.passage_at else None,
    }


def answer_json(answer: Answer) -> dict[str, Any]:
    return {
        "answer": answer.text,
        "refused": answer.refused,
        "stale_warning": answer.stale_warning,
        "sources": [source_json(s) for s in answer.sources],
        "timings_ms": answer.timings_ms,
        "trace_id": answer.trace_id,
        "cache": answer.cache,
        "error": answer.error,
    }


def print_answer(console: Console, answer: Answer) -> None:
    console.print(escape(answer.text), style="bold yellow" if answer.refused else None)
    if answer.sources:
        label = "Closest sources" if answer.refused else "Sources"
        table = Table(title=label, title_justify="left", show_edge=False)
        table.add_column("#", justify="right")
        table.add_column("Document")
        table.add_column("Updated")
        table.add_column("Limit")
        for number, ref in enumerate(answer.sources, start=1):
            age = human_age(timedelta(days=ref.age_days))
            style = "red" if ref.stale and ref.cited else None
            table.add_row(
                str(number) if ref.cited else "·",
                escape(ref.title) + (f"\n[dim]{escape(ref.url)}[/dim]" if ref.url else ""),
                f"{ref.updated_at:%Y-%m-%d} ({age})" + (f"\n[dim]{note}[/dim]" if (note := passage_note(ref)) else ""),
                human_span(timedelta(days=ref.threshold_days)),
                style=style,
            )
        console.print(table)
    if answer.stale_warning:
        console.print(f"[bold red]⚠ {escape(answer.stale_warning)}[/bold red]")
    console.print(f"[dim]trace {answer.trace_id} · {answer.timings_ms.get('total', 0):.0f} ms[/dim]")


def source_rows(
    stored: dict[str, StoredDoc],
    policy: StalenessPolicy,
    now: datetime,
    reviews: Mapping[str, DocReview] | None = None,
    passages: dict[str, list[tuple[datetime | None, int]]] | None = None,
) -> list[dict[str, Any]]:
    """Every doc; a verification of its current content restarts its clock (``stale`` is judged from then)."""
    reviews = reviews or {}
    rows = []
    passages = passages or {}
    for doc in sorted(stored.values(), key=lambda d: d.meta.doc_id):
        meta = doc.meta
        review = reviews.get(meta.doc_id, NO_REVIEW)
        clock = reviewed_meta(meta, review)
        threshold = policy.threshold_of(meta)
        rows.append(
            {
                "doc_id": meta.doc_id,
                "source": meta.source,
                "title": meta.title,
                "updated_at": meta.updated_at.isoformat(),
                "date_origin": meta.date_origin.value,
                "source_hash": meta.source_hash,
                "chunks": len(doc.chunk_hashes),
                "stale": now - clock.updated_at > threshold,
                "threshold_days": threshold.days,
                **review.to_json(),
                "oldest_passage_at": _iso(oldest_passage(passages.get(meta.doc_id, []))),
                "date_warning": meta.date_warning,
            }
        )
    return rows


def sources_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title=f"{len(rows)} indexed documents", title_justify="left")
    warned = any(row.get("date_warning") for row in rows)
    columns = ("Document", "Title", "Updated", "From", "Chunks", "Stale", "Verified", "Flags")
    for column in (*columns, *(["Date warning"] if warned else [])):
        table.add_column(column)
    for row in rows:
        warning = [f"[yellow]⚠ {escape(row['date_warning'])}[/yellow]" if row.get("date_warning") else ""]
        verified = f"{row['verified_at'][:10]} {escape(row['verified_by'])}" if row["verified_at"] else ""
        table.add_row(
            escape(row["doc_id"]), escape(row["title"]), row["updated_at"][:10], row["date_origin"], str(row["chunks"]),
            "[red]yes[/red]" if row["stale"] else "no", verified, str(row["open_flags"] or ""),
            *(warning if warned else []),
        )  # fmt: skip
    if warned:
        table.caption = "⚠ a date in the file was not trusted; the document is dated by git or when first seen"
    return table


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def stale_json(item: StaleSource, review: DocReview = NO_REVIEW) -> dict[str, Any]:
    return {
        **review.to_json(),
        "doc_id": item.meta.doc_id,
        "title": item.meta.title,
        "source": item.meta.source,
        "owner": item.meta.owner,
        "url": item.meta.url,
        "updated_at": item.meta.updated_at.isoformat(),
        "age_days": item.age.days,
        "threshold_days": item.threshold.days,
        "review_by": (item.meta.updated_at + item.threshold).isoformat(),
    }


def stale_table(found: list[StaleSource], reviews: Mapping[str, DocReview] | None = None) -> Table:
    reviews = reviews or {}
    table = Table(title=f"{len(found)} documents past their threshold (oldest first)", title_justify="left")
    for column in ("Document", "Title", "Owner", "Last updated", "Age", "Limit", "Flags"):
        table.add_column(column)
    for item in found:
        flags = len(reviews.get(item.meta.doc_id, NO_REVIEW).open_flags)
        table.add_row(
            escape(item.meta.doc_id), escape(item.meta.title), escape(item.meta.owner or ""),
            f"{item.meta.updated_at:%Y-%m-%d}",
            human_span(item.age), human_span(item.threshold), f"[red]🚩 {flags}[/red]" if flags else "",
        )  # fmt: skip
    return table


def refresh_table(result: RefreshResult) -> Table:
    table = Table(title=f"Refresh of {result.source or 'all sources'}", title_justify="left")
    table.add_column("")
    table.add_column("count", justify="right")
    for label, value in (
        ("docs new", result.docs_new),
        ("docs changed", result.docs_changed),
        ("docs unchanged", result.docs_unchanged),
        ("docs metadata updated", result.docs_relabelled),
        ("docs removed", result.docs_removed),
        ("files skipped", result.docs_skipped),
        ("chunks embedded", result.chunks_embedded),
        ("chunks reused", result.chunks_reused),
        ("chunks deleted", result.chunks_deleted),
        ("chunks truncated by the model", result.chunks_truncated),
        ("seconds", f"{result.seconds:.2f}"),
    ):
        table.add_row(label, str(value))
    return table


def skipped_table(skipped: list[SkippedFile]) -> Table:
    table = Table(title=f"{len(skipped)} files skipped", title_justify="left", title_style="yellow")
    table.add_column("File")
    table.add_column("Why")
    for item in skipped:
        table.add_row(escape(f"{item.source}:{item.path}"), escape(item.reason))
    return table


def date_warnings_table(warnings: list[DateWarning]) -> Table:
    title = f"{len(warnings)} dates not trusted (dated by git or when first seen instead)"
    table = Table(title=title, title_justify="left", title_style="yellow")
    table.add_column("File")
    table.add_column("Why")
    for item in warnings:
        table.add_row(escape(f"{item.source}:{item.path}"), escape(item.warning))
    return table


def threshold_suggestions(sources: Sequence[SourceConfig]) -> list[ThresholdSuggestion]:
    """``stale --suggest``: per source, one ``git log`` pass, one suggestion per path glob."""
    found: list[ThresholdSuggestion] = []
    for source in sources:
        found += suggest_thresholds(source.name, commit_history(Path(source.path).expanduser()))
    return found


def suggestions_table(found: list[ThresholdSuggestion]) -> Table:
    table = Table(
        title="Suggested thresholds (twice the median interval between commits)",
        title_justify="left",
    )
    for column in ("Path glob", "Files", "Intervals", "Median interval", "Suggested"):
        table.add_column(column)
    for item in found:
        median = human_span(item.median_interval) if item.median_interval is not None else "–"
        suggested = f"{item.suggested.days}d" if item.suggested else "not enough history"
        table.add_row(escape(item.glob), str(item.files), str(item.intervals), median, suggested)
    return table


def suggestions_toml(found: list[ThresholdSuggestion]) -> str:
    """The suggestions as a ``[staleness.paths]`` table to paste into bestbefore.toml."""
    lines = [f'"{item.glob}" = "{item.suggested.days}d"' for item in found if item.suggested is not None]
    return "\n".join(["[staleness.paths]", *lines]) if lines else "# not enough history for any suggestion"
