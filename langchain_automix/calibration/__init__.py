"""Replay data and its metrics: the ground every meta-verifier is fitted on.

Replay datasets (``replay``), cost and quality metrics of a cascade such as ΔIBC
(``metrics``), synthetic replay data for tests and benchmarks (``synthetic``) and the
drift alarm that compares live routing signals with the training rows (``drift``). The
layer below the policies: nothing here imports a meta-verifier, the runtime or
langgraph. Fitting and comparing policies over seeds lives above them
(:mod:`langchain_automix.evaluation`, plots in :mod:`langchain_automix.plotting`).
Names are imported on first use.

Example:
    >>> from langchain_automix.calibration import synthetic_replay
    >>> len(synthetic_replay(n=20, seed=0))
    20
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_automix._lazy import lazy_getattr

if TYPE_CHECKING:
    from langchain_automix.calibration.drift import DriftMonitor, SignalReference
    from langchain_automix.calibration.metrics import (
        CostSpec,
        baselines,
        delta_ibc,
        delta_ibc_tiers,
        ibc,
        routing_point,
        routing_points,
    )
    from langchain_automix.calibration.replay import (
        ReplayDataset,
        ReplayError,
        load_replay,
        write_replay,
    )
    from langchain_automix.calibration.synthetic import synthetic_replay

__all__ = [
    "CostSpec",
    "DriftMonitor",
    "ReplayDataset",
    "ReplayError",
    "SignalReference",
    "baselines",
    "delta_ibc",
    "delta_ibc_tiers",
    "ibc",
    "load_replay",
    "routing_point",
    "routing_points",
    "synthetic_replay",
    "write_replay",
]

_WHERE = {
    "DriftMonitor": "drift",
    "SignalReference": "drift",
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
    "synthetic_replay": "synthetic",
}

__getattr__ = lazy_getattr(__name__, _WHERE)
