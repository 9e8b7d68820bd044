"""The N-tier POMDP's model and its exact solution over observation histories (private).

The paper's POMDP for three or more models (appendix A.3), solved offline:

* **State** ``s``: a query's quality at every tier, each discretised into
  ``quality_bins`` levels (only the combinations seen in the training rows exist);
  ``q[s, t]`` is the mean quality of tier ``t`` over the rows in ``s``, ``prior[s]``
  their share.
* **Observations**: the verifier confidence of each non-final tier that is called,
  mapped to that tier's table of values (the ``k + 1`` values of ``k`` samples, or
  quantiles of a continuous signal).
* **Observation model** ``P_t(o | s)``: a Gaussian kernel density estimate of tier
  ``t``'s confidences over the training rows in ``s``, normalised over the table, so
  that the model can also predict what a tier not yet called would say.
* **Belief** after the history ``h = ((t1, o1), (t2, o2), ...)`` of the tiers called
  so far: ``b(s | h) ∝ prior(s) Π P_ti(oi | s)`` (updated after each verification).
* **Actions** at tier ``t``: accept (reward ``E_b[q_t]``), or call any higher tier
  ``j`` and pay ``lam * (cost_j + verify_j)``; the last tier's answer is kept.

Every history is finite (each call moves up at least one tier), so the Bellman
equation is solved exactly by recursion; the policy is the table of best actions per
history. A medium tier that rarely fixes what the small one got wrong has low value,
so the policy learns to go from the small tier straight to the large one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from langchain_automix.meta_verifiers._fitting import nearest_index, observation_table

__all__ = [
    "History",
    "TierModel",
    "TierPolicy",
    "kde_bandwidth",
    "route_table",
    "route_tree",
    "solve_tiers",
    "solve_tiers_many",
]

History = tuple[tuple[int, int], ...]
"""The tiers called so far with the index of their observation: ``((0, 5), (1, 8))``."""


def kde_bandwidth(conf: np.ndarray, rule: float | str) -> float:
    """Kernel bandwidth: a given number, or Scott's / Silverman's rule on ``conf``."""
    if not isinstance(rule, str):
        return float(rule)
    n = conf.size
    sd = float(np.std(conf, ddof=1)) if n > 1 else 0.0
    if rule == "silverman":
        iqr = float(np.subtract(*np.percentile(conf, [75, 25]))) / 1.349
        spread = min(sd, iqr) if iqr > 0 else sd
        h = 0.9 * spread * n ** (-0.2)
    else:
        h = sd * n ** (-0.2)
    return max(h, 1e-3)


@dataclass
class TierModel:
    """The fitted POMDP model: states, prior, observation tables and models."""

    quality: np.ndarray
    """``(states, tiers)``: mean quality of each tier in each state."""
    prior: np.ndarray
    """``(states,)``: share of training rows in each state."""
    observations: list[np.ndarray]
    """Per non-final tier, the sorted observation values of its table."""
    likelihood: list[np.ndarray]
    """Per non-final tier, ``(states, values)``: ``P_t(o | s)``, rows summing to 1."""
    bandwidths: list[float]
    """Kernel bandwidth used for each non-final tier."""

    @property
    def n_tiers(self) -> int:
        """Number of tiers."""
        return int(self.quality.shape[1])

    @classmethod
    def fit(
        cls,
        scores: np.ndarray,
        confidences: np.ndarray,
        *,
        quality_bins: int,
        bandwidth: float | str,
        max_observations: int,
    ) -> TierModel:
        """Estimate the model from training rows.

        ``scores`` is ``(n, T)`` and ``confidences`` ``(n, T - 1)``.
        """
        n, t = scores.shape
        qb = np.minimum((scores * quality_bins).astype(np.intp), quality_bins - 1)
        joint = np.zeros(n, dtype=np.int64)
        for col in range(t):
            joint = joint * quality_bins + qb[:, col]
        _, state_idx = np.unique(joint, return_inverse=True)
        n_states = int(state_idx.max()) + 1
        n_s = np.bincount(state_idx, minlength=n_states).astype(float)
        quality = np.column_stack(
            [
                np.bincount(state_idx, weights=scores[:, c], minlength=n_states) / n_s
                for c in range(t)
            ]
        )
        # a history over T - 1 tiers must stay small: cap each tier's table
        cap = max(2, min(max_observations, int(1024 ** (1.0 / max(1, t - 1)) + 1e-9)))
        observations, likelihood, bandwidths = [], [], []
        for col in range(t - 1):
            conf = confidences[:, col]
            values, _ = observation_table(conf, cap)
            h = kde_bandwidth(conf, bandwidth)
            z = (values[None, :] - conf[:, None]) / h
            kern = np.exp(-0.5 * z * z)
            kern /= np.maximum(kern.sum(axis=1, keepdims=True), 1e-300)  # each row: a pmf
            lik = np.zeros((n_states, values.size))
            np.add.at(lik, state_idx, kern)
            lik /= n_s[:, None]
            observations.append(values)
            likelihood.append(lik)
            bandwidths.append(h)
        return cls(quality, n_s / n_s.sum(), observations, likelihood, bandwidths)

    def obs_index(self, tier: int, values: Any) -> np.ndarray:
        """Index of the nearest table value of ``tier`` for each value."""
        return nearest_index(self.observations[tier], np.asarray(values, float))

    # ------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready arrays."""
        return {
            "quality": self.quality.tolist(),
            "prior": self.prior.tolist(),
            "observations": [v.tolist() for v in self.observations],
            "likelihood": [v.tolist() for v in self.likelihood],
            "bandwidths": list(self.bandwidths),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TierModel:
        """Rebuild from :meth:`to_dict` (shapes checked)."""
        quality = np.asarray(d["quality"], float)
        prior = np.asarray(d["prior"], float)
        obs = [np.asarray(v, float) for v in d["observations"]]
        lik = [np.asarray(v, float) for v in d["likelihood"]]
        bws = [float(v) for v in d["bandwidths"]]
        if quality.ndim != 2 or quality.shape[1] < 2 or prior.shape != (quality.shape[0],):
            raise ValueError("tree model: quality must be (states, tiers) and prior (states,)")
        t = quality.shape[1]
        if not len(obs) == len(lik) == len(bws) == t - 1:
            raise ValueError(f"tree model: need {t - 1} observation tables and models")
        for v, p in zip(obs, lik, strict=True):
            if v.ndim != 1 or v.size < 1 or p.shape != (quality.shape[0], v.size):
                raise ValueError("tree model: an observation model does not match its table")
            if np.any(np.diff(v) <= 0):
                raise ValueError("tree model: observation values must be strictly increasing")
        return cls(quality, prior, obs, lik, bws)


@dataclass
class TierPolicy:
    """A solved policy: the best target tier for every observation history."""

    lam: float
    table: dict[History, int]

    def target(self, history: History, n_tiers: int) -> int:
        """Tier to go to after ``history`` (its last tier itself = accept).

        A history the model gave no chance (an observation never seen near it in
        training) escalates to the next tier: the safe choice.
        """
        tier = history[-1][0]
        return self.table.get(history, min(tier + 1, n_tiers - 1))

    def lookup(self, model: TierModel) -> tuple[np.ndarray, np.ndarray]:
        """Sorted integer keys of the histories (mixed radix over tiers) and targets."""
        cached = self.__dict__.get("_lookup")
        if cached is not None and cached[0] is model:
            return cached[1], cached[2]
        radix = _radix(model)
        keys = _history_keys(list(self.table), radix)
        targets = np.array(list(self.table.values()), dtype=np.intp)
        order = np.argsort(keys)
        self.__dict__["_lookup"] = (model, keys[order], targets[order])
        return keys[order], targets[order]

    def to_list(self) -> list[dict[str, Any]]:
        """JSON-ready ``[{"history": [[tier, obs], ...], "target": t}, ...]``."""
        return [
            {"history": [list(step) for step in h], "target": t}
            for h, t in sorted(self.table.items())
        ]

    @classmethod
    def from_list(cls, lam: float, entries: Sequence[Any]) -> TierPolicy:
        """Rebuild from :meth:`to_list` output."""
        table: dict[History, int] = {}
        for i, e in enumerate(entries):
            if not isinstance(e, dict) or "history" not in e or "target" not in e:
                raise ValueError(f"tree policy entry {i} needs 'history' and 'target'")
            hist = tuple((int(a), int(b)) for a, b in e["history"])
            if not hist:
                raise ValueError(f"tree policy entry {i} has an empty history")
            target = int(e["target"])
            if target < hist[-1][0]:
                raise ValueError(f"tree policy entry {i} goes down from tier {hist[-1][0]}")
            table[hist] = target
        return cls(float(lam), table)


def solve_tiers(
    model: TierModel, unit_costs: Sequence[float], verify_costs: Sequence[float], lam: float
) -> TierPolicy:
    """Solve the POMDP for ``quality - lam * cost`` into a table over every history.

    Costs already paid do not change the best action, so each action is charged the
    cost still to come: calling tier ``j`` costs ``unit_costs[j]`` plus, unless it is
    the last tier, ``verify_costs[j]``.

    Ties prefer the cheaper action (accepting over calling, a lower tier over a higher).
    """
    return solve_tiers_many(model, unit_costs, verify_costs, [lam])[0]


def solve_tiers_many(
    model: TierModel,
    unit_costs: Sequence[float],
    verify_costs: Sequence[float],
    lams: Sequence[float],
) -> list[TierPolicy]:
    """:func:`solve_tiers` for every ``lam`` at once (one pass over the histories).

    The beliefs do not depend on ``lam``; only the maximisations do, so they run on
    arrays over ``lams``.
    """
    t = model.n_tiers
    lam = np.asarray(lams, float)
    step = np.asarray(unit_costs, float) + np.asarray((*verify_costs, 0.0), float)
    tables: dict[History, np.ndarray] = {}

    def value(history: History, weights: np.ndarray) -> np.ndarray:
        """Best expected ``quality - lam * future cost`` after ``history``, per ``lam``.

        ``weights`` is the unnormalised belief; the best action is recorded.
        """
        total = float(weights.sum())
        if total <= 0.0 or not math.isfinite(total):
            belief = model.prior
        else:
            belief = weights / total
        tier = history[-1][0]
        best_v = np.full(lam.shape, float(belief @ model.quality[:, tier]))
        best_t = np.full(lam.shape, tier, dtype=np.intp)
        for j in range(tier + 1, t):
            v = -lam * float(step[j])
            if j == t - 1:
                v = v + float(belief @ model.quality[:, j])
            else:
                joint = belief[:, None] * model.likelihood[j]  # (states, values)
                p_o = joint.sum(axis=0)
                for o in np.flatnonzero(p_o > 1e-12):
                    v = v + float(p_o[o]) * value((*history, (j, int(o))), joint[:, o])
            better = v > best_v + 1e-12
            best_v = np.where(better, v, best_v)
            best_t = np.where(better, j, best_t)
        tables[history] = best_t
        return best_v

    for o in range(model.observations[0].size):
        value(((0, o),), model.prior * model.likelihood[0][:, o])
    radix = _radix(model)
    hists = list(tables)
    keys = _history_keys(hists, radix)
    order = np.argsort(keys)
    hists = [hists[i] for i in order]
    keys = keys[order]
    targets = np.stack([tables[h] for h in hists])  # (histories, lams)
    policies = []
    for i in range(lam.size):
        policy = TierPolicy(float(lam[i]), dict(zip(hists, targets[:, i].tolist(), strict=True)))
        policy.__dict__["_lookup"] = (model, keys, np.ascontiguousarray(targets[:, i]))
        policies.append(policy)
    return policies


def _radix(model: TierModel) -> np.ndarray:
    """Place value of each non-final tier's ``observation index + 1`` in a history key."""
    sizes = np.array([v.size + 1 for v in model.observations], dtype=np.int64)
    return np.concatenate([[1], np.cumprod(sizes)[:-1]]).astype(np.int64)


def _history_keys(histories: Sequence[History], radix: np.ndarray) -> np.ndarray:
    """Integer key of each history: ``observation index + 1`` of each tier in mixed radix."""
    return np.array(
        [sum((o + 1) * int(radix[tv]) for tv, o in h) for h in histories], dtype=np.int64
    )


def _lookup_targets(
    model: TierModel, policy: TierPolicy, keys: np.ndarray, tier: int
) -> np.ndarray:
    table_keys, table_targets = policy.lookup(model)
    pos = np.searchsorted(table_keys, keys)
    pos = np.minimum(pos, max(table_keys.size - 1, 0))
    found = table_keys.size > 0 and table_keys[pos] == keys
    fallback = min(tier + 1, model.n_tiers - 1)  # a history never seen: the next tier
    return np.where(found, table_targets[pos] if table_keys.size else fallback, fallback)


def route_tree(
    model: TierModel, policy: TierPolicy, confidences: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Final tier ``(n,)`` and visited tiers ``(n, T)`` of replay rows (vectorised)."""
    n, t = confidences.shape[0], model.n_tiers
    radix = _radix(model)
    codes = np.column_stack(
        [(model.obs_index(c, confidences[:, c]) + 1) * radix[c] for c in range(t - 1)]
    )
    current = np.zeros(n, dtype=np.intp)
    visited = np.zeros((n, t), dtype=bool)
    visited[:, 0] = True
    done = np.zeros(n, dtype=bool)
    for tier in range(t - 1):
        rows = np.flatnonzero((current == tier) & ~done)
        if rows.size == 0:
            continue
        keys = (codes[rows] * visited[rows, : t - 1]).sum(axis=1)
        target = _lookup_targets(model, policy, keys, tier)
        stay = target == tier
        done[rows[stay]] = True
        move = rows[~stay]
        current[move] = target[~stay]
        visited[move, target[~stay]] = True
    return current, visited


def route_table(
    model: TierModel,
    policy: TierPolicy,
    confidences: np.ndarray,
    *,
    tier: int,
    tiers: Sequence[int],
) -> np.ndarray:
    """Target tier of each row from its confidences at the visited ``tiers``."""
    radix = _radix(model)
    keys = np.zeros(confidences.shape[0], dtype=np.int64)
    for i, tv in enumerate(tiers):
        keys += (model.obs_index(tv, confidences[:, i]) + 1) * radix[tv]
    return np.asarray(_lookup_targets(model, policy, keys, tier), dtype=np.intp)
