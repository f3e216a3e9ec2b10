"""The ledger's writer: every ledger write goes through one ordered queue and survives the database going away.

One background thread applies queued writes in batches (one transaction per batch). When the database cannot be
reached the writes wait, in order, in a bounded in-memory buffer (``capacity`` writes); past that they are appended
to a spill file (JSON lines, in ``BESTBEFORE_HOME``) and replayed from it, still in order, once the database
answers again. The writer retries every ``retry_interval`` seconds; nothing is dropped while a spill file is
configured. ``close()`` writes what it can and spills the rest; the next start replays the file.

A write the database refuses for its content (not for being unreachable) is logged, counted in ``rejected`` and
skipped, so one bad row never blocks the rest. A write refused as a duplicate (a replay after a commit whose
acknowledgement was lost) is retried once and then skipped as already written.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

log = logging.getLogger(__name__)

_DATETIME = "$datetime"


@dataclass(frozen=True)
class LedgerWrite:
    """One change to the ledger: ``kind`` names how to apply it (``answer``, ``vote``, ...), ``row`` its values."""

    kind: str
    row: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "row": self.row}, default=_encode, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> LedgerWrite:
        data = json.loads(line, object_hook=_decode)
        return cls(kind=str(data["kind"]), row=dict(data["row"]))


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {_DATETIME: value.isoformat()}
    raise TypeError(f"cannot spill a {type(value).__name__} to the ledger spill file")


def _decode(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and _DATETIME in obj:
        return datetime.fromisoformat(obj[_DATETIME])
    return obj


def is_unreachable(exc: BaseException) -> bool:
    """True when ``exc`` means the database could not be reached (retry later), not that it refused the data."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeoutError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def short_reason(exc: BaseException) -> str:
    """The first line of the driver's message (no SQL, no parameters)."""
    inner = getattr(exc, "orig", None) or exc
    first = (str(inner).strip().splitlines() or [""])[0]
    return f"{type(inner).__name__}: {first}"[:300]


ApplyBatch = Callable[[Connection, Sequence[LedgerWrite]], None]


class LedgerWriter:
    """Applies :class:`LedgerWrite` objects in submission order with ``apply`` on a background thread."""

    def __init__(
        self,
        engine: Engine,
        apply: ApplyBatch,
        *,
        where: str,
        spill_path: Path | None = None,
        capacity: int = 10_000,
        batch_size: int = 200,
        retry_interval: float = 1.0,
    ) -> None:
        self.engine = engine
        self.apply = apply
        self.where = where
        self.spill_path = spill_path
        self.capacity = capacity
        self.batch_size = batch_size
        self.retry_interval = retry_interval
        self.available = True
        self.written = 0
        self.rejected = 0  # refused by the database for their content (logged)
        self.dropped = 0  # buffer full and no spill file configured (logged)
        self.outages = 0
        self._buffer: deque[LedgerWrite] = deque()
        self._spilled = _count_lines(spill_path)  # lines of the spill file not yet loaded for replay
        self._spill_offset = 0  # where in the spill file the next load starts
        self._stopping = False
        self._cond = threading.Condition()
        if self._spilled:
            log.warning("query ledger: replaying %d writes from %s", self._spilled, spill_path)
        self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)
        self._thread.start()

    # -- the answer path ---------------------------------------------------------------------------------------

    def submit(self, write: LedgerWrite) -> None:
        """Queue one write (never blocks on the database)."""
        with self._cond:
            if self._spilled or len(self._buffer) >= self.capacity or not self._thread.is_alive():
                self._spill([write])
            else:
                self._buffer.append(write)
            self._cond.notify_all()

    @property
    def backlog(self) -> int:
        """Writes not yet in the database (in memory and in the spill file)."""
        with self._cond:
            return len(self._buffer) + self._spilled

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every write submitted so far is in the database; False at once while it is unreachable."""
        with self._cond:
            return self._cond.wait_for(
                lambda: (not self._buffer and not self._spilled) or not self.available or not self._thread.is_alive(),
                timeout,
            ) and not (self._buffer or self._spilled)

    def close(self, timeout: float = 30.0) -> None:
        """Write what can be written, spill the rest (the next start replays it), stop the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout=timeout)
        with self._cond:
            if self._buffer or self._spill_offset:  # unwritten writes, or replayed lines still in the file
                self._spill_before_file(list(self._buffer))
                self._buffer.clear()

    # -- the writer thread -------------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._buffer or self._spilled or self._stopping))
                if not self._buffer and self._spilled:
                    self._load_spill()
                if not self._buffer:
                    if self._stopping:
                        return  # everything written
                    continue
                batch = list(islice(self._buffer, self.batch_size))
            done = self._write(batch)
            with self._cond:
                for _ in range(done):
                    self._buffer.popleft()
                self.written += done
                if done == len(batch):
                    self._recovered()
                self._cond.notify_all()
            if done < len(batch):
                with self._cond:
                    if self._cond.wait_for(lambda: self._stopping, self.retry_interval):
                        return  # close() spills what is left

    def _write(self, batch: list[LedgerWrite]) -> int:
        """Apply ``batch``; returns how many writes (from the front) are done: written, duplicates or rejected."""
        try:
            with self.engine.begin() as conn:
                self.apply(conn, batch)
            return len(batch)
        except SQLAlchemyError as exc:
            if is_unreachable(exc):
                self._unreachable(exc)
                return 0
        except Exception:
            pass
        for position, write in enumerate(batch):  # one at a time: find the write the database refuses
            if not self._write_one(write):
                return position
        return len(batch)

    def _write_one(self, write: LedgerWrite) -> bool:
        for attempt in range(2):
            try:
                with self.engine.begin() as conn:
                    self.apply(conn, [write])
                return True
            except IntegrityError:  # a concurrent replica's row, or a replay of a row already written
                if attempt:
                    log.info("query ledger: %s write already present, skipped", write.kind)
                    return True
            except SQLAlchemyError as exc:
                if is_unreachable(exc):
                    self._unreachable(exc)
                    return False
                self._reject(write, exc)
                return True
            except Exception as exc:
                self._reject(write, exc)
                return True
        return True

    def _reject(self, write: LedgerWrite, exc: BaseException) -> None:
        self.rejected += 1
        log.error("query ledger: a %s write was refused and skipped (%s)", write.kind, short_reason(exc))

    def _unreachable(self, exc: BaseException) -> None:
        with self._cond:
            was_available, self.available = self.available, False
            if was_available:
                self.outages += 1
            self._cond.notify_all()
        if was_available:
            log.warning(
                "query ledger at %s unavailable (%s); answers go on, ledger writes wait and are written when it is back",
                self.where,
                short_reason(exc),
            )

    def _recovered(self) -> None:  # holds the lock
        if not self.available:
            self.available = True
            waiting = len(self._buffer) + self._spilled
            log.warning("query ledger at %s is back; writing the %d writes still waiting", self.where, waiting)

    # -- the spill file (all under the lock) -------------------------------------------------------------------

    def _spill(self, writes: Sequence[LedgerWrite]) -> None:
        if self.spill_path is None:
            self.dropped += len(writes)
            log.error("query ledger: buffer full and no spill file: %d writes dropped", len(writes))
            return
        if not self._spilled:
            log.warning("query ledger: buffer full (%d writes); spilling to %s", len(self._buffer), self.spill_path)
        self.spill_path.parent.mkdir(parents=True, exist_ok=True)
        with self.spill_path.open("a", encoding="utf-8") as out:
            for write in writes:
                out.write(write.to_json() + "\n")
        self._spilled += len(writes)

    def _spill_before_file(self, writes: Sequence[LedgerWrite]) -> None:
        """Put ``writes`` (older than everything in the file) in front of the file's unreplayed lines."""
        if self.spill_path is None:
            self.dropped += len(writes)
            log.error(
                "query ledger: closing with the database unavailable and no spill file: %d writes lost", len(writes)
            )
            return
        self.spill_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.spill_path.with_name(self.spill_path.name + ".tmp")
        with temporary.open("wb") as out:
            for write in writes:
                out.write((write.to_json() + "\n").encode("utf-8"))
            if self.spill_path.exists():
                with self.spill_path.open("rb") as rest:
                    rest.seek(self._spill_offset)
                    shutil.copyfileobj(rest, out)
        os.replace(temporary, self.spill_path)
        self._spill_offset = 0
        self._spilled += len(writes)
        log.warning(
            "query ledger: %d writes saved to %s; they are written at the next start", self._spilled, self.spill_path
        )

    def _load_spill(self) -> None:
        """Move the oldest unreplayed writes of the spill file (up to ``capacity``) into the buffer.

        The file is read from where the last load stopped, never whole; it is deleted once every line was loaded,
        and compacted by ``close()`` when lines remain."""
        assert self.spill_path is not None
        if not self.spill_path.exists():  # removed by hand: nothing to replay
            log.error("query ledger: %s disappeared; %d spilled writes lost", self.spill_path, self._spilled)
            self.dropped += self._spilled
            self._spilled = self._spill_offset = 0
            return
        loaded = 0
        with self.spill_path.open("rb") as lines:
            lines.seek(self._spill_offset)
            while loaded < self.capacity and (line := lines.readline()):
                if not line.strip():
                    continue
                loaded += 1
                try:
                    self._buffer.append(LedgerWrite.from_json(line.decode("utf-8")))
                except (ValueError, KeyError, TypeError):
                    self.rejected += 1
                    log.error("query ledger: unreadable line in %s skipped", self.spill_path)
            self._spill_offset = lines.tell()
            at_end = not lines.read(1)
        self._spilled = 0 if at_end else max(0, self._spilled - loaded)
        if at_end:
            self.spill_path.unlink(missing_ok=True)
            self._spill_offset = 0


def _count_lines(path: Path | None) -> int:
    if path is None or not path.exists():
        return 0
    with path.open("rb") as lines:
        return sum(1 for line in lines if line.strip())
