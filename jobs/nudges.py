"""Which owner nudges were sent: one row per (doc, threshold crossing), so a doc's owner hears about it once.

A *crossing* is named by the doc's ``updated_at``: when the doc is updated and later goes stale again, that is a new
crossing and its owner is nudged again. Claims are an INSERT on a unique key, so two replicas never both nudge.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, MetaData, String, Table, create_engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

_metadata = MetaData()
owner_nudges = Table(
    "owner_nudges",
    _metadata,
    Column("doc_id", String(500), primary_key=True),
    Column("crossing", String(64), primary_key=True),
    Column("owner", String(320), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
)


def crossing_of(updated_at: datetime) -> str:
    return updated_at.isoformat()


class NudgeLog:
    def __init__(self, url: str) -> None:
        self._engine = create_engine(url, pool_pre_ping=True)
        _metadata.create_all(self._engine, checkfirst=True)

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
        self._engine.dispose()
