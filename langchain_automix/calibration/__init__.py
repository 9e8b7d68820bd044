"""Offline fitting and evaluation: what replay data says about a cascade.

Replay datasets (``replay``), cost and quality metrics of a cascade such as ΔIBC
(``metrics``), fitting and comparing meta-verifiers over seeds (``evaluation``),
cost-quality plots (``plotting``, needs the ``plot`` extra) and synthetic replay data for
tests and benchmarks (``synthetic``). Names are imported on first use, so importing one
module of this package does not load the others (nor matplotlib).

Example:
    >>> from langchain_automix.calibration import synthetic_replay
    >>> len(synthetic_replay(n=20, seed=0))
    20
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_automix.calibration.evaluation import (
        Comparison,
        MethodResult,
        VerifierReport,
        compare_methods,
        evaluate_policy,
        verifier_report,
    )
    from langchain_automix.calibration.metrics import (
        CostSpec,
        baselines,
        delta_ibc,
        delta_ibc_tiers,
        ibc,
        routing_point,
        routing_points,
    )
    from langchain_automix.calibration.plotting import plot_cost_quality
    from langchain_automix.calibration.replay import (
        ReplayDataset,
        ReplayError,
        load_replay,
        write_replay,
    )
    from langchain_automix.calibration.synthetic import synthetic_replay

__all__ = [
    "Comparison",
    "CostSpec",
    "MethodResult",
    "ReplayDataset",
    "ReplayError",
    "VerifierReport",
    "baselines",
    "compare_methods",
    "delta_ibc",
    "delta_ibc_tiers",
    "evaluate_policy",
    "ibc",
    "load_replay",
    "plot_cost_quality",
    "routing_point",
    "routing_points",
    "synthetic_replay",
    "verifier_report",
    "write_replay",
]

_WHERE = {
    "ReplayDataset": "replay",
    "ReplayError": "replay",
    "load_replay": "replay",
    "write_replay": "replay",
    "CostSpec": "metrics",
    "baselines": "metrics",
    "delta_ibc": "metrics",
    "delta_ibc_tiers": "metrics",
    "ibc": "metrics",
    "routing_point": "metrics",
    "routing_points": "metrics",
    "Comparison": "evaluation",
    "MethodResult": "evaluation",
    "VerifierReport": "evaluation",
    "compare_methods": "evaluation",
    "evaluate_policy": "evaluation",
    "verifier_report": "evaluation",
    "plot_cost_quality": "plotting",
    "synthetic_replay": "synthetic",
}


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first use (no import cycles, no extras)."""
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_WHERE[name]}")
    return getattr(module, name)
