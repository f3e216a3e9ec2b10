"""The price table applied to the units each provider call reports."""

from __future__ import annotations

import pytest

from rag.config import CostConfig
from rag.models import ProviderCall
from rag.observability.costs import PriceTable
from rag.observability.privacy import scrub_secrets

TABLE = PriceTable.from_config(CostConfig())


def test_cohere_units_are_priced_per_unit() -> None:
    embed = TABLE.cost(ProviderCall("cohere", "embed-v4.0", "embed", {"input_tokens": 1_000_000}))
    assert embed.usd == pytest.approx(0.12) and embed.priced
    rerank = TABLE.cost(ProviderCall("cohere", "rerank-v3.5", "rerank", {"search_units": 3}))
    assert rerank.usd == pytest.approx(0.006)
    chat = TABLE.cost(ProviderCall("cohere", "command-a-03-2025", "chat", {"input_tokens": 2000, "output_tokens": 500}))
    assert chat.usd == pytest.approx(2000 * 2.5e-6 + 500 * 10e-6)


def test_local_is_free_and_unknown_models_are_flagged_not_guessed() -> None:
    assert TABLE.cost(ProviderCall("local", "minilm", "embed", {"input_tokens": 10**9})).usd == 0.0
    unknown = TABLE.cost(ProviderCall("cohere", "embed-v9", "embed", {"input_tokens": 100}))
    assert (unknown.usd, unknown.priced) == (0.0, False)
    odd_unit = TABLE.cost(ProviderCall("cohere", "embed-v4.0", "embed", {"input_tokens": 100, "images": 2}))
    assert odd_unit.usd == pytest.approx(100 * 0.12e-6) and not odd_unit.priced


def test_custom_prices_from_config() -> None:
    table = PriceTable.from_config(CostConfig(prices={"cohere/x": {"input_tokens": 1.0}}))
    calls = [
        ProviderCall("cohere", "x", "chat", {"input_tokens": 2}),
        ProviderCall("local", "y", "embed", {"input_tokens": 5}),
    ]
    assert table.total(calls) == 2.0


def test_secrets_are_scrubbed() -> None:
    text = "xoxb-123456789-abcdef xapp-1-A0B1-xyz123456 Bearer abcdefghijklmnop password=hunter2 pk-lf-1234abcd5678"
    scrubbed = scrub_secrets(text)
    for secret in ("xoxb-123456789", "xapp-1-A0B1", "abcdefghijklmnop", "hunter2", "pk-lf-1234abcd5678"):
        assert secret not in scrubbed
    assert scrub_secrets("db at postgresql://bot:s3cret@db:5432/x") == "db at postgresql://[secret]@db:5432/x"
    assert scrub_secrets("How many PTO days do I get?") == "How many PTO days do I get?"
