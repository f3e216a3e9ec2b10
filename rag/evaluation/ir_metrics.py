"""Standard ranking metrics (as in BEIR / trec_eval): nDCG@k and Recall@k. Pure.

``qrels`` maps a query id to ``{doc_id: graded relevance}``; a grade > 0 is relevant. ``run`` maps a query id to
``{doc_id: score}`` (higher is better; ties broken by doc id, like trec_eval's stable ordering). Averages are over
the queries that have at least one relevant document; a query missing from ``run`` scores 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Mapping[str, float]]


def ranked(scores: Mapping[str, float]) -> list[str]:
    """Doc ids best first; equal scores ordered by doc id so results are deterministic."""
    return [doc for doc, _ in sorted(scores.items(), key=lambda item: (-item[1], item[0]))]


def dcg(gains: list[int]) -> float:
    """Discounted cumulative gain with linear gains: ``sum(rel_i / log2(i + 1))``, ranks from 1."""
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1))


def ndcg_at_k(ranking: list[str], relevant: Mapping[str, int], k: int) -> float:
    """nDCG@k of one ranking; 0 when nothing is relevant."""
    ideal = dcg(sorted((g for g in relevant.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    gains = [max(relevant.get(doc, 0), 0) for doc in ranking[:k]]
    return dcg(gains) / ideal


def recall_at_k(ranking: list[str], relevant: Mapping[str, int], k: int) -> float:
    """Share of the relevant docs found in the top k; 0 when nothing is relevant."""
    wanted = {doc for doc, grade in relevant.items() if grade > 0}
    if not wanted:
        return 0.0
    return len(wanted.intersection(ranking[:k])) / len(wanted)


def evaluate_run(
    run: Run, qrels: Qrels, *, ndcg_k: tuple[int, ...] = (10,), recall_k: tuple[int, ...] = (10, 100)
) -> dict[str, float]:
    """Mean metrics over the judged queries: keys like ``ndcg@10``, ``recall@10``, ``recall@100``."""
    judged = [q for q, rel in qrels.items() if any(g > 0 for g in rel.values())]
    names = [f"ndcg@{k}" for k in ndcg_k] + [f"recall@{k}" for k in recall_k]
    if not judged:
        return {name: 0.0 for name in names}
    totals = dict.fromkeys(names, 0.0)
    for query in judged:
        ranking = ranked(run.get(query, {}))
        for k in ndcg_k:
            totals[f"ndcg@{k}"] += ndcg_at_k(ranking, qrels[query], k)
        for k in recall_k:
            totals[f"recall@{k}"] += recall_at_k(ranking, qrels[query], k)
    return {name: total / len(judged) for name, total in totals.items()}
