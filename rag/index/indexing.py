"""The one refresh path: :class:`Indexer` brings the store in line with configured sources — for ``ingest`` and
``refresh`` on the command line, the scheduled refresh and the refresh webhook alike.

It takes the process's refresh lock, runs each source in turn (one failing source never stops the others) and hands
each source's outcome, success or failure, to one :class:`RefreshRecorder` (the query ledger): one row per source
per run, whoever started it.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from rag.clock import Clock, utcnow
from rag.config import IndexConfig, SourceConfig
from rag.errors import BestBeforeError
from rag.index.refresh import Progress, RefreshResult, apply_refresh, plan_refresh
from rag.index.store import VectorStore
from rag.ingest.chunking import ChunkingSettings
from rag.ingest.passage_dates import passage_dates
from rag.ingest.sources import scan_source
from rag.models import ContentChange, DateWarning, StoredDoc
from rag.providers.embedding import Embedder

log = logging.getLogger(__name__)

SourceProgress = Callable[[str, int, int], None]  # (source name, docs done, docs to do)


class RefreshRecorder(Protocol):
    """Keeps the record of each source's refresh (the query ledger)."""

    def record_refresh(self, result: RefreshResult, *, started_at: datetime, error: str | None = None) -> None: ...


class AfterRefresh(Protocol):
    """Told after every :meth:`Indexer.refresh`, whoever started it (the answers' change notices)."""

    def refreshed(self, changes: Sequence[ContentChange], *, now: datetime) -> int:
        """React to the run's content changes (possibly none); returns how many answers were notified."""


class RefreshFailed(BestBeforeError):
    """One or more sources could not be refreshed (each failure is already recorded)."""


@dataclass(frozen=True)
class SourceFailure:
    source: str
    error: Exception

    def describe(self) -> str:
        return f"{type(self.error).__name__}: {self.error}"


@dataclass
class RefreshReport:
    """What one :meth:`Indexer.refresh` did: a result per refreshed source, a failure per source that failed."""

    results: list[RefreshResult] = field(default_factory=list)
    failures: list[SourceFailure] = field(default_factory=list)
    answers_notified: int = 0  # set by the after-refresh hook

    @property
    def changes(self) -> list[ContentChange]:
        return [change for result in self.results for change in result.changes]

    @property
    def ok(self) -> bool:
        return not self.failures

    def total(self) -> RefreshResult:
        """Every source's result added up (the CLI's report); its ``source`` names them all."""
        combined = RefreshResult(source=",".join(r.source for r in self.results))
        for result in self.results:
            combined.merge(result)
        combined.answers_notified = self.answers_notified
        return combined

    def raise_for_failures(self) -> None:
        """Raise the single failure as it was (its message says what to do), or one error naming every source."""
        if len(self.failures) == 1:
            raise self.failures[0].error
        if self.failures:
            raise RefreshFailed("refresh failed for " + "; ".join(f"{f.source}: {f.describe()}" for f in self.failures))


def full_rebuild_changes(
    source: str, before: dict[str, StoredDoc], after: dict[str, StoredDoc], seen_at: datetime
) -> list[ContentChange]:
    """Content changes of one source across a full rebuild: its docs before the index was dropped vs after."""
    changes = [
        ContentChange.between(old.meta, after[d].meta if d in after else None, seen_at)
        for d, old in before.items()
        if old.meta.source == source
    ]
    return [c for c in changes if c is not None]


def chunking_settings(index: IndexConfig) -> ChunkingSettings:
    return ChunkingSettings(max_tokens=index.chunk_tokens, overlap_tokens=index.chunk_overlap)


def refresh_source(
    source: SourceConfig,
    *,
    store: VectorStore,
    embedder: Embedder,
    chunking: ChunkingSettings,
    now: datetime,
    paths: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> RefreshResult:
    """Bring the store in line with one source (or with some of its paths). Records nothing; see :class:`Indexer`."""
    store.ensure_embedder(embedder.id, embedder.dimension)
    scan = scan_source(source, paths=paths, now=now)
    stored = store.stored_docs(source.name)
    plan = plan_refresh(scan.documents, stored, now=now, scope=paths)
    dater = functools.partial(passage_dates, Path(source.path).expanduser())  # git blame over the written files
    result = apply_refresh(
        plan, store=store, embedder=embedder, chunking=chunking, progress=progress, passage_dater=dater
    )
    result.source = source.name
    result.skipped = sorted([*scan.skipped, *result.skipped], key=lambda skip: skip.path)  # + chunking failures
    result.docs_skipped = len(result.skipped)
    result.date_warnings = [DateWarning(d.source, d.path, d.date_warning) for d in scan.documents if d.date_warning]
    return result


class Indexer:
    """Refreshes sources into one store, one refresh at a time in this process, recording every source's outcome."""

    def __init__(
        self,
        *,
        store: VectorStore,
        embedder: Embedder,
        chunking: ChunkingSettings,
        recorder: RefreshRecorder | None = None,
        after_refresh: AfterRefresh | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.chunking = chunking
        self.recorder = recorder
        self.after_refresh = after_refresh
        self.clock = clock
        self._lock = threading.Lock()

    def refresh(
        self,
        sources: Sequence[SourceConfig],
        paths: Sequence[str] | None = None,
        full: bool = False,
        progress: SourceProgress | None = None,
        *,
        now: datetime | None = None,
    ) -> RefreshReport:
        """Refresh ``sources`` (only ``paths`` of them when given; ``full`` drops the index first).

        Never raises for a source that fails: the failure is recorded and reported (``raise_for_failures``).
        Afterwards the ``after_refresh`` hook hears the run's content changes (a full rebuild compares with what
        the index held before it was dropped).
        """
        report = RefreshReport()
        run_started = now or self.clock()
        with self._lock:
            before: dict[str, StoredDoc] = {}
            if full:
                names = {s.name for s in sources}
                before = {d: s for d, s in self.store.stored_docs().items() if s.meta.source in names}
                self.store.reset(self.embedder.id, self.embedder.dimension)
            for source in sources:
                started = now or self.clock()
                step = (lambda done, count, name=source.name: progress(name, done, count)) if progress else None
                try:
                    result = refresh_source(
                        source, store=self.store, embedder=self.embedder, chunking=self.chunking,
                        now=started, paths=paths, progress=step,
                    )  # fmt: skip
                except Exception as exc:
                    failure = SourceFailure(source.name, exc)
                    report.failures.append(failure)
                    log.warning("refresh of %s failed: %s", source.name, failure.describe())
                    self._record(RefreshResult(source=source.name), started, failure.describe())
                    continue
                if full:
                    result.changes = full_rebuild_changes(
                        source.name, before, self.store.stored_docs(source.name), started
                    )
                report.results.append(result)
                self._record(result, started, None)
            self._after_refresh(report, run_started)
        return report

    def _after_refresh(self, report: RefreshReport, now: datetime) -> None:
        if self.after_refresh is None:
            return
        try:
            report.answers_notified = self.after_refresh.refreshed(report.changes, now=now)
        except Exception:  # the index is refreshed either way; the notices are retried after the next refresh
            log.exception("the after-refresh hook failed")

    def _record(self, result: RefreshResult, started_at: datetime, error: str | None) -> None:
        if self.recorder is None:
            return
        try:
            self.recorder.record_refresh(result, started_at=started_at, error=error)
        except Exception:  # the index is refreshed either way; the missing row is logged
            log.exception("could not record the refresh of %s", result.source)
