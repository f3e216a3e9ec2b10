"""The digest chart: daily questions with the 👍 rate, and latency p95 — one PNG (matplotlib, Agg backend)."""

from __future__ import annotations

import io
from collections.abc import Sequence

from jobs.weekly_figures import DayPoint


def digest_chart(days: Sequence[DayPoint], *, title: str) -> bytes:
    """A two-panel PNG: bars of questions per day with the 👍 rate on a second axis; latency p95 per day."""
    from matplotlib.figure import Figure  # the OO API: no pyplot global state, no GUI backend, thread-safe

    labels = [d.day.strftime("%a %d") for d in days]
    positions = list(range(len(days)))
    figure = Figure(figsize=(7.0, 5.0), dpi=100, layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    top.bar(positions, [d.questions for d in days], color="#4a90d9", label="questions")
    top.set_ylabel("questions")
    top.set_title(title)
    rate_axis = top.twinx()
    rates = [(i, d.thumbs_up_rate * 100) for i, d in zip(positions, days, strict=True) if d.thumbs_up_rate is not None]
    if rates:
        rate_axis.plot([i for i, _ in rates], [r for _, r in rates], color="#2e7d32", marker="o", label="thumbs-up %")
    rate_axis.set_ylim(0, 105)
    rate_axis.set_ylabel("thumbs-up %")
    latencies = [(i, d.latency_p95_ms / 1000) for i, d in zip(positions, days, strict=True) if d.latency_p95_ms]
    if latencies:
        bottom.plot([i for i, _ in latencies], [v for _, v in latencies], color="#c62828", marker="o")
    bottom.set_ylabel("latency p95 (s)")
    bottom.set_ylim(bottom=0)
    bottom.set_xticks(positions, labels)
    handles = top.get_legend_handles_labels()[0] + rate_axis.get_legend_handles_labels()[0]
    if handles:
        top.legend(handles=handles, loc="upper left", fontsize="small")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
