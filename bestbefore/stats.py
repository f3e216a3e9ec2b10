"""``bestbefore stats``: the dashboard's figures as tables (or one JSON document)."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Group
from rich.table import Table

from rag.durations import parse_positive_duration
from rag.ledger.query_ledger import QueryLedger
from rag.ledger.stats import LedgerStats


def window_stats(ledger: QueryLedger, since: str, *, now: datetime | None = None) -> LedgerStats:
    """Stats for the last ``since`` (``7d``, ``24h``, ``2w``); raises ValueError for a bad duration."""
    until = now or datetime.now(UTC)
    return ledger.stats(until - parse_positive_duration(since), until)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _usd(value: float) -> str:
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def stats_tables(stats: LedgerStats) -> Group:
    q = stats.quality
    summary = Table(title=f"bestbefore {stats.since:%Y-%m-%d %H:%M} → {stats.until:%Y-%m-%d %H:%M} UTC")
    summary.add_column("Figure")
    summary.add_column("Value", justify="right")
    for label, value in [
        ("Questions", str(stats.questions)),
        ("Unique askers", str(stats.unique_askers)),
        ("Cost", _usd(stats.cost_usd)),
        ("👍 rate", f"{_pct(q.thumbs_up_rate)} ({q.votes_up} up, {q.votes_down} down)"),
        ("Refusal rate", _pct(q.refusal_rate)),
        ("Stale-answer rate", _pct(q.stale_rate)),
        ("Zero-hit rate", _pct(q.zero_hit_rate)),
        ("Provider errors", str(q.errors)),
        ("Cache hit rate", _pct(stats.cache_hit_rate)),
    ]:
        summary.add_row(label, value)

    latency = Table(title="Latency (ms)")
    for name in ("Stage", "p50", "p95", "n"):
        latency.add_column(name, justify="left" if name == "Stage" else "right")
    for stage, lat in stats.latency.items():
        latency.add_row(stage, f"{lat.p50_ms:.1f}", f"{lat.p95_ms:.1f}", str(lat.count))

    days = Table(title="Per day")
    for name in ("Day", "Questions", "p50 ms", "p95 ms", "Cost", "👍", "Refused", "Stale", "Zero-hit"):
        days.add_column(name, justify="left" if name == "Day" else "right")
    for day, quality in stats.quality_by_day.items():
        total = stats.latency_by_day.get(day, {}).get("total")
        days.add_row(
            day, str(quality.answers), f"{total.p50_ms:.1f}" if total else "–", f"{total.p95_ms:.1f}" if total else "–",
            _usd(stats.cost_by_day.get(day, 0.0)), _pct(quality.thumbs_up_rate), _pct(quality.refusal_rate),
            _pct(quality.stale_rate), _pct(quality.zero_hit_rate),
        )  # fmt: skip

    costs = Table(title="Cost by model")
    costs.add_column("provider/model")
    costs.add_column("USD", justify="right")
    for model, usd in stats.cost_by_model.items():
        costs.add_row(model, _usd(usd))

    cited = Table(title="Most cited docs")
    cited.add_column("Doc")
    cited.add_column("Answers", justify="right")
    for doc, count in stats.top_cited:
        cited.add_row(doc, str(count))
    parts: list[Table] = [summary, latency, days, costs, cited]
    return Group(*[t for t in parts if t.row_count])
