"""The ledger's record of people acting on a stale doc: verifications and flags (:mod:`rag.reviews`), and owner
notices — claimed by an INSERT on (doc, kind, day), so the owner hears about a doc at most once a day per kind,
across replicas.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from rag.ledger.schema import doc_flags, doc_verifications, owner_notices
from rag.ledger.stats import utc
from rag.reviews import NO_REVIEW, DocReview, Flag, Verification, review_of


class DocReviewLog:
    """Verifications, flags and owner notices in the query ledger's database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record_verification(self, verification: Verification) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                insert(doc_verifications).values(
                    doc_id=verification.doc_id, user_id=verification.user, verified_at=verification.at,
                    source_hash=verification.source_hash,
                )
            )  # fmt: skip

    def record_flag(self, flag: Flag) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                insert(doc_flags).values(
                    doc_id=flag.doc_id, user_id=flag.user, flagged_at=flag.at, source_hash=flag.source_hash,
                    reason=flag.reason,
                )
            )  # fmt: skip

    def claim_owner_notice(self, doc_id: str, kind: str, at: datetime) -> bool:
        """True for the first caller of the day (UTC) for this doc and kind: that caller tells the owner."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(owner_notices).values(doc_id=doc_id, kind=kind, day=at.date().isoformat(), sent_at=at)
                )
        except IntegrityError:
            return False
        return True

    def release_owner_notice(self, doc_id: str, kind: str, at: datetime) -> None:
        """Forget a claim whose notice could not be sent (the next request tries again)."""
        with self._engine.begin() as conn:
            conn.execute(
                delete(owner_notices).where(
                    owner_notices.c.doc_id == doc_id,
                    owner_notices.c.kind == kind,
                    owner_notices.c.day == at.date().isoformat(),
                )
            )

    def verifications(self, doc_ids: Iterable[str] | None = None) -> list[Verification]:
        query = select(doc_verifications)
        if doc_ids is not None:
            query = query.where(doc_verifications.c.doc_id.in_(list(doc_ids)))
        with self._engine.connect() as conn:
            return [Verification(r.doc_id, r.user_id, utc(r.verified_at), r.source_hash) for r in conn.execute(query)]

    def flags(self, doc_ids: Iterable[str] | None = None) -> list[Flag]:
        query = select(doc_flags)
        if doc_ids is not None:
            query = query.where(doc_flags.c.doc_id.in_(list(doc_ids)))
        with self._engine.connect() as conn:
            return [Flag(r.doc_id, r.user_id, utc(r.flagged_at), r.source_hash, r.reason) for r in conn.execute(query)]

    def reviews(self, current: Mapping[str, str], *, only: Iterable[str] | None = None) -> dict[str, DocReview]:
        """doc_id -> its review, for docs whose current ``source_hash`` is ``current[doc_id]`` (reviewed ones only).

        ``only`` limits the lookup to some docs (an answer's sources); default all of ``current``.
        """
        wanted = list(only) if only is not None else None
        by_doc_v: dict[str, list[Verification]] = {}
        by_doc_f: dict[str, list[Flag]] = {}
        for v in self.verifications(wanted):
            by_doc_v.setdefault(v.doc_id, []).append(v)
        for f in self.flags(wanted):
            by_doc_f.setdefault(f.doc_id, []).append(f)
        found: dict[str, DocReview] = {}
        for doc_id in set(by_doc_v) | set(by_doc_f):
            if doc_id not in current:
                continue
            review = review_of(current[doc_id], by_doc_v.get(doc_id, ()), by_doc_f.get(doc_id, ()))
            if review != NO_REVIEW:
                found[doc_id] = review
        return found
