"""Policy provenance: what a fitted policy was fitted for, and a check where it is used.

:meth:`MetaVerifier.fit <langchain_automix.meta_verifiers.MetaVerifier.fit>` records a
:class:`Provenance` (the tier costs and verification costs, the tier models and the
verifier's ``k`` of the training rows, the routing signal, the objective, a SHA-256
of the rows, the package version and the time) and policy files keep it. A policy is
only as good as the match between that and where it runs: a threshold fitted on
``k = 8`` samples means something else on ``k = 2``, and an operating point chosen at
costs 1/50 is not the one to use at 1/5. :func:`check_provenance` (which
``AutoMixRunnable`` calls with its models, costs and ``k``) names every difference in
a :class:`PolicyMismatchWarning`, or raises :class:`PolicyMismatchError` when strict.

The fit also records the training distribution of the signals the policy reads
(:attr:`Provenance.signal_reference`, a
:class:`~langchain_automix.calibration.drift.SignalReference`): a
:class:`~langchain_automix.calibration.drift.DriftMonitor` compares live traffic with it.

Example:
    >>> from langchain_automix.meta_verifiers import Threshold
    >>> from langchain_automix.calibration.synthetic import synthetic_replay
    >>> policy = Threshold().fit(synthetic_replay(100, seed=0), costs=(1, 50))
    >>> policy.provenance.costs, policy.provenance.n_rows
    ((1.0, 50.0), 100)
    >>> check_provenance(policy, costs=(1, 20), strict=True)
    Traceback (most recent call last):
    ...
    langchain_automix.meta_verifiers.provenance.PolicyMismatchError: policy threshold(...) \
is used with other settings than it was fitted for: unit costs: fitted with (1, 50), got (1, 20)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np

from langchain_automix._checks import (
    as_float_list,
    as_int,
    as_mapping,
    as_str,
    as_str_list,
    only_keys,
    require,
)
from langchain_automix.calibration.drift import SignalReference
from langchain_automix.errors import PolicyError
from langchain_automix.signals import COMBINED, FREE, FREE_SIGNALS

if TYPE_CHECKING:
    from langchain_automix.calibration.metrics import CostSpec
    from langchain_automix.calibration.replay import ReplayDataset
    from langchain_automix.meta_verifiers._fitting import Objective
    from langchain_automix.meta_verifiers.base import MetaVerifier

__all__ = [
    "PolicyMismatchError",
    "PolicyMismatchWarning",
    "Provenance",
    "check_provenance",
    "constant_signal_warning",
    "reference_signals",
    "replay_k",
    "replay_prompt_version",
]


class PolicyMismatchWarning(UserWarning):
    """A policy is used with other models, costs or ``k`` than it was fitted for."""


class PolicyMismatchError(PolicyError):
    """Like :class:`PolicyMismatchWarning`, raised instead when the check is strict."""


_FIELDS = (
    "costs",
    "verify_costs",
    "models",
    "k",
    "prompt_version",
    "signal",
    "objective",
    "data_sha256",
    "n_rows",
    "package_version",
    "fitted_at",
    "warnings",
    "signal_reference",
    "labels",
)

REFERENCE_MAX_VALUES = 200
"""Values kept per signal and tier in a policy's :attr:`Provenance.signal_reference`."""


def reference_signals(signal: str, names: Sequence[str]) -> list[str]:
    """The raw signals behind a policy's routing signal label, among ``names``.

    ``combined`` reads every signal of the training rows, ``free`` their free ones, a
    tuple of signals is labelled ``a+b``.

    Example:
        >>> names = ["verifier", "answer_min_prob", "answer_yes_no"]
        >>> reference_signals("free", names), reference_signals("verifier", names)
        (['answer_min_prob', 'answer_yes_no'], ['verifier'])
    """
    if signal == COMBINED:
        wanted = list(names)
    elif signal == FREE:
        wanted = [n for n in names if n in FREE_SIGNALS]
    else:
        wanted = signal.split("+")
    return [n for n in wanted if n in names]


def replay_k(data: ReplayDataset) -> int | None:
    """The verifier's ``k`` recorded in the rows (``automix collect`` writes ``"k"``).

    ``None`` when the rows do not say or disagree.

    Example:
        >>> from langchain_automix.calibration.replay import ReplayDataset
        >>> tiers = [{"score": 1, "verifier_confidence": 0.5}, {"score": 1}]
        >>> replay_k(ReplayDataset.from_records([{"id": 1, "k": 8, "tiers": tiers}]))
        8
    """
    ks = {r.get("k") for r in data.records}
    if len(ks) != 1:
        return None
    k = ks.pop()
    return k if isinstance(k, int) and not isinstance(k, bool) and k >= 1 else None


def replay_prompt_version(data: ReplayDataset) -> str | None:
    """The prompt version the rows were verified under (``automix collect`` writes it).

    It hashes the solve and verify prompts, the verifier grammar and the chat/completion
    mode (:func:`~langchain_automix.prompts.prompt_version`). ``None`` when the rows do
    not say or disagree.

    Example:
        >>> from langchain_automix.calibration.replay import ReplayDataset
        >>> tiers = [{"score": 1, "verifier_confidence": 0.5}, {"score": 1}]
        >>> row = {"id": 1, "prompt_version": "890721b40629", "tiers": tiers}
        >>> replay_prompt_version(ReplayDataset.from_records([row]))
        '890721b40629'
    """
    versions = {r.get("prompt_version") for r in data.records}
    if len(versions) != 1:
        return None
    version = versions.pop()
    return version if isinstance(version, str) and version else None


def _fmt(values: Sequence[Any]) -> str:
    return "(" + ", ".join(f"{v:g}" if isinstance(v, float) else repr(v) for v in values) + ")"


def _differ(a: Sequence[float], b: Sequence[float]) -> bool:
    if len(a) != len(b):
        return True
    return any(not math.isclose(x, y, rel_tol=1e-9) for x, y in zip(a, b, strict=True))


@dataclass(frozen=True)
class Provenance:
    """Where a fitted policy came from (recorded by ``fit``, kept in policy files).

    Example:
        >>> p = Provenance(costs=(1.0, 50.0), verify_costs=(1.0,), models=("a", "b"), k=8)
        >>> p.mismatches(models=("a", "c"), k=4)
        ["tier 1 model: fitted for 'b', got 'c'", 'verifier samples k: fitted with 8, got 4']
        >>> Provenance.from_dict(p.to_dict()) == p
        True
    """

    costs: tuple[float, ...]
    """Unit cost of each tier the policy was fitted with."""
    verify_costs: tuple[float, ...]
    """Verification cost of each non-final tier the policy was fitted with."""
    models: tuple[str | None, ...] = ()
    """Model of each tier in the training rows (``None`` where the rows do not say)."""
    k: int | None = None
    """Verifier samples per answer in the training rows (``None``: not recorded)."""
    prompt_version: str | None = None
    """Prompt version the training rows were verified under (solve and verify prompts,
    grammar, chat/completion mode; :func:`~langchain_automix.prompts.prompt_version`);
    ``None``: not recorded."""
    signal: str = "verifier"
    """Routing signal the policy reads (``Calibrated``'s signal; else ``verifier``)."""
    objective: str = "max_delta_ibc"
    """Fitting objective, e.g. ``max_delta_ibc``, ``target_share=0.3``, ``lam=0.01``."""
    data_sha256: str = ""
    """SHA-256 of the training rows (:meth:`ReplayDataset.fingerprint`)."""
    n_rows: int = 0
    """Number of training rows."""
    package_version: str = ""
    """Version of langchain-automix that fitted the policy."""
    fitted_at: str = ""
    """When (ISO 8601, UTC)."""
    warnings: tuple[str, ...] = ()
    """What the fit warned about (e.g. a routing signal with a single value)."""
    labels: str = "gold"
    """What the training rows' scores measure: ``gold`` (against gold answers),
    ``agreement`` (against the final tier's answer, no gold needed) or ``mixed``."""
    signal_reference: SignalReference | None = field(default=None, repr=False)
    """Training distribution of the signals the policy reads, per tier, on the rows
    that reach each tier (``None``: not recorded, e.g. a file written before it was)."""

    @classmethod
    def from_fit(
        cls,
        data: ReplayDataset,
        costs: CostSpec,
        *,
        signal: str = "verifier",
        objective: Objective | None = None,
        warnings: Sequence[str] = (),
        visited: Any = None,
    ) -> Provenance:
        """The provenance of a fit on ``data`` with ``costs`` (stamped with the time now).

        ``visited`` (``(n, tiers)``, the tiers each row calls under the fitted policy)
        restricts each tier's :attr:`signal_reference` to the rows that reach it, as
        live traffic does; default every row.
        """
        from langchain_automix._version import __version__

        goal = "max_delta_ibc"
        if objective is not None and objective.kind != "max_delta_ibc":
            goal = f"{objective.kind}={objective.value:g}"
        reference = SignalReference.from_replay(
            data,
            reference_signals(signal, data.signal_names),
            visited=visited,
            max_values=REFERENCE_MAX_VALUES,
        )
        return cls(
            costs=tuple(float(c) for c in costs.unit_costs),
            verify_costs=tuple(float(c) for c in costs.verify_costs),
            models=tuple(data.models) if data.models else (None,) * data.n_tiers,
            k=replay_k(data),
            prompt_version=replay_prompt_version(data),
            signal=signal,
            objective=goal,
            data_sha256=data.fingerprint(),
            n_rows=data.n_rows,
            package_version=__version__,
            fitted_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            warnings=tuple(warnings),
            labels=data.label_kind,
            signal_reference=reference if reference.samples else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (what policy files hold under ``"provenance"``)."""
        out = {
            "costs": list(self.costs),
            "verify_costs": list(self.verify_costs),
            "models": list(self.models),
            "k": self.k,
            "prompt_version": self.prompt_version,
            "signal": self.signal,
            "objective": self.objective,
            "data_sha256": self.data_sha256,
            "n_rows": self.n_rows,
            "package_version": self.package_version,
            "fitted_at": self.fitted_at,
            "warnings": list(self.warnings),
        }
        if self.labels != "gold":  # files of gold-label fits stay as they were
            out["labels"] = self.labels
        if self.signal_reference is not None:
            out["signal_reference"] = self.signal_reference.to_dict()
        return out

    @classmethod
    def from_dict(cls, payload: Any) -> Provenance:
        """Rebuild from :meth:`to_dict` output, checking every field's type.

        Raises:
            ValueError: naming the field that is missing or of the wrong type.
        """
        d = as_mapping(payload, "provenance")
        only_keys(d, _FIELDS, "provenance.")
        models = require(d, "models", "provenance.")
        if not isinstance(models, list):
            raise ValueError(f"provenance.models must be a list, got {type(models).__name__}")
        k = d.get("k")
        n_rows = as_int(require(d, "n_rows", "provenance."), "provenance.n_rows")
        if n_rows < 0:
            raise ValueError(f"provenance.n_rows must be >= 0, got {n_rows}")
        return cls(
            costs=tuple(as_float_list(require(d, "costs", "provenance."), "provenance.costs")),
            verify_costs=tuple(
                as_float_list(require(d, "verify_costs", "provenance."), "provenance.verify_costs")
            ),
            models=tuple(
                None if m is None else as_str(m, f"provenance.models[{i}]")
                for i, m in enumerate(models)
            ),
            k=None if k is None else as_int(k, "provenance.k"),
            prompt_version=None
            if d.get("prompt_version") is None
            else as_str(d["prompt_version"], "provenance.prompt_version"),
            signal=as_str(d.get("signal", "verifier"), "provenance.signal"),
            objective=as_str(d.get("objective", "max_delta_ibc"), "provenance.objective"),
            data_sha256=as_str(d.get("data_sha256", ""), "provenance.data_sha256"),
            n_rows=n_rows,
            package_version=as_str(d.get("package_version", ""), "provenance.package_version"),
            fitted_at=as_str(d.get("fitted_at", ""), "provenance.fitted_at"),
            warnings=tuple(as_str_list(d.get("warnings", []), "provenance.warnings")),
            labels=as_str(d.get("labels", "gold"), "provenance.labels"),
            signal_reference=None
            if d.get("signal_reference") is None
            else SignalReference.from_dict(d["signal_reference"], "provenance.signal_reference"),
        )

    def mismatches(
        self,
        *,
        models: Sequence[str | None] | None = None,
        costs: Sequence[float] | None = None,
        verify_costs: Sequence[float] | None = None,
        k: int | None = None,
        prompt_version: str | None = None,
        verification: str | None = None,
    ) -> list[str]:
        """Every difference between this provenance and the given settings.

        ``verification`` (``sampling`` or ``logprob``) is compared with the verifier
        signal the policy was fitted on (``verifier``: sampled; ``logprob_verifier``).

        Settings passed as ``None`` (and model names unknown on either side) are not
        compared; ``verify_costs`` may list one entry per tier (the last is ignored).
        """
        out: list[str] = []
        if models is not None and self.models:
            if len(models) != len(self.models):
                out.append(f"number of tiers: fitted for {len(self.models)}, got {len(models)}")
            else:
                for t, (want, got) in enumerate(zip(self.models, models, strict=True)):
                    if want is not None and got is not None and want != got:
                        out.append(f"tier {t} model: fitted for {want!r}, got {got!r}")
        if costs is not None:
            got_costs = tuple(float(c) for c in costs)
            if _differ(self.costs, got_costs):
                out.append(f"unit costs: fitted with {_fmt(self.costs)}, got {_fmt(got_costs)}")
        if verify_costs is not None:
            got_verify = tuple(float(c) for c in verify_costs)[: len(self.verify_costs)]
            if _differ(self.verify_costs, got_verify):
                out.append(
                    f"verification costs: fitted with {_fmt(self.verify_costs)}, "
                    f"got {_fmt(got_verify)}"
                )
        if k is not None and self.k is not None and k != self.k:
            out.append(f"verifier samples k: fitted with {self.k}, got {k}")
        if (
            prompt_version is not None
            and self.prompt_version is not None
            and prompt_version != self.prompt_version
        ):
            out.append(
                f"prompt version: fitted on rows verified under {self.prompt_version}, got "
                f"{prompt_version} (the solve or verify prompt, the verifier grammar or the "
                "chat/completion mode differ: the confidences are another measurement)"
            )
        fitted_on = {"verifier": "sampling", "logprob_verifier": "logprob"}.get(self.signal)
        if verification is not None and fitted_on is not None and verification != fitted_on:
            out.append(
                f"verification method: fitted on {fitted_on} confidences (signal "
                f"{self.signal!r}), got {verification} verification"
            )
        return out

    def format(self) -> str:
        """A few human-readable lines (``automix evaluate`` prints them).

        Example:
            >>> print(Provenance(costs=(1.0, 50.0), verify_costs=(1.0,), n_rows=3).format())
            fitted on 3 rows (sha256 -) with costs (1, 50), verification (1), signal verifier,
              objective max_delta_ibc, k ?, prompt version ?, models ?; langchain-automix ?, at ?
        """
        models = ", ".join("?" if m is None else m for m in self.models) or "?"
        lines = [
            f"fitted on {self.n_rows} rows (sha256 {self.data_sha256[:12] or '-'}) with costs "
            f"{_fmt(self.costs)}, verification {_fmt(self.verify_costs)}, "
            f"signal {self.signal},",
            f"  objective {self.objective}, k {'?' if self.k is None else self.k}, "
            f"prompt version {self.prompt_version or '?'}, "
            f"models {models}; langchain-automix {self.package_version or '?'}, "
            f"at {self.fitted_at or '?'}",
        ]
        if self.labels != "gold":
            lines.append(
                f"  labels: {self.labels} (tier scores without gold answers: each tier "
                "against the final tier's answer)"
            )
        lines.extend(f"  fit warning: {w}" for w in self.warnings)
        return "\n".join(lines)


def constant_signal_warning(values: Any, signal: str) -> str | None:
    """A warning when the routing signal takes one value on every training row.

    Nothing separates the rows then: any policy on it escalates all queries or none.

    Example:
        >>> constant_signal_warning([[0.5], [0.5]], "verifier") is not None
        True
        >>> constant_signal_warning([[0.5], [0.25]], "verifier") is None
        True
    """
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.shape[0] < 2:
        return None
    for t in range(arr.shape[1]):
        col = arr[:, t]
        finite = col[np.isfinite(col)]
        if finite.size == col.size and np.all(finite == finite[0]):
            where = "" if arr.shape[1] == 1 else f" at tier {t}"
            return (
                f"the routing signal {signal!r}{where} takes one value ({finite[0]:g}) on all "
                f"{col.size} training rows: nothing separates them, so the policy escalates "
                "every query or none"
            )
    return None


def check_provenance(
    policy: MetaVerifier,
    *,
    models: Sequence[str | None] | None = None,
    costs: Sequence[float] | None = None,
    verify_costs: Sequence[float] | None = None,
    k: int | None = None,
    prompt_version: str | None = None,
    verification: str | None = None,
    strict: bool = False,
) -> list[str]:
    """Compare a policy's provenance with where it is used; warn or raise on differences.

    Verification costs, ``k``, the prompt version and the verification method are
    compared only for a policy that reads the verifier
    (:meth:`MetaVerifier.reads_verifier`). A policy without provenance (fitted by hand,
    or a file written before provenance was recorded) is not checked.

    Args:
        policy: the meta-verifier.
        models: model name of each tier.
        costs: unit cost of each tier.
        verify_costs: verification cost of each non-final tier.
        k: verifier samples per answer.
        prompt_version: the prompt version of the verification in use
            (:func:`~langchain_automix.prompts.prompt_version`).
        verification: ``sampling`` or ``logprob``, the verification in use.
        strict: raise :class:`PolicyMismatchError` instead of warning.

    Returns:
        The differences (empty when none, or when the policy has no provenance).

    Example:
        >>> from langchain_automix.meta_verifiers import Threshold
        >>> check_provenance(Threshold(0.5), costs=(1, 20), strict=True)
        []
    """
    prov = policy.provenance
    if prov is None:
        return []
    reads = policy.reads_verifier()
    diffs = prov.mismatches(
        models=models,
        costs=costs,
        verify_costs=verify_costs if reads else None,
        k=k if reads else None,
        prompt_version=prompt_version if reads else None,
        verification=verification if reads else None,
    )
    if diffs:
        message = (
            f"policy {policy.describe()} is used with other settings than it was fitted "
            f"for: {'; '.join(diffs)}"
        )
        if strict:
            raise PolicyMismatchError(message)
        warnings.warn(message, PolicyMismatchWarning, stacklevel=2)
    return diffs
