"""Fusing BM25 and vector rankings, with Weaviate's semantics. Pure.

``relative_score_fusion`` (Weaviate's default): each list's scores are min-max normalised to [0, 1], then
``alpha * vector + (1 - alpha) * bm25``; a document missing from one list gets 0 there.
``reciprocal_rank_fusion``: ``sum(weight / (k + rank))`` (Weaviate's ``rankedFusion``).
"""

from __future__ import annotations

from collections.abc import Mapping


def min_max(scores: Mapping[str, float]) -> dict[str, float]:
    """Scale scores to [0, 1]; a single score (or all equal) becomes 1."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high - low <= 1e-12:
        return {key: 1.0 for key in scores}
    return {key: (value - low) / (high - low) for key, value in scores.items()}


def relative_score_fusion(bm25: Mapping[str, float], vector: Mapping[str, float], *, alpha: float) -> dict[str, float]:
    """Fused score per key; ``alpha`` = weight of the vector side (0 = BM25 only, 1 = vector only)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be within [0, 1], got {alpha}")
    lexical, dense = min_max(bm25), min_max(vector)
    keys = lexical.keys() | dense.keys()
    return {key: alpha * dense.get(key, 0.0) + (1.0 - alpha) * lexical.get(key, 0.0) for key in keys}


def reciprocal_rank_fusion(
    rankings: list[list[str]], *, weights: list[float] | None = None, k: int = 60
) -> dict[str, float]:
    """RRF over ranked key lists (best first)."""
    weights = weights or [1.0] * len(rankings)
    fused: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + weight / (k + rank)
    return fused


def top_k(scores: Mapping[str, float], k: int) -> list[tuple[str, float]]:
    """Highest first; ties broken by key for determinism."""
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]
