"""nDCG@k and Recall@k on rankings small enough to check by hand."""

from __future__ import annotations

import math

import pytest

from rag.evaluation.ir_metrics import dcg, evaluate_run, ndcg_at_k, ranked, recall_at_k


def test_dcg_discounts_by_log2_of_rank_plus_one() -> None:
    # ranks 1, 2, 3 -> 1/log2(2) + 0 + 1/log2(4) = 1 + 0.5
    assert dcg([1, 0, 1]) == pytest.approx(1.5)


def test_ndcg_is_one_for_a_perfect_ranking_and_zero_when_nothing_relevant_is_found() -> None:
    relevant = {"a": 1, "b": 1}
    assert ndcg_at_k(["a", "b", "x"], relevant, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "y", "z"], relevant, 10) == 0.0


def test_ndcg_of_one_relevant_doc_at_rank_three() -> None:
    # DCG = 1/log2(4) = 0.5; ideal = 1/log2(2) = 1
    assert ndcg_at_k(["x", "y", "a"], {"a": 1}, 10) == pytest.approx(0.5)


def test_ndcg_with_two_relevant_docs_one_found_at_rank_two() -> None:
    # DCG = 1/log2(3); IDCG = 1 + 1/log2(3)
    expected = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(["x", "a", "y"], {"a": 1, "b": 1}, 10) == pytest.approx(expected)


def test_ndcg_uses_graded_relevance_and_cuts_at_k() -> None:
    relevant = {"a": 2, "b": 1}
    # swapped order: DCG = 1 + 2/log2(3); IDCG = 2 + 1/log2(3)
    assert ndcg_at_k(["b", "a"], relevant, 10) == pytest.approx((1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3)))
    # the relevant doc at rank 2 does not count at k=1
    assert ndcg_at_k(["x", "a"], {"a": 1}, 1) == 0.0


def test_recall_counts_relevant_docs_within_the_cutoff() -> None:
    relevant = {"a": 1, "b": 1, "c": 0}
    ranking = ["a", "x", "c", "b"]
    assert recall_at_k(ranking, relevant, 1) == pytest.approx(0.5)
    assert recall_at_k(ranking, relevant, 3) == pytest.approx(0.5)  # "c" has grade 0: not relevant
    assert recall_at_k(ranking, relevant, 4) == pytest.approx(1.0)


def test_ranked_orders_by_score_then_doc_id() -> None:
    assert ranked({"b": 1.0, "a": 1.0, "c": 2.0}) == ["c", "a", "b"]


def test_evaluate_run_averages_over_judged_queries_and_missing_queries_score_zero() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"z": 0}}  # q3 has no relevant doc: not averaged
    run = {"q1": {"a": 0.9, "x": 0.1}}  # q2 was never answered
    metrics = evaluate_run(run, qrels)
    assert metrics == {"ndcg@10": pytest.approx(0.5), "recall@10": pytest.approx(0.5), "recall@100": pytest.approx(0.5)}


def test_recall_at_100_sees_what_recall_at_10_misses() -> None:
    ranking = [f"d{i}" for i in range(50)] + ["a"]
    run = {"q": {doc: 100.0 - i for i, doc in enumerate(ranking)}}
    metrics = evaluate_run(run, {"q": {"a": 1}})
    assert metrics["recall@10"] == 0.0
    assert metrics["recall@100"] == 1.0
    assert metrics["ndcg@10"] == 0.0
