from __future__ import annotations

import pytest

from rag.index.fusion import min_max, reciprocal_rank_fusion, relative_score_fusion, top_k


def test_min_max_scales_to_unit_range() -> None:
    assert min_max({"a": 2.0, "b": 4.0, "c": 3.0}) == {"a": 0.0, "b": 1.0, "c": 0.5}
    assert min_max({"a": 7.0}) == {"a": 1.0}
    assert min_max({}) == {}


def test_relative_score_fusion_follows_alpha() -> None:
    bm25 = {"lex": 10.0, "both": 6.0, "low": 2.0}
    vector = {"vec": 0.9, "both": 0.8, "far": 0.1}
    assert top_k(relative_score_fusion(bm25, vector, alpha=0.0), 1)[0][0] == "lex"
    assert top_k(relative_score_fusion(bm25, vector, alpha=1.0), 1)[0][0] == "vec"
    fused = relative_score_fusion(bm25, vector, alpha=0.5)
    assert top_k(fused, 1)[0][0] == "both"  # 0.5 * 0.875 + 0.5 * 0.5 beats either single-list winner
    assert fused["both"] == pytest.approx(0.5 * (0.7 / 0.8) + 0.5 * 0.5)


def test_relative_score_fusion_rejects_bad_alpha() -> None:
    with pytest.raises(ValueError):
        relative_score_fusion({}, {}, alpha=1.5)


def test_rrf_rewards_agreement() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "a", "d"]], k=60)
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert top_k(fused, 2) == [("a", fused["a"]), ("b", fused["b"])]
    weighted = reciprocal_rank_fusion([["a"], ["b"]], weights=[1.0, 2.0])
    assert weighted["b"] > weighted["a"]


def test_top_k_breaks_ties_by_key() -> None:
    assert top_k({"b": 1.0, "a": 1.0, "c": 0.5}, 2) == [("a", 1.0), ("b", 1.0)]
