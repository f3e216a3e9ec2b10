"""Threshold suggestions from a source's own history (#14): how often do the pages under each folder really change?

One ``git log`` pass per source gives every commit date of every file; the intervals between a file's consecutive
commits, pooled per path glob (``<source>/<top folder>/**``), give a median; a page untouched for twice its usual
interval is worth a look, so twice the median (at least ``MIN_THRESHOLD``) is the suggested threshold.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath

from rag.errors import SourceError
from rag.ingest.gitdates import log_entries, run_git
from rag.ingest.passage_dates import shallow_boundaries

MIN_THRESHOLD = timedelta(days=30)


@dataclass(frozen=True)
class ThresholdSuggestion:
    glob: str  # over "<source>/<path>", as [staleness.paths] takes it
    files: int
    intervals: int  # gaps between consecutive commits of one file
    median_interval: timedelta | None  # None: no file here changed twice
    suggested: timedelta | None

    def to_json(self) -> dict[str, object]:
        return {
            "glob": self.glob,
            "files": self.files,
            "intervals": self.intervals,
            "median_interval_days": round(self.median_interval.total_seconds() / 86400, 1)
            if self.median_interval is not None
            else None,
            "suggested": f"{self.suggested.days}d" if self.suggested is not None else None,
        }


def commit_history(folder: Path) -> dict[str, list[datetime]]:
    """path (relative to ``folder``) -> its commit dates, newest first; {} outside git. One ``git log`` pass."""
    shallow = shallow_boundaries(folder)
    if shallow is None:
        return {}
    run = run_git(
        folder,
        *("-c", "core.quotePath=false", "log", "--relative", "-z", "--no-renames", "--no-show-signature"),
        *("--format=%x1e%H %cI", "--name-only", "--", "."),
    )
    if run.returncode != 0:
        message = run.stderr.decode(errors="replace").strip()
        if "does not have any commits" in message:
            return {}
        raise SourceError(f"`git log` failed in {folder}: {message}")
    history: dict[str, list[datetime]] = {}
    for path, when in log_entries(run.stdout, ignore_commits=shallow):
        history.setdefault(path, []).append(when)
    return history


def glob_of(source: str, path: str) -> str:
    parts = PurePosixPath(path).parts
    return f"{source}/{parts[0]}/**" if len(parts) > 1 else f"{source}/*"


def suggest_thresholds(source: str, history: Mapping[str, list[datetime]]) -> list[ThresholdSuggestion]:
    """One suggestion per path glob of ``source``, from its files' commit dates. Pure."""
    files: dict[str, int] = {}
    gaps: dict[str, list[timedelta]] = {}
    for path, dates in history.items():
        glob = glob_of(source, path)
        files[glob] = files.get(glob, 0) + 1
        ordered = sorted(set(dates))
        gaps.setdefault(glob, []).extend(b - a for a, b in zip(ordered, ordered[1:], strict=False))
    out = []
    for glob in sorted(files):
        found = gaps.get(glob, [])
        median = timedelta(seconds=statistics.median(g.total_seconds() for g in found)) if found else None
        suggested = None
        if median is not None:
            suggested = max(MIN_THRESHOLD, timedelta(days=math.ceil(2 * median.total_seconds() / 86400)))
        out.append(ThresholdSuggestion(glob, files[glob], len(found), median, suggested))
    return out
