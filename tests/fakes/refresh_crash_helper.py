"""Run one refresh of a SQLite index and optionally SIGKILL this very process part-way (for tests/test_refresh.py).

    python tests/refresh_crash_helper.py INDEX DOCS_JSON [--kill-after-writes N] [--kill-at-upsert N]
                                                         [--kill-at-delete N]

``--kill-after-writes N``: after the N-th completed store write (replace_doc / update_doc_meta / delete_docs).
``--kill-at-upsert N``: inside a replace_doc transaction, right after the N-th chunk row is written (uncommitted).
``--kill-at-delete N``: inside a transaction, right after the N-th batch of chunk rows is deleted (uncommitted).
Prints the result record as JSON when it finishes.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rag.index.refresh import apply_refresh, plan_refresh  # noqa: E402
from rag.index.sqlite_store import SQLiteStore  # noqa: E402
from rag.models import ChunkRecord, DocMeta  # noqa: E402
from rag.providers.local_embedder import HashingEmbedder  # noqa: E402
from tests.fakes.refresh_corpus import CHUNKING, NOW, docs_from_json  # noqa: E402


class KillingStore(SQLiteStore):
    def __init__(self, path: Path, *, after_writes: int, at_upsert: int, at_delete: int) -> None:
        super().__init__(path)
        self.after_writes, self.at_upsert, self.at_delete = after_writes, at_upsert, at_delete
        self.writes = self.upserts = self.deletes = 0

    @staticmethod
    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def _wrote(self) -> None:
        self.writes += 1
        if self.writes == self.after_writes:
            self.die()

    def replace_doc(self, doc_id: str, records: Sequence[ChunkRecord]) -> None:
        super().replace_doc(doc_id, records)
        self._wrote()

    def update_doc_meta(self, meta: DocMeta) -> None:
        super().update_doc_meta(meta)
        self._wrote()

    def delete_docs(self, doc_ids: Sequence[str]) -> int:
        deleted = super().delete_docs(doc_ids)
        self._wrote()
        return deleted

    def _upsert_chunk(self, record: ChunkRecord) -> None:
        super()._upsert_chunk(record)
        self.upserts += 1
        if self.upserts == self.at_upsert:
            self.die()

    def _delete_rows(self, rowids: list[int]) -> None:
        super()._delete_rows(rowids)
        if rowids:
            self.deletes += 1
            if self.deletes == self.at_delete:
                self.die()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("index", type=Path)
    parser.add_argument("docs", type=Path)
    parser.add_argument("--kill-after-writes", type=int, default=0)
    parser.add_argument("--kill-at-upsert", type=int, default=0)
    parser.add_argument("--kill-at-delete", type=int, default=0)
    args = parser.parse_args()
    docs = docs_from_json(args.docs.read_text(encoding="utf-8"))
    store = KillingStore(
        args.index, after_writes=args.kill_after_writes, at_upsert=args.kill_at_upsert, at_delete=args.kill_at_delete
    )
    embedder = HashingEmbedder(dimension=64)
    store.ensure_embedder(embedder.id, embedder.dimension)
    plan = plan_refresh(docs, store.stored_docs(), now=NOW)
    result = apply_refresh(plan, store=store, embedder=embedder, chunking=CHUNKING, batch_chunks=4)
    store.close()
    print(json.dumps(result.to_json()))


if __name__ == "__main__":
    main()
