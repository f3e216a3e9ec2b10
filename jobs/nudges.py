"""Which owner nudges were sent: one row per (doc, threshold crossing), so a doc's owner hears about it once.

A *crossing* is named by the doc's ``updated_at``: when the doc is updated and later goes stale again, that is a new
crossing and its owner is nudged again. Claims are an INSERT on a unique key, so two replicas never both nudge.
The table (``owner_nudges``) is the query ledger's, created by its migrations; the log runs on the ledger's engine.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from rag.ledger.query_ledger import open_ledger_engine
from rag.ledger.schema import owner_nudges


def crossing_of(updated_at: datetime) -> str:
    return updated_at.isoformat()


class NudgeLog:
    """On the ledger's ``Engine`` (shared: its owner disposes of it), or on a ledger URL opened here."""

    def __init__(self, ledger: Engine | str) -> None:
        self._owned = isinstance(ledger, str)
        self._engine = open_ledger_engine(ledger)[0] if isinstance(ledger, str) else ledger

    def claim(self, doc_id: str, crossing: str, owner: str, at: datetime) -> bool:
        """True if this caller is the first to nudge about this crossing (and must now send the nudge)."""
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(owner_nudges).values(doc_id=doc_id, crossing=crossing, owner=owner, sent_at=at))
        except IntegrityError:
            return False
        return True

    def release(self, doc_id: str, crossing: str) -> None:
        """Forget a claim whose nudge could not be sent, so the next watchdog run tries again."""
        with self._engine.begin() as conn:
            conn.execute(
                delete(owner_nudges).where(owner_nudges.c.doc_id == doc_id, owner_nudges.c.crossing == crossing)
            )

    def sent(self) -> list[tuple[str, str, str]]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(owner_nudges.c.doc_id, owner_nudges.c.crossing, owner_nudges.c.owner))
            return [(r[0], r[1], r[2]) for r in rows]

    def close(self) -> None:
        if self._owned:
            self._engine.dispose()
