"""POMDP meta-verifiers (paper appendix A.3) and the library's greedy histogram variant."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from langchain_automix._checks import (
    as_bool_list,
    as_float,
    as_float_list,
    as_int,
    as_mapping,
    checked,
    optional,
    require,
)
from langchain_automix.meta_verifiers._fitting import (
    Frontier,
    choose_point,
    nearest_index,
    observation_table,
    snap_to_share_grid,
    table_frontier,
)
from langchain_automix.meta_verifiers._tier_tree import (
    TierModel,
    TierPolicy,
    kde_bandwidth,
    route_table,
    route_tree,
    solve_tiers,
    solve_tiers_many,
)
from langchain_automix.meta_verifiers.base import (
    MetaVerifier,
    Observation,
    Routing,
    Target,
    current_confidence,
    register_meta_verifier,
)

if TYPE_CHECKING:
    from langchain_automix.calibration.metrics import CostSpec
    from langchain_automix.calibration.replay import ReplayDataset
    from langchain_automix.meta_verifiers._fitting import Objective

__all__ = ["POMDP", "GreedyPOMDP"]


def _require_two_tiers(n_tiers: int, who: str) -> None:
    if n_tiers != 2:
        raise NotImplementedError(
            f"{who} supports 2-tier cascades only (got {n_tiers} tiers); use POMDP (which "
            f"can skip tiers), Chained({who}()) (one {who} per pair of adjacent tiers), or "
            "Threshold, DoubleThreshold or SelfConsistency (one rule at every tier)"
        )


def _top_k_masks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks escalating the entries with the k largest distinct ``values``, k = 0..K."""
    levels = np.unique(values)[::-1]
    masks = np.zeros((levels.size + 1, values.size), dtype=bool)
    masks[1:] = values[None, :] >= levels[:, None]
    return masks, levels


def _gaussian_smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """1-D Gaussian smoothing with mirrored edges (sigma in entries; 0 = none)."""
    if sigma <= 0 or x.size < 2:
        return x.copy()
    radius = max(1, int(4.0 * sigma + 0.5))
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    idx = np.arange(x.size)[:, None] + offsets[None, :]
    period = 2 * x.size
    idx = np.mod(idx, period)
    idx = np.where(idx >= x.size, period - 1 - idx, idx)
    return np.asarray((x[idx] * kernel[None, :]).sum(axis=1))


class _LookupPolicy(MetaVerifier):
    """A fitted lookup table from observation value to action (shared live path)."""

    observations_: list[float] | None
    escalate_: list[bool] | None

    def _set_table(
        self, observations: Sequence[float] | np.ndarray, escalate: Sequence[bool] | np.ndarray
    ) -> None:
        obs = [float(v) for v in observations]
        self.observations_ = obs
        self.escalate_ = [bool(a) for a in escalate]
        self._mids = [(a + b) / 2.0 for a, b in pairwise(obs)]
        self._values = np.asarray(obs)
        self._actions = np.asarray(self.escalate_, dtype=bool)

    def _check_fitted(self) -> None:
        if self.escalate_ is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() or load()")

    def decide(self, observation: Observation) -> Target:
        """Look the confidence up in the fitted table (nearest observation value)."""
        if self.escalate_ is None:
            self._check_fitted()
        if observation.n_tiers != 2:
            _require_two_tiers(observation.n_tiers, type(self).__name__)
        esc = self.escalate_[bisect_right(self._mids, observation.confidence)]  # type: ignore[index]
        return "escalate" if esc else "accept"

    def decide_batch(
        self,
        confidences: Any,
        *,
        tier: int = 0,
        n_tiers: int = 2,
        answers: Sequence[str | None] | None = None,
    ) -> np.ndarray:
        """Vectorised :meth:`decide`."""
        self._check_fitted()
        _require_two_tiers(n_tiers, type(self).__name__)
        c = current_confidence(confidences)
        return np.asarray(self._actions[nearest_index(self._values, c)])


def _bandwidth_param(value: Any, field: str) -> float | str:
    """A policy file's POMDP bandwidth: a rule's name or a finite number."""
    if isinstance(value, str):
        return value
    return as_float(value, field)


_MODEL_CACHE: dict[tuple[Any, ...], TierModel] = {}
_POLICY_CACHE: dict[tuple[Any, ...], tuple[TierModel, list[TierPolicy]]] = {}
"""Small caches for fitting: cross-validation refits the same training rows once per
candidate objective, and the model and its λ sweep do not depend on the objective."""


def _tree_model(
    scores: np.ndarray,
    confidences: np.ndarray,
    quality_bins: int,
    bandwidth: float | str,
    max_observations: int,
) -> TierModel:
    """:meth:`TierModel.fit`, cached on the rows' bytes and the settings."""
    import hashlib

    digest = hashlib.sha256(np.ascontiguousarray(scores, "<f8").tobytes())
    digest.update(np.ascontiguousarray(confidences, "<f8").tobytes())
    key = (digest.hexdigest(), scores.shape, quality_bins, bandwidth, max_observations)
    if key not in _MODEL_CACHE:
        if len(_MODEL_CACHE) >= 8:
            _MODEL_CACHE.pop(next(iter(_MODEL_CACHE)))
        _MODEL_CACHE[key] = TierModel.fit(
            scores,
            confidences,
            quality_bins=quality_bins,
            bandwidth=bandwidth,
            max_observations=max_observations,
        )
    return _MODEL_CACHE[key]


@register_meta_verifier
class GreedyPOMDP(_LookupPolicy):
    """Escalate confidence bins in order of their smoothed average quality gain.

    Confidences are binned to the nearest of ``i / num_bins``; each bin's mean gain
    ``q_large - q_small`` over the training rows is smoothed across bins with a
    Gaussian of ``sigma`` bins, and fitting escalates the ``k`` bins with the largest
    smoothed gain, ``k`` chosen by the objective. This is the paper library's
    ``GreedyPOMDP`` idea (a one-step greedy solution on a histogram), in numpy.

    Example:
        >>> from langchain_automix.calibration.replay import ReplayDataset
        >>> data = ReplayDataset.from_arrays(
        ...     [[1, 1], [0, 1], [0, 0]] * 10, [[0.875], [0.5], [0.0]] * 10)
        >>> policy = GreedyPOMDP(num_bins=8, sigma=0).fit(data)
        >>> [policy.decide(Observation(0, 2, c, 8, 8)) for c in (0.0, 0.5, 0.875)]
        ['accept', 'escalate', 'accept']
    """

    name: ClassVar[str] = "greedy_pomdp"

    def __init__(self, num_bins: int = 8, sigma: float = 2.0) -> None:
        if isinstance(num_bins, bool) or int(num_bins) < 1:
            raise ValueError(f"num_bins must be a positive integer, got {num_bins!r}")
        if not float(sigma) >= 0:
            raise ValueError(f"sigma must be >= 0, got {sigma!r}")
        self.num_bins = int(num_bins)
        self.sigma = float(sigma)
        self.observations_ = None
        self.escalate_ = None
        self.bin_gain_: list[float] | None = None

    def _fit(
        self, data: ReplayDataset, costs: CostSpec, objective: Objective, forced: np.ndarray | None
    ) -> None:
        _require_two_tiers(data.n_tiers, "GreedyPOMDP")
        nb = self.num_bins + 1
        values = np.arange(nb) / self.num_bins
        idx = nearest_index(values, data.confidences[:, 0])
        free = np.ones(data.n_rows, bool) if forced is None else ~forced
        cnt = np.bincount(idx[free], minlength=nb)
        gsum = np.bincount(idx[free], weights=data.gain[free], minlength=nb)
        mean = np.divide(gsum, cnt, out=np.zeros(nb), where=cnt > 0)
        smooth = _gaussian_smooth(mean, self.sigma)
        masks, _ = _top_k_masks(smooth)
        front = table_frontier(idx, nb, data.scores, masks, costs, forced)
        k = choose_point(front, objective, data, costs)
        self.bin_gain_ = [float(v) for v in smooth]
        self._set_table(values, masks[k])

    def _frontier(
        self, data: ReplayDataset, costs: CostSpec, forced: np.ndarray | None
    ) -> Frontier:
        self._check_fitted()
        masks, _ = _top_k_masks(np.asarray(self.bin_gain_))
        idx = nearest_index(self._values, data.confidences[:, 0])
        return table_frontier(idx, self._values.size, data.scores, masks, costs, forced)

    def get_params(self) -> dict[str, Any]:
        """Binning, smoothing and the fitted table."""
        return {
            "num_bins": self.num_bins,
            "sigma": self.sigma,
            "bin_gain": self.bin_gain_,
            "escalate": self.escalate_,
        }

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> GreedyPOMDP:
        """Rebuild, including the fitted table (values of the wrong JSON type are refused)."""
        spec = {
            "num_bins": as_int,
            "sigma": as_float,
            "bin_gain": optional(as_float_list),
            "escalate": optional(as_bool_list),
        }
        p = checked(params, spec)
        gain, esc = p.pop("bin_gain", None), p.pop("escalate", None)
        out = cls(**p)
        if esc is not None:
            if gain is None or len(esc) != out.num_bins + 1 or len(gain) != len(esc):
                raise ValueError("bin_gain and escalate must have num_bins + 1 entries")
            out.bin_gain_ = [float(v) for v in gain]
            out._set_table(np.arange(out.num_bins + 1) / out.num_bins, esc)
        return out

    def __repr__(self) -> str:
        return f"GreedyPOMDP(num_bins={self.num_bins!r}, sigma={self.sigma!r})"


@register_meta_verifier
class POMDP(_LookupPolicy):
    """The paper's POMDP meta-verifier (appendix A.3), solved offline into a lookup table.

    * **States**: a query's per-tier quality ``(q_small, q_large)``, discretised into
      ``quality_bins`` levels per tier; each state is represented by the mean quality
      of the training rows in it.
    * **Observations**: the verifier confidence (the ``k + 1`` values seen with ``k``
      samples, or up to ``max_observations`` quantiles of a continuous confidence). A
      share of fewer valid samples (5 of 7) is read as the nearest ``i / k`` (see
      :func:`~langchain_automix.meta_verifiers._fitting.snap_to_share_grid`), as the
      paper's observation counts Correct samples out of ``k``.
    * **Observation model**: ``P(o | s)`` is a Gaussian kernel density estimate over the
      confidences of the training rows in state ``s`` (bandwidth ``"scott"``,
      ``"silverman"`` or a number); the prior ``b0(s)`` is the share of rows in ``s``.
    * **Belief**: ``b(s | o) ∝ b0(s) P(o | s)``.
    * **Reward**: ``quality - lam * cost``; accepting earns ``q_small - lam * C_accept``,
      escalating ``q_large - lam * C_escalate``. The optimal action for observation
      ``o`` is to escalate iff ``E_b[q_large - q_small | o] > lam * (C_escalate - C_accept)``.

    A query no model solves has ``q_large - q_small = 0``, so observations dominated by
    such "hopeless" queries have an expected gain near zero and are not escalated.
    Sweeping ``lam`` traces the frontier (:meth:`frontier`); :meth:`fit` picks ``lam``
    for the objective (``lam=`` uses it as given).

    **Three or more tiers** (the paper's three-model setting): the state is the joint
    quality of every tier, each non-final tier's verifier has its own observation model,
    the belief is updated after each verification, and from any tier the policy may
    accept, call the next tier, or call a higher one directly, skipping a medium tier
    that does not pay. The POMDP is solved exactly over observation histories (see
    :mod:`langchain_automix.meta_verifiers._tier_tree`); :meth:`decide` then returns a
    tier index when it skips.

    Example:
        >>> from langchain_automix.calibration.replay import ReplayDataset
        >>> data = ReplayDataset.from_arrays(   # easy, needs-large, hopeless
        ...     [[1, 1], [0, 1], [0, 0]] * 20, [[0.875], [0.5], [0.0]] * 20)
        >>> policy = POMDP(bandwidth=0.05).fit(data, lam=0.001)
        >>> [policy.decide(Observation(0, 2, c, 8, 8)) for c in (0.0, 0.5, 0.875)]
        ['accept', 'escalate', 'accept']
    """

    name: ClassVar[str] = "pomdp"

    def __init__(
        self,
        bandwidth: float | str = "scott",
        quality_bins: int = 10,
        max_observations: int = 256,
    ) -> None:
        if isinstance(bandwidth, str):
            if bandwidth not in ("scott", "silverman"):
                raise ValueError(
                    f"bandwidth must be 'scott', 'silverman' or a number, got {bandwidth!r}"
                )
        elif not (math.isfinite(float(bandwidth)) and float(bandwidth) > 0):
            raise ValueError(f"bandwidth must be positive, got {bandwidth!r}")
        if isinstance(quality_bins, bool) or int(quality_bins) < 1:
            raise ValueError(f"quality_bins must be a positive integer, got {quality_bins!r}")
        if isinstance(max_observations, bool) or int(max_observations) < 2:
            raise ValueError(f"max_observations must be >= 2, got {max_observations!r}")
        self.bandwidth: float | str = bandwidth if isinstance(bandwidth, str) else float(bandwidth)
        self.quality_bins = int(quality_bins)
        self.max_observations = int(max_observations)
        self.observations_ = None
        self.escalate_ = None
        self.gain_: list[float] | None = None
        self.lam_: float | None = None
        self.cost_delta_: float | None = None
        self.bandwidth_: float | None = None
        self.tree_model_: TierModel | None = None
        self.tree_policy_: TierPolicy | None = None
        self.tree_costs_: tuple[list[float], list[float]] | None = None

    # ------------------------------------------------------------------ solving
    def _bandwidth(self, conf: np.ndarray) -> float:
        return kde_bandwidth(conf, self.bandwidth)

    def solve(self, data: ReplayDataset, forced: np.ndarray | None = None) -> np.ndarray:
        """Belief update for every observation value: returns ``E[q_large - q_small | o]``.

        Sets :attr:`observations_` (the table's observation values) and
        :attr:`bandwidth_`. Rows in ``forced`` are left out (they escalate anyway).
        """
        _require_two_tiers(data.n_tiers, "POMDP")
        keep = np.ones(data.n_rows, bool) if forced is None else ~forced
        if not keep.any():
            keep = np.ones(data.n_rows, bool)
        # k-sample shares off the 1/k grid (some samples invalid) are read on it
        conf = snap_to_share_grid(data.confidences[keep, 0])
        scores = data.scores[keep]
        values, obs_idx = observation_table(conf, self.max_observations)
        h = self._bandwidth(conf)
        # states: joint discretised quality
        qb = np.minimum((scores * self.quality_bins).astype(np.intp), self.quality_bins - 1)
        joint = qb[:, 0] * self.quality_bins + qb[:, 1]
        states, state_idx = np.unique(joint, return_inverse=True)
        n_states, n_obs = states.size, values.size
        n_s = np.bincount(state_idx, minlength=n_states).astype(float)
        q_small = np.bincount(state_idx, weights=scores[:, 0], minlength=n_states) / n_s
        q_large = np.bincount(state_idx, weights=scores[:, 1], minlength=n_states) / n_s
        counts = np.zeros((n_states, n_obs))
        np.add.at(counts, (state_idx, obs_idx), 1.0)
        # observation model P(o | s): Gaussian KDE of the state's confidences
        z = (values[:, None] - values[None, :]) / h
        kernel = np.exp(-0.5 * z * z) / (h * math.sqrt(2.0 * math.pi))
        p_obs = (counts @ kernel.T) / n_s[:, None]  # (states, observations)
        prior = n_s / n_s.sum()
        joint_p = prior[:, None] * p_obs
        belief = joint_p / np.maximum(joint_p.sum(axis=0, keepdims=True), 1e-300)
        gain = belief.T @ (q_large - q_small)
        self.bandwidth_ = h
        self.observations_ = [float(v) for v in values]
        return np.asarray(gain)

    def _fit(
        self, data: ReplayDataset, costs: CostSpec, objective: Objective, forced: np.ndarray | None
    ) -> None:
        if data.n_tiers > 2:
            self._fit_tree(data, costs, objective, forced)
            return
        self.tree_model_ = self.tree_policy_ = self.tree_costs_ = None
        gain = self.solve(data, forced)
        values = np.asarray(self.observations_)
        delta = float(costs.stop_costs[1] - costs.stop_costs[0])
        if objective.kind == "lam":
            lam = float(objective.value or 0.0)
        else:
            masks, levels = _top_k_masks(gain)
            idx = nearest_index(values, data.confidences[:, 0])
            front = table_frontier(idx, values.size, data.scores, masks, costs, forced)
            k = choose_point(front, objective, data, costs)
            if k == 0:
                tau = max(float(levels[0]), 0.0)
            elif k == levels.size:
                tau = float(levels[-1]) - 1.0
            else:
                tau = (float(levels[k - 1]) + float(levels[k])) / 2.0
            lam = tau / delta
        self.gain_ = [float(g) for g in gain]
        self.lam_ = lam
        self.cost_delta_ = delta
        self._set_table(values, gain > lam * delta)

    def _frontier(
        self, data: ReplayDataset, costs: CostSpec, forced: np.ndarray | None
    ) -> Frontier:
        self._check_fitted()
        if self.tree_model_ is not None:
            return self._tree_sweep(self.tree_model_, data, costs, forced)[0]
        masks, _ = _top_k_masks(np.asarray(self.gain_))
        idx = nearest_index(self._values, data.confidences[:, 0])
        return table_frontier(idx, self._values.size, data.scores, masks, costs, forced)

    # ------------------------------------------------------- three or more tiers
    def _check_fitted(self) -> None:
        if self.escalate_ is None and self.tree_policy_ is None:
            raise RuntimeError("POMDP is not fitted: call fit() or load()")

    @staticmethod
    def _lam_grid(costs: CostSpec) -> np.ndarray:
        """Candidate ``lam`` values: from 'every call pays' to 'no call pays'."""
        steps = np.asarray(costs.unit_costs) + np.asarray((*costs.verify_costs, 0.0))
        pos = steps[steps > 0]
        if pos.size == 0:
            return np.array([0.0])
        return np.concatenate([[0.0], np.geomspace(1e-4 / pos.max(), 2.0 / pos.min(), 96)])

    def _tree_sweep(
        self,
        model: TierModel,
        data: ReplayDataset,
        costs: CostSpec,
        forced: np.ndarray | None,
        grid: np.ndarray | None = None,
    ) -> tuple[Frontier, list[TierPolicy]]:
        from langchain_automix.calibration.metrics import routing_point

        points, policies = [], []
        for policy in self._tree_policies(model, costs, grid):
            final, visited = route_tree(model, policy, data.confidences)
            if forced is not None:
                final = np.where(forced, data.n_tiers - 1, final)
                visited = np.where(forced[:, None], True, visited)
            points.append(routing_point(data.scores, final, costs, visited))
            policies.append(policy)
        front = Frontier(
            np.array([p.avg_cost for p in points]),
            np.array([p.avg_performance for p in points]),
            np.array([p.llm_call_share for p in points]),
        )
        return front, policies

    def _tree_policies(
        self, model: TierModel, costs: CostSpec, grid: np.ndarray | None = None
    ) -> list[TierPolicy]:
        """The distinct policies over the ``lam`` grid (cached per model and costs)."""
        lams = self._lam_grid(costs) if grid is None else grid
        key = (id(model), costs.unit_costs, costs.verify_costs, tuple(float(v) for v in lams))
        cache = _POLICY_CACHE
        if key not in cache or cache[key][0] is not model:
            distinct: list[TierPolicy] = []
            for policy in solve_tiers_many(
                model, costs.unit_costs, costs.verify_costs, [float(v) for v in lams]
            ):
                if not distinct or not np.array_equal(
                    policy.lookup(model)[1], distinct[-1].lookup(model)[1]
                ):
                    distinct.append(policy)
            if len(cache) >= 8:
                cache.pop(next(iter(cache)))
            cache[key] = (model, distinct)
        return list(cache[key][1])

    def _fit_tree(
        self, data: ReplayDataset, costs: CostSpec, objective: Objective, forced: np.ndarray | None
    ) -> None:
        keep = np.ones(data.n_rows, bool) if forced is None else ~forced
        if not keep.any():
            keep = np.ones(data.n_rows, bool)
        model = _tree_model(
            data.scores[keep],
            data.confidences[keep],
            self.quality_bins,
            self.bandwidth,
            self.max_observations,
        )
        if objective.kind == "lam":
            policy = solve_tiers(
                model, costs.unit_costs, costs.verify_costs, float(objective.value or 0.0)
            )
        else:
            front, policies = self._tree_sweep(model, data, costs, forced)
            policy = policies[choose_point(front, objective, data, costs)]
        self.escalate_ = None
        self.observations_ = None
        self.gain_ = None
        self.cost_delta_ = None
        self.bandwidth_ = None
        self.tree_model_ = model
        self.tree_policy_ = policy
        self.tree_costs_ = (list(costs.unit_costs), list(costs.verify_costs))
        self.lam_ = policy.lam

    def decide(self, observation: Observation) -> Target:
        """Look the observation (history) up in the solved policy."""
        if observation.n_tiers > 2 or self.tree_policy_ is not None:
            model, policy = self._tree(observation.n_tiers)
            tiers = observation.history_tiers
            confs = observation.confidences or (observation.confidence,)
            if len(confs) != len(tiers):
                raise ValueError(f"observation has {len(confs)} confidences for the tiers {tiers}")
            hist = tuple(
                (t, int(model.obs_index(t, [c])[0])) for t, c in zip(tiers, confs, strict=True)
            )
            target = policy.target(hist, model.n_tiers)
            if target == observation.tier:
                return "accept"
            return "escalate" if target == observation.tier + 1 else target
        return super().decide(observation)

    def _tree(self, n_tiers: int) -> tuple[TierModel, TierPolicy]:
        self._check_fitted()
        model, policy = self.tree_model_, self.tree_policy_
        if model is None or policy is None:
            raise ValueError(f"this POMDP was fitted on 2 tiers, not {n_tiers}")
        if model.n_tiers != n_tiers:
            raise ValueError(f"this POMDP was fitted on {model.n_tiers} tiers, not {n_tiers}")
        return model, policy

    def targets_batch(
        self,
        confidences: Any,
        *,
        tier: int = 0,
        n_tiers: int = 2,
        answers: Sequence[str | None] | None = None,
        tiers: Sequence[int] | None = None,
    ) -> np.ndarray:
        """Target tier of each query (a tier index past the next one skips)."""
        if n_tiers == 2 and self.tree_policy_ is None:
            return super().targets_batch(confidences, tier=tier, n_tiers=n_tiers)
        model, policy = self._tree(n_tiers)
        conf = np.asarray(confidences, float)
        if conf.ndim == 1:
            conf = conf.reshape(-1, 1)
        path = list(tiers) if tiers is not None else list(range(tier + 1))
        if conf.shape[1] != len(path):
            raise ValueError(f"confidences have {conf.shape[1]} columns for the tiers {path}")
        return route_table(model, policy, conf, tier=tier, tiers=path)

    def route_paths(self, data: ReplayDataset) -> Routing:
        """Where each row stops and which tiers it called (vectorised for N tiers)."""
        if data.n_tiers == 2 and self.tree_policy_ is None:
            return super().route_paths(data)
        model, policy = self._tree(data.n_tiers)
        final, visited = route_tree(model, policy, data.confidences)
        return Routing(final=final, visited=visited)

    def decide_batch(
        self,
        confidences: Any,
        *,
        tier: int = 0,
        n_tiers: int = 2,
        answers: Sequence[str | None] | None = None,
    ) -> np.ndarray:
        """Vectorised :meth:`decide`: ``True`` where the query leaves this tier."""
        if n_tiers == 2 and self.tree_policy_ is None:
            return super().decide_batch(confidences, tier=tier, n_tiers=n_tiers)
        return np.asarray(self.targets_batch(confidences, tier=tier, n_tiers=n_tiers) != tier)

    def with_lam(self, lam: float) -> POMDP:
        """A copy of this fitted policy re-solved for another ``lam`` (same beliefs)."""
        self._check_fitted()
        if self.tree_model_ is not None and self.tree_costs_ is not None:
            out = POMDP.from_params(self.get_params())
            out.tree_policy_ = solve_tiers(
                self.tree_model_, self.tree_costs_[0], self.tree_costs_[1], float(lam)
            )
            out.lam_ = float(lam)
            out.provenance = self.provenance
            return out
        out = POMDP.from_params(self.get_params())
        delta = float(out.cost_delta_ or 0.0)
        out.lam_ = float(lam)
        out.provenance = self.provenance
        out._set_table(self.observations_ or [], list(np.asarray(self.gain_) > lam * delta))
        return out

    # ------------------------------------------------------------ serialisation
    def get_params(self) -> dict[str, Any]:
        """Settings and the solved table (observations, expected gains, actions, lam)."""
        return {
            "bandwidth": self.bandwidth,
            "quality_bins": self.quality_bins,
            "max_observations": self.max_observations,
            "tree": None
            if self.tree_model_ is None or self.tree_policy_ is None
            else {
                "lam": self.tree_policy_.lam,
                "unit_costs": None if self.tree_costs_ is None else self.tree_costs_[0],
                "verify_costs": None if self.tree_costs_ is None else self.tree_costs_[1],
                "model": self.tree_model_.to_dict(),
                "policy": self.tree_policy_.to_list(),
            },
            "fitted": None
            if self.escalate_ is None
            else {
                "lam": self.lam_,
                "cost_delta": self.cost_delta_,
                "bandwidth": self.bandwidth_,
                "observations": self.observations_,
                "expected_gain": self.gain_,
                "escalate": self.escalate_,
            },
        }

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> POMDP:
        """Rebuild, including the solved table (values of the wrong JSON type are refused)."""
        spec = {
            "bandwidth": _bandwidth_param,
            "quality_bins": as_int,
            "max_observations": as_int,
            "fitted": optional(as_mapping),
            "tree": optional(as_mapping),
        }
        p = checked(params, spec)
        fitted = p.pop("fitted", None)
        tree = p.pop("tree", None)
        out = cls(**p)
        if tree is not None:
            tree = dict(tree)
            out.tree_model_ = TierModel.from_dict(
                dict(as_mapping(require(tree, "model", "tree."), "tree.model"))
            )
            lam = as_float(require(tree, "lam", "tree."), "tree.lam")
            entries = require(tree, "policy", "tree.")
            if not isinstance(entries, list):
                raise ValueError("tree.policy must be a list")
            out.tree_policy_ = TierPolicy.from_list(lam, entries)
            if tree.get("unit_costs") is not None and tree.get("verify_costs") is not None:
                out.tree_costs_ = (
                    as_float_list(tree["unit_costs"], "tree.unit_costs"),
                    as_float_list(tree["verify_costs"], "tree.verify_costs"),
                )
            out.lam_ = lam
        if fitted is not None:
            fitted = checked(
                fitted,
                {
                    "lam": as_float,
                    "cost_delta": as_float,
                    "bandwidth": optional(as_float),
                    "observations": as_float_list,
                    "expected_gain": as_float_list,
                    "escalate": as_bool_list,
                },
                "fitted.",
            )
            obs, gain, esc = (
                require(fitted, key, "fitted.")
                for key in ("observations", "expected_gain", "escalate")
            )
            require(fitted, "lam", "fitted.")
            require(fitted, "cost_delta", "fitted.")
            if not (len(obs) == len(gain) == len(esc)) or not obs:
                raise ValueError("observations, expected_gain and escalate must match in length")
            if any(b <= a for a, b in pairwise(obs)):
                raise ValueError("observations must be strictly increasing")
            out.lam_ = float(fitted["lam"])
            out.cost_delta_ = float(fitted["cost_delta"])
            h = fitted.get("bandwidth")
            if h is not None and not float(h) > 0:
                raise ValueError(f"fitted.bandwidth must be positive, got {h!r}")
            out.bandwidth_ = None if h is None else float(h)
            out.gain_ = [float(g) for g in gain]
            out._set_table(obs, esc)
        return out

    def describe(self) -> str:
        """E.g. ``pomdp(lam=0.002)``."""
        return self.name if self.lam_ is None else f"{self.name}(lam={self.lam_:.4g})"

    def __repr__(self) -> str:
        return (
            f"POMDP(bandwidth={self.bandwidth!r}, quality_bins={self.quality_bins!r}, "
            f"max_observations={self.max_observations!r})"
        )
