"""Cost accounting: a price table (USD per billed unit, by ``provider/model``) applied to provider calls. Pure.

Prices come from ``[costs.prices]`` in ``bestbefore.toml`` (``"cohere/embed-v4.0" = {input_tokens = 1.2e-7}``).
Local models cost nothing. A call to a model the table does not know is counted as unpriced (cost 0), never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from rag.config import CostConfig
from rag.models import ProviderCall

LOCAL_PROVIDER = "local"


@dataclass(frozen=True)
class CallCost:
    call: ProviderCall
    usd: float
    priced: bool  # False: the table has no price for this model (or for one of its units)


@dataclass(frozen=True)
class PriceTable:
    prices: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: CostConfig) -> PriceTable:
        return cls({key: dict(units) for key, units in config.prices.items()})

    def cost(self, call: ProviderCall) -> CallCost:
        """USD for one call: each billed unit times its price; local models are free."""
        if call.provider == LOCAL_PROVIDER:
            return CallCost(call, 0.0, True)
        price = self.prices.get(f"{call.provider}/{call.model}")
        if price is None:
            return CallCost(call, 0.0, False)
        usd = sum(amount * price[unit] for unit, amount in call.units.items() if unit in price)
        priced = all(unit in price for unit, amount in call.units.items() if amount)
        return CallCost(call, usd, priced)

    def total(self, calls: Iterable[ProviderCall]) -> float:
        return sum(self.cost(call).usd for call in calls)
