"""The meta-verifier interface: noisy verifier observations in, accept or escalate out."""

from __future__ import annotations

import json
import math
import sys
import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

import numpy as np

from langchain_automix.errors import PolicyError

if TYPE_CHECKING:
    from langchain_automix.calibration.metrics import CostSpec
    from langchain_automix.calibration.replay import ReplayDataset
    from langchain_automix.meta_verifiers._fitting import Frontier, Objective
    from langchain_automix.meta_verifiers.provenance import Provenance

__all__ = [
    "META_VERIFIERS",
    "POLICY_FORMAT",
    "POLICY_VERSION",
    "Decision",
    "MetaVerifier",
    "Routing",
    "Target",
    "Observation",
    "PolicyError",
    "meta_verifier_class",
    "register_meta_verifier",
]

Decision = Literal["accept", "escalate"]
"""What a meta-verifier decides for one answer."""

Target = Decision | int
"""What :meth:`MetaVerifier.decide` may return: ``"accept"``, ``"escalate"`` (to the
next tier), or the index of a higher tier to go to directly (skipping those between)."""

POLICY_FORMAT = "langchain-automix/policy"
"""Value of the ``format`` field of policy files."""
POLICY_VERSION = 1
"""Version of the policy file layout written by :meth:`MetaVerifier.save`."""

_M = TypeVar("_M", bound="MetaVerifier")


@dataclass(frozen=True, slots=True)
class Observation:
    """What a meta-verifier sees about one tier's answer to one query.

    Example:
        >>> obs = Observation(tier=0, n_tiers=2, confidence=0.75, n_valid=8, n_samples=8)
        >>> obs.is_final
        False
    """

    tier: int
    """Index of the tier whose answer is judged (0 = cheapest)."""
    n_tiers: int
    """Number of tiers in the cascade."""
    confidence: float
    """Share of valid verifier samples that said "Correct" (0.0 when none was valid)."""
    n_valid: int
    """How many verifier samples were valid (contained the decision phrase)."""
    n_samples: int
    """How many verifier samples were drawn."""
    answer: str | None = None
    """The answer being judged, for answer-aware policies such as ``FixedAnswerRouting``."""
    confidences: tuple[float, ...] = ()
    """Confidences of every tier verified so far for this query, this tier's last."""
    signals: tuple[Mapping[str, float], ...] = field(default=())
    """Routing signals of every tier verified so far, this tier's last (see
    :mod:`langchain_automix.signals`); empty when not recorded."""
    tiers: tuple[int, ...] = ()
    """Tier index of each entry of :attr:`confidences` (empty: tiers ``0..tier`` in
    order, i.e. no tier was skipped)."""

    @property
    def history_tiers(self) -> tuple[int, ...]:
        """The tiers whose confidences :attr:`confidences` holds, in order."""
        if self.tiers:
            return self.tiers
        n = len(self.confidences)
        return tuple(range(self.tier - n + 1, self.tier + 1)) if n else (self.tier,)

    @property
    def current_signals(self) -> Mapping[str, float]:
        """This tier's routing signals (``{}`` when none were recorded)."""
        return self.signals[-1] if self.signals else {}

    @property
    def is_final(self) -> bool:
        """Whether this is the last tier (whose answer is always kept)."""
        return self.tier >= self.n_tiers - 1


class MetaVerifier(ABC):
    """Decides from a noisy self-verification whether to keep an answer or escalate.

    Subclasses implement :meth:`decide`; the fitted policies in this package also
    vectorise over whole replay datasets (:meth:`decide_batch`, :meth:`route`), fit on
    replay data (:meth:`fit`) and round-trip through versioned JSON policy files
    (:meth:`save`, :meth:`load`). ``name`` is the key in the registry.
    """

    name: ClassVar[str] = "meta_verifier"
    provenance: Provenance | None = None
    """What the policy was fitted for (set by :meth:`fit`, kept in policy files); ``None``
    for a policy built by hand or loaded from a file written without it."""

    @abstractmethod
    def decide(self, observation: Observation) -> Target:
        """Return ``"accept"`` to keep the answer or ``"escalate"`` to ask the next tier.

        A policy over three or more tiers may also return the index of a higher tier to
        call directly (e.g. ``2`` from tier 0: skip the medium model).
        """

    async def adecide(self, observation: Observation) -> Target:
        """Async twin of :meth:`decide` (decisions are CPU-only, so it just calls it)."""
        return self.decide(observation)

    def target_tier(self, observation: Observation) -> int:
        """The tier :meth:`decide` sends this query to (its own tier when it accepts).

        Raises:
            ValueError: naming the policy, for anything but ``"accept"``,
                ``"escalate"`` or a higher tier that exists.
        """
        decision = self.decide(observation)
        return _checked_target(self, decision, observation.tier, observation.n_tiers)

    def describe(self) -> str:
        """A short human-readable description used in traces."""
        return self.name

    def reads_verifier(self) -> bool:
        """Whether :meth:`decide` needs the answer verified first.

        True for every method that reads ``observation.confidence`` (the paper's). A
        policy that answers False (e.g. ``Calibrated`` on free answer signals, or one
        fallen back to a fixed choice) lets the graph skip the verification call, and
        offline evaluation charges it no verification cost.
        """
        return True

    def start_tier(self, n_tiers: int) -> int:
        """The tier a query is first sent to, before any answer is seen.

        0 (the first, cheapest tier) for every policy that reads what that tier answers.
        A policy fixed to always escalate (``Calibrated`` fallen back to
        ``"escalate"``) starts at the last tier: the first tier's answer would be
        thrown away, so calling it would only add cost and latency.
        """
        return 0

    def _signal_label(self) -> str:
        """Name of the routing signal :meth:`decide` reads (for provenance)."""
        return "verifier"

    def _routing_values(self, data: ReplayDataset) -> np.ndarray:
        """The values this policy routes ``data`` on, ``(n, tiers - 1)`` (after fitting)."""
        return data.confidences

    def charged(self, costs: CostSpec) -> CostSpec:
        """``costs`` as this policy incurs them: no verification cost when it reads none."""
        if self.reads_verifier():
            return costs
        return replace(costs, verify_costs=(0.0,) * len(costs.verify_costs))

    # ------------------------------------------------------------ vectorised use
    def decide_batch(
        self,
        confidences: Any,
        *,
        tier: int = 0,
        n_tiers: int = 2,
        answers: Sequence[str | None] | None = None,
    ) -> np.ndarray:
        """Escalation mask for many queries at one tier.

        Args:
            confidences: Shape ``(n,)`` (this tier's confidence) or ``(n, tier + 1)``
                (every confidence seen so far, this tier's last).
            tier: Index of the tier being judged.
            n_tiers: Number of tiers in the cascade.
            answers: This tier's answers (for answer-aware policies), or ``None``.

        Returns:
            Boolean array, ``True`` where the query escalates.

        The base implementation calls :meth:`decide` per row; fitted policies override
        it with a vectorised version giving the same decisions.
        """
        conf = _as_history(confidences)
        out = np.empty(conf.shape[0], dtype=bool)
        for i in range(conf.shape[0]):
            obs = Observation(
                tier=tier,
                n_tiers=n_tiers,
                confidence=float(conf[i, -1]),
                n_valid=0,
                n_samples=0,
                answer=None if answers is None else answers[i],
                confidences=tuple(float(c) for c in conf[i]),
            )
            out[i] = self.decide(obs) == "escalate"
        return out

    def targets_batch(
        self,
        confidences: Any,
        *,
        tier: int = 0,
        n_tiers: int = 2,
        answers: Sequence[str | None] | None = None,
        tiers: Sequence[int] | None = None,
    ) -> np.ndarray:
        """Tier each query goes to from ``tier`` (``tier`` itself = accept), shape ``(n,)``.

        ``confidences`` holds the confidences of the ``tiers`` visited so far (default
        ``0..tier``). The base implementation escalates to the next tier where
        :meth:`decide_batch` says so; policies that skip tiers override it.
        """
        esc = self.decide_batch(confidences, tier=tier, n_tiers=n_tiers, answers=answers)
        return np.where(esc, tier + 1, tier).astype(np.intp)

    def _skips(self) -> bool:
        """Whether this policy may skip tiers (it overrides :meth:`targets_batch`)."""
        return type(self).targets_batch is not MetaVerifier.targets_batch

    def _route_in_order(self, data: ReplayDataset) -> np.ndarray:
        """Stop tier of each row for a policy that only accepts or calls the next tier."""
        n, t = data.n_rows, data.n_tiers
        final = np.full(n, t - 1, dtype=np.intp)
        active = np.arange(n)
        for tier in range(t - 1):
            if active.size == 0:
                break
            answers = None
            if data.answers:
                answers = [data.answers[i][tier] for i in active]
            esc = self.decide_batch(
                data.confidences[active, : tier + 1], tier=tier, n_tiers=t, answers=answers
            )
            final[active[~esc]] = tier
            active = active[esc]
        return final

    def route_paths(self, data: ReplayDataset) -> Routing:
        """Where each query stops and which tiers it visited (see :class:`Routing`)."""
        n, t = data.n_rows, data.n_tiers
        if not self._skips():
            final = self._route_in_order(data)
            return Routing(final=final, visited=np.arange(t)[None, :] <= final[:, None])
        current = np.zeros(n, dtype=np.intp)
        visited = np.zeros((n, t), dtype=bool)
        visited[:, 0] = True
        done = np.zeros(n, dtype=bool)
        for tier in range(t - 1):
            at = np.flatnonzero((current == tier) & ~done)
            if at.size == 0:
                continue
            paths = visited[at, : tier + 1]
            for path in np.unique(paths, axis=0):
                rows = at[(paths == path).all(axis=1)]
                seen = [int(v) for v in np.flatnonzero(path)]
                answers = None
                if data.answers:
                    answers = [data.answers[i][tier] for i in rows]
                hist = data.confidences[np.ix_(rows, seen)]
                if seen == list(range(tier + 1)):
                    target = self.targets_batch(hist, tier=tier, n_tiers=t, answers=answers)
                else:
                    target = self.targets_batch(
                        hist, tier=tier, n_tiers=t, answers=answers, tiers=seen
                    )
                target = np.asarray(target, dtype=np.intp)
                if target.shape != rows.shape or ((target < tier) | (target >= t)).any():
                    raise ValueError(
                        f"{self.describe()}: targets_batch must give one tier in "
                        f"[{tier}, {t - 1}] per query"
                    )
                stay = target == tier
                done[rows[stay]] = True
                move = rows[~stay]
                current[move] = target[~stay]
                visited[move, target[~stay]] = True
        return Routing(final=current, visited=visited)

    def route(self, data: ReplayDataset) -> np.ndarray:
        """Tier at which each query of a replay dataset stops, shape ``(n,)``."""
        return self.route_paths(data).final

    # ------------------------------------------------------------------ fitting
    def fit(
        self: _M,
        data: ReplayDataset,
        *,
        costs: Sequence[float] = (1.0, 50.0),
        verify_costs: Sequence[float] | float | None = None,
        target_llm_share: float | None = None,
        budget: float | None = None,
        lam: float | None = None,
    ) -> _M:
        """Fit the policy's parameters on replay data and return ``self``.

        Args:
            data: Training rows.
            costs: Unit cost of each tier (default the paper's 1 and 50).
            verify_costs: Verification cost of each non-final tier (default: its unit cost).
            target_llm_share: Hit this share of queries answered by the last tier
                (RouteLLM-style quantile calibration).
            budget: Best quality with an average cost per query at most this.
            lam: Maximise ``quality - lam * cost``.

        With none of the three objectives, fitting maximises ΔIBC on the training rows
        (the paper library's behaviour). Policies without parameters ignore the data.

        The fit records its :attr:`provenance` (costs, the rows' models and ``k``, the
        signal, a SHA-256 of the rows, the training distribution of the signal for
        drift alarms, ...). When the routing signal takes a single value
        on every row it warns (``UserWarning``) and notes it in ``provenance.warnings``:
        the policy can then only escalate everything or nothing.
        """
        from langchain_automix.calibration.metrics import CostSpec
        from langchain_automix.meta_verifiers._fitting import Objective
        from langchain_automix.meta_verifiers.provenance import (
            Provenance,
            constant_signal_warning,
        )

        spec = CostSpec.make(costs, verify_costs, n_tiers=data.n_tiers)
        objective = Objective.from_args(target_llm_share=target_llm_share, budget=budget, lam=lam)
        self._fit(data, spec, objective, None)
        notes = []
        constant = constant_signal_warning(self._routing_values(data), self._signal_label())
        if constant is not None:
            notes.append(constant)
            warnings.warn(f"{self.describe()}: {constant}", UserWarning, stacklevel=2)
        self.provenance = Provenance.from_fit(
            data,
            spec,
            signal=self._signal_label(),
            objective=objective,
            warnings=notes,
            visited=self.route_paths(data).visited,
        )
        return self

    def _fit(
        self,
        data: ReplayDataset,
        costs: CostSpec,
        objective: Objective,
        forced: np.ndarray | None,
    ) -> None:
        """Fit in place; ``forced`` marks rows escalated anyway (2-tier fast path)."""
        return None

    def frontier(
        self,
        data: ReplayDataset,
        *,
        costs: Sequence[float] = (1.0, 50.0),
        verify_costs: Sequence[float] | float | None = None,
    ) -> Frontier:
        """Operating points of this policy's family on ``data`` (its parameter sweep)."""
        from langchain_automix.calibration.metrics import CostSpec

        return self._frontier(data, CostSpec.make(costs, verify_costs, n_tiers=data.n_tiers), None)

    def _frontier(
        self, data: ReplayDataset, costs: CostSpec, forced: np.ndarray | None
    ) -> Frontier:
        from langchain_automix.calibration.metrics import routing_point
        from langchain_automix.meta_verifiers._fitting import Frontier

        routing = self.route_paths(data)
        final, visited = routing.final, routing.visited
        if forced is not None:
            final = np.where(forced, data.n_tiers - 1, final)
            visited = np.where(forced[:, None], True, visited)
        p = routing_point(data.scores, final, costs, visited)
        return Frontier(
            np.array([p.avg_cost]), np.array([p.avg_performance]), np.array([p.llm_call_share])
        )

    # ------------------------------------------------------------ serialisation
    def get_params(self) -> dict[str, Any]:
        """Constructor arguments and fitted state as JSON-ready values."""
        return {}

    @classmethod
    def from_params(cls: type[_M], params: dict[str, Any]) -> _M:
        """Rebuild from :meth:`get_params` output."""
        return cls(**params)

    def to_dict(self) -> dict[str, Any]:
        """Versioned policy dict (what :meth:`save` writes), with ``provenance`` if fitted."""
        out = {
            "format": POLICY_FORMAT,
            "version": POLICY_VERSION,
            "method": self.name,
            "params": self.get_params(),
        }
        if self.provenance is not None:
            out["provenance"] = self.provenance.to_dict()
        return out

    @classmethod
    def from_dict(cls: type[_M], payload: dict[str, Any]) -> _M:
        """Rebuild a policy from :meth:`to_dict` output (any registered method).

        Raises:
            PolicyError: for another format, a newer version, an unknown method, a
                method that is not ``cls`` (when called on a subclass), or a field of
                the wrong type or out of range (NaN and infinities included), naming it.
        """
        from langchain_automix.meta_verifiers.provenance import Provenance

        if not isinstance(payload, dict) or payload.get("format") != POLICY_FORMAT:
            raise PolicyError(f"not a langchain-automix policy (format must be {POLICY_FORMAT!r})")
        unknown = sorted(set(map(str, payload)) - _POLICY_KEYS)
        if unknown:
            raise PolicyError(
                f"unknown policy field(s) {unknown}; a policy has {sorted(_POLICY_KEYS)}"
            )
        version = payload.get("version")
        if (
            isinstance(version, bool)
            or not isinstance(version, int)
            or not 1 <= version <= POLICY_VERSION
        ):
            raise PolicyError(
                f"unsupported policy version {version!r} (this library reads up to "
                f"{POLICY_VERSION})"
            )
        try:
            klass = meta_verifier_class(str(payload.get("method")))
        except KeyError as exc:
            raise PolicyError(str(exc.args[0])) from None
        if cls is not MetaVerifier and not issubclass(klass, cls):
            raise PolicyError(f"policy is a {klass.__name__}, not a {cls.__name__}")
        params = payload.get("params")
        if not isinstance(params, dict):
            raise PolicyError("policy 'params' must be an object")
        bad = _non_finite(payload)
        if bad is not None:
            raise PolicyError(f"{bad[0]} must be a finite number, got {bad[1]!r}")
        provenance = None
        if payload.get("provenance") is not None:
            try:
                provenance = Provenance.from_dict(payload["provenance"])
            except ValueError as exc:
                raise PolicyError(f"bad policy provenance: {exc}") from None
        try:
            policy = klass.from_params(params)
        except KeyError as exc:
            raise PolicyError(
                f"bad {klass.__name__} policy parameters: missing field {exc.args[0]!r}"
            ) from None
        except (TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
            raise PolicyError(f"bad {klass.__name__} policy parameters: {exc}") from None
        policy.provenance = provenance
        return policy  # type: ignore[return-value]

    def save(self, path: str | Path) -> Path:
        """Write the policy as JSON (floats round-trip exactly); returns the path."""
        p = Path(path)
        p.write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n", encoding="utf-8")
        return p

    @classmethod
    def load(cls: type[_M], path: str | Path) -> _M:
        """Read a policy file written by :meth:`save` (no code is evaluated).

        Raises:
            PolicyError: naming the file and the problem (not UTF-8, invalid JSON, nested
                too deep, or anything :meth:`from_dict` refuses).
            OSError: the file cannot be read.
        """
        p = Path(path)
        try:
            payload = json.loads(p.read_text(encoding="utf-8"), object_pairs_hook=_unique_keys)
        except UnicodeDecodeError as exc:
            raise PolicyError(
                f"{p}: not a UTF-8 text file (byte {exc.start}: {exc.reason})"
            ) from None
        except json.JSONDecodeError as exc:
            raise PolicyError(f"{p}: invalid JSON ({exc.msg}, line {exc.lineno})") from None
        except RecursionError:
            raise PolicyError(f"{p}: JSON nested too deeply to be a policy") from None
        except _DuplicateKeyError as exc:
            raise PolicyError(f"{p}: {exc}") from None
        except ValueError as exc:  # e.g. an integer of more digits than Python converts
            raise PolicyError(f"{p}: unreadable JSON number ({exc})") from None
        try:
            return cls.from_dict(payload)
        except PolicyError as exc:
            raise PolicyError(f"{p}: {exc}") from None


@dataclass(frozen=True)
class Routing:
    """How a policy routed each query of a replay dataset.

    Attributes:
        final: Tier whose answer each query keeps, shape ``(n,)``.
        visited: Tiers each query called, shape ``(n, tiers)`` (a skipped tier is
            False and costs nothing).
    """

    final: np.ndarray
    visited: np.ndarray

    @property
    def skipped(self) -> np.ndarray:
        """Whether each query skipped a tier below the one it stopped at, ``(n,)``."""
        below = np.arange(self.visited.shape[1])[None, :] < self.final[:, None]
        return np.asarray((below & ~self.visited).any(axis=1))


def _checked_target(policy: MetaVerifier, decision: Any, tier: int, n_tiers: int) -> int:
    if decision == "accept":
        return tier
    if decision == "escalate":
        if tier >= n_tiers - 1:
            raise ValueError(f"meta-verifier {policy.describe()} escalated from the last tier")
        return tier + 1
    if isinstance(decision, (int, np.integer)) and not isinstance(decision, bool):
        if tier < int(decision) < n_tiers:
            return int(decision)
        if int(decision) == tier:
            return tier
    raise ValueError(
        f"meta-verifier {policy.describe()} returned {decision!r}; expected 'accept', "
        f"'escalate' or a tier index in [{tier + 1}, {n_tiers - 1}]"
    )


_POLICY_KEYS = frozenset({"format", "version", "method", "params", "provenance"})
"""The top-level fields of a policy dict (:meth:`MetaVerifier.to_dict`)."""


class _DuplicateKeyError(ValueError):
    """A JSON object names one key twice (``json`` would keep the last silently)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json`` object hook: refuse an object that names a key twice."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(f"the key {key!r} appears twice in one JSON object")
        out[key] = value
    return out


def _non_finite(payload: Any) -> tuple[str, Any] | None:
    """Path and value of the first NaN, infinite or float-overflowing number, if any.

    ``json`` reads ``NaN``, ``Infinity`` and integers of any size; no policy field may
    hold them.
    """
    stack: list[tuple[str, Any]] = [("", payload)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return path, value
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _FLOAT_MAX:
            return path, f"an integer of {value.bit_length()} bits"
        if isinstance(value, dict):
            items = [(f"{path}.{k}" if path else str(k), v) for k, v in value.items()]
            stack.extend(reversed(items))
        elif isinstance(value, (list, tuple)):
            stack.extend(reversed([(f"{path}[{i}]", v) for i, v in enumerate(value)]))
    return None


_FLOAT_MAX = sys.float_info.max


def _as_history(confidences: Any) -> np.ndarray:
    conf = np.asarray(confidences, dtype=float)
    if conf.ndim == 1:
        conf = conf.reshape(-1, 1)
    if conf.ndim != 2:
        raise ValueError(f"confidences must have shape (n,) or (n, tiers), got {conf.shape}")
    return conf


def current_confidence(confidences: Any) -> np.ndarray:
    """This tier's confidence from a ``(n,)`` or ``(n, tier + 1)`` array."""
    return np.asarray(_as_history(confidences)[:, -1])


META_VERIFIERS: dict[str, type[MetaVerifier]] = {}
"""Registered meta-verifier classes by their ``name`` (what policy files and the command
line name); each built-in policy registers itself with :func:`register_meta_verifier`."""

_M2 = TypeVar("_M2", bound=type[MetaVerifier])


def register_meta_verifier(cls: _M2) -> _M2:
    """Register a subclass under its ``name`` (usable as a class decorator).

    A registered policy can be named in a policy file (``MetaVerifier.load``), on the
    command line and as ``Calibrated("<name>")``.
    """
    META_VERIFIERS[cls.name] = cls
    return cls


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def meta_verifier_class(name: str) -> type[MetaVerifier]:
    """Class registered as ``name`` (case, ``_`` and ``-`` ignored; class names work too).

    Raises:
        KeyError: naming the registered ones, for an unknown name.

    Example:
        >>> import langchain_automix.meta_verifiers  # the built-in policies
        >>> meta_verifier_class("GreedyPOMDP").name
        'greedy_pomdp'
    """
    want = _key(name)
    for key, cls in META_VERIFIERS.items():
        if want in (_key(key), _key(cls.__name__)):
            return cls
    raise KeyError(f"unknown meta-verifier {name!r}; known: {', '.join(sorted(META_VERIFIERS))}")
