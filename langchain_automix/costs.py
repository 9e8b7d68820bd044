"""Cost model: unit costs per tier (the paper's convention) and optional token prices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["DEFAULT_UNIT_COSTS", "CostModel", "TokenPrice"]

DEFAULT_UNIT_COSTS: tuple[float, float] = (1.0, 50.0)
"""Unit costs of a two-tier cascade when none are given (small, large)."""


class TokenPrice(BaseModel):
    """Money per million tokens for one tier.

    Example:
        >>> TokenPrice(input_per_million=0.15, output_per_million=0.6).cost(
        ...     {"input_tokens": 1000, "output_tokens": 100})
        0.00021
    """

    model_config = ConfigDict(frozen=True)

    input_per_million: float = Field(ge=0)
    """Price of one million input (prompt) tokens."""
    output_per_million: float = Field(ge=0)
    """Price of one million output (completion) tokens."""

    def cost(self, usage: Mapping[str, Any] | None) -> float:
        """Money spent on a call with this token usage (0 when usage is unknown)."""
        if not usage:
            return 0.0
        return round(
            (
                usage.get("input_tokens", 0) * self.input_per_million
                + usage.get("output_tokens", 0) * self.output_per_million
            )
            / 1e6,
            12,
        )


class CostModel(BaseModel):
    """Costs of a cascade of ``n`` tiers.

    A tier's answer costs its unit cost; verifying a tier's answer costs
    ``verify_costs[i]``, by default the same as one call of that tier (the
    paper's convention: all ``k`` verifier samples together count as one call).
    Token prices, when given, turn the token usage of every call into money.

    Example:
        >>> costs = CostModel()
        >>> costs.unit_costs_for(2)
        (1.0, 50.0)
        >>> costs.verify_costs_for(2)
        (1.0, 50.0)
        >>> CostModel(unit_costs=(1, 10, 100)).unit_costs_for(3)
        (1.0, 10.0, 100.0)
    """

    model_config = ConfigDict(frozen=True)

    unit_costs: tuple[float, ...] | None = None
    """Cost of one call per tier, cheapest first; default ``(1, 50)`` for two tiers."""
    verify_costs: tuple[float, ...] | None = None
    """Cost of verifying a tier's answer; default: equal to ``unit_costs``."""
    token_prices: tuple[TokenPrice | None, ...] | None = None
    """Optional money per million tokens per tier, applied to ``usage_metadata``."""

    @field_validator("unit_costs", "verify_costs")
    @classmethod
    def _non_negative(cls, value: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if value is not None and any(c < 0 for c in value):
            raise ValueError(f"costs must be non-negative, got {value}")
        return value

    def unit_costs_for(self, n_tiers: int) -> tuple[float, ...]:
        """Unit costs for a cascade of ``n_tiers``, checking that they fit."""
        if self.unit_costs is None:
            if n_tiers == len(DEFAULT_UNIT_COSTS):
                return DEFAULT_UNIT_COSTS
            raise ValueError(
                f"unit_costs are required for {n_tiers} tiers (the default (1, 50) is "
                "only for two): pass CostModel(unit_costs=(...))"
            )
        if len(self.unit_costs) != n_tiers:
            raise ValueError(
                f"unit_costs has {len(self.unit_costs)} entries but there are {n_tiers} tiers"
            )
        return tuple(float(c) for c in self.unit_costs)

    def verify_costs_for(self, n_tiers: int) -> tuple[float, ...]:
        """Verification cost per tier (the last tier is never verified)."""
        if self.verify_costs is None:
            return self.unit_costs_for(n_tiers)
        if len(self.verify_costs) not in (n_tiers, n_tiers - 1):
            raise ValueError(
                f"verify_costs has {len(self.verify_costs)} entries; expected {n_tiers - 1} "
                f"or {n_tiers} for {n_tiers} tiers"
            )
        return tuple(float(c) for c in self.verify_costs) + (0.0,) * (
            n_tiers - len(self.verify_costs)
        )

    def money(self, tier: int, usage: Mapping[str, Any] | None) -> float | None:
        """Money spent on a call of ``tier`` with this usage, or None without prices."""
        if self.token_prices is None or tier >= len(self.token_prices):
            return None
        price = self.token_prices[tier]
        return None if price is None else price.cost(usage)

    def validate_tiers(self, n_tiers: int) -> None:
        """Raise ``ValueError`` if this cost model does not fit ``n_tiers`` tiers."""
        self.unit_costs_for(n_tiers)
        self.verify_costs_for(n_tiers)
        if self.token_prices is not None and len(self.token_prices) != n_tiers:
            raise ValueError(
                f"token_prices has {len(self.token_prices)} entries but there are {n_tiers} tiers"
            )

    @classmethod
    def coerce(cls, value: CostModel | Sequence[float] | None) -> CostModel:
        """Accept a ``CostModel``, a sequence of unit costs, or None (defaults)."""
        if value is None:
            return cls()
        if isinstance(value, CostModel):
            return value
        return cls(unit_costs=tuple(float(v) for v in value))
