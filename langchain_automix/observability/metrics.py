"""Prometheus metrics of AutoMix queries: decisions, confidences, tokens, cost, latency.

:class:`AutoMixMetrics` owns the metric families (the standard ``prometheus-client``
library) and turns one finished query's :class:`~langchain_automix.runtime.result.AutoMixResult`
into observations. :class:`~langchain_automix.observability.observer.AutoMixObserver`
feeds it from LangChain callbacks, so the same metrics work on a served runnable and on
any chain of your own. Labels are low-cardinality only: the tier index and its model,
the call (``answer`` / ``verify``), the decision, the graph node, the refusal code.

Multiprocess serving (``automix serve --workers N``) uses ``prometheus-client``'s
multiprocess mode: set ``$PROMETHEUS_MULTIPROC_DIR`` before the workers start (``automix
serve`` does) and :func:`render_latest` merges every worker's files at scrape time.

Example:
    >>> from prometheus_client import CollectorRegistry
    >>> from langchain_automix.runtime.result import AutoMixResult, TierAttempt
    >>> metrics = AutoMixMetrics(registry=CollectorRegistry(), final_tier_cost=50.0)
    >>> result = AutoMixResult(answer="Paris", answered_by=0, answered_by_model="small",
    ...     n_tiers=2, total_cost=2.0, attempts=[TierAttempt(tier=0, model="small",
    ...     answer="Paris", verifier_confidence=0.875, decision="accept", cost=2.0)])
    >>> metrics.observe_result(result)
    >>> metrics.value("automix_queries_total", outcome="ok")
    1.0
    >>> metrics.value("automix_cost_baseline_units_total") - metrics.value(
    ...     "automix_cost_units_total", tier="0", model="small")
    48.0
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

if TYPE_CHECKING:
    from langchain_automix.runtime.result import AutoMixResult

__all__ = [
    "CONFIDENCE_BUCKETS",
    "MULTIPROC_DIR_ENV",
    "AutoMixMetrics",
    "multiprocess_enabled",
    "render_latest",
]

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""``prometheus-client``'s switch to multiprocess mode: a directory every worker writes
its metric files to (read before ``prometheus_client`` is first imported)."""

CONFIDENCE_BUCKETS = (0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0)
"""Histogram bucket bounds of verifier confidences and signals: the k = 8 share grid
(a share of 4/8 lands in ``le="0.5"``, 0/8 in ``le="0.0"``)."""

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

_OUTCOMES = ("ok", "input_error", "model_error", "error")


def multiprocess_enabled() -> bool:
    """Whether ``prometheus-client`` runs in multiprocess mode (``$PROMETHEUS_MULTIPROC_DIR``)."""
    return bool(os.environ.get(MULTIPROC_DIR_ENV) or os.environ.get("prometheus_multiproc_dir"))


def render_latest(registry: CollectorRegistry | None) -> tuple[bytes, str]:
    """The Prometheus text exposition of ``registry`` (every worker's in multiprocess mode).

    Returns:
        ``(body, content_type)`` for the ``/metrics`` response.
    """
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    if multiprocess_enabled():
        from prometheus_client import multiprocess

        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        return generate_latest(merged), CONTENT_TYPE_LATEST
    return generate_latest(registry or CollectorRegistry()), CONTENT_TYPE_LATEST


class AutoMixMetrics:
    """The Prometheus metric families of AutoMix and how a query updates them.

    Metrics (prefix ``automix_``; ``tier`` is the tier index, ``model`` its model):

    * ``queries_total{outcome}``: finished queries (``ok``, ``input_error``,
      ``model_error``, ``error``); ``escalated_total``: queries that went past tier 0;
      ``answered_total{tier,model}``: which tier's answer was kept.
    * ``decisions_total{tier,model,decision}``: per tier reached, ``accept`` /
      ``escalate`` (meta-verifier), ``skip`` (sent past the next tier), ``explore``
      (accepted, escalated anyway by exploration), ``skipped`` (never called), ``final``
      (last tier answered), ``error`` (failed, no decision).
    * ``verifier_confidence{tier,model}`` and ``signal{tier,model,signal}``: histograms
      of the routing signals each decision read (:data:`CONFIDENCE_BUCKETS`).
    * ``tokens_total{tier,model,call,kind}``: ``call`` is ``answer`` or ``verify``,
      ``kind`` ``input`` or ``output``.
    * ``cost_units_total{tier,model}`` (unit cost spent, calls plus verifications) and
      ``cost_baseline_units_total`` (what always asking the final tier would have cost):
      cost saved = baseline - sum of spent. A replayed durable run counts what this
      call spent.
    * ``call_seconds{tier,model,call}``, ``node_seconds{node}`` (graph nodes, from
      callbacks) and ``query_seconds`` (whole query): latency histograms.
    * ``tier_errors_total{tier,model,kind}``: ``answer_error``, ``answer_timeout``,
      ``verify_error`` (failed verifier samples).
    * ``refusals_total{code}``: requests a server refused before any model call
      (``rate_limit_exceeded``, ``over_budget``, ``batch_too_large``...).
    * ``drift_statistic{signal}``, ``drift_threshold{signal}``, ``drift_alarm{signal}``:
      the drift monitor's verdict per routing signal (``tier0/verifier``...), gauges
      (with several workers, the worst worker's).

    Args:
        registry: where the families are registered; None in multiprocess mode (values
            go to ``$PROMETHEUS_MULTIPROC_DIR``) and otherwise a fresh registry each.
        final_tier_cost: unit cost of one final-tier answer call, the always-final-tier
            baseline of ``cost_baseline_units_total`` (0: no baseline counted).
        namespace: metric name prefix.
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        final_tier_cost: float = 0.0,
        namespace: str = "automix",
    ) -> None:
        if registry is None and not multiprocess_enabled():
            registry = CollectorRegistry()
        self.registry = registry
        self.final_tier_cost = float(final_tier_cost)
        self.namespace = namespace
        tier = ("tier", "model")

        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(name, doc, labels, namespace=namespace, registry=registry)

        def histogram(name: str, doc: str, labels: tuple[str, ...], buckets: Any) -> Histogram:
            return Histogram(
                name, doc, labels, namespace=namespace, registry=registry, buckets=buckets
            )

        self.queries = counter("queries", "AutoMix queries finished, by outcome", ("outcome",))
        self.escalated = counter("escalated", "queries that went past the first tier")
        self.answered = counter("answered", "queries answered by each tier", tier)
        self.decisions = counter(
            "decisions", "routing decisions per tier reached", (*tier, "decision")
        )
        self.confidence = histogram(
            "verifier_confidence", "verifier confidence each decision read", tier,
            CONFIDENCE_BUCKETS,
        )  # fmt: skip
        self.signals = histogram(
            "signal", "free routing signals each decision read", (*tier, "signal"),
            CONFIDENCE_BUCKETS,
        )  # fmt: skip
        self.tokens = counter("tokens", "tokens per tier and call", (*tier, "call", "kind"))
        self.cost = counter("cost_units", "unit cost spent per tier (calls + verifications)", tier)
        self.baseline = counter(
            "cost_baseline_units", "unit cost of always asking the final tier instead"
        )
        self.call_seconds = histogram(
            "call_seconds", "wall time of each tier's answer and verify calls",
            (*tier, "call"), _LATENCY_BUCKETS,
        )  # fmt: skip
        self.node_seconds = histogram(
            "node_seconds", "wall time of each graph node run", ("node",), _LATENCY_BUCKETS
        )
        self.query_seconds = histogram(
            "query_seconds", "wall time of each query", (), _LATENCY_BUCKETS
        )
        self.errors = counter("tier_errors", "failed calls per tier", (*tier, "kind"))
        self.refusals = counter(
            "refusals", "requests refused before any model call, by code", ("code",)
        )

        def gauge(name: str, doc: str) -> Gauge:
            # several workers: the worst one's (each judges its own window)
            return Gauge(
                name, doc, ("signal",), namespace=namespace, registry=registry,
                multiprocess_mode="max",
            )  # fmt: skip

        self.drift_statistic = gauge("drift_statistic", "drift statistic of each routing signal")
        self.drift_threshold = gauge("drift_threshold", "threshold of the drift statistic")
        self.drift_alarm = gauge("drift_alarm", "1 while a routing signal has drifted")
        # labelled children, looked up once: ``labels()`` validates and locks on each call
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        # All label values of the outcome counter exist from the start, so rates are 0
        # rather than absent before the first failure.
        for outcome in _OUTCOMES:
            self.queries.labels(outcome)

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe_result(self, result: AutoMixResult, *, seconds: float | None = None) -> None:
        """Count one finished query (``ok``) and everything its trace records."""
        self._child(self.queries, "ok").inc()
        self._observe_attempts(result)
        if seconds is not None:
            self.query_seconds.observe(seconds)

    def observe_failure(
        self, outcome: str, partial: AutoMixResult | None = None, *, seconds: float | None = None
    ) -> None:
        """Count one failed query (``input_error``, ``model_error`` or ``error``).

        ``partial`` (a model error's partial result) adds what was spent before.
        """
        self._child(self.queries, outcome if outcome in _OUTCOMES else "error").inc()
        if partial is not None:
            self._observe_attempts(partial, finished=False)
        if seconds is not None:
            self.query_seconds.observe(seconds)

    def observe_node(self, node: str, seconds: float) -> None:
        """Record one graph node run's wall time."""
        self._child(self.node_seconds, node).observe(seconds)

    def observe_refusal(self, code: str) -> None:
        """Count one request refused before any model call."""
        self._child(self.refusals, code or "unknown").inc()

    def observe_drift(self, status: Mapping[str, Any]) -> None:
        """Export a drift monitor's verdicts (its ``status()``) as the drift gauges."""
        for key, verdict in (status.get("signals") or {}).items():
            if verdict.get("statistic") is None:
                continue
            self._child(self.drift_statistic, key).set(verdict["statistic"])
            self._child(self.drift_threshold, key).set(verdict["threshold"])
            self._child(self.drift_alarm, key).set(1.0 if verdict.get("drifted") else 0.0)

    def _count_tokens(
        self, labels: tuple[str, str], call: str, usage: Mapping[str, int] | None
    ) -> None:
        if not usage:
            return
        for kind in ("input", "output"):
            n = usage.get(f"{kind}_tokens")
            if n:
                self._child(self.tokens, *labels, call, kind).inc(n)

    def value(self, name: str, **labels: str) -> float:
        """A sample's current value in this process's registry (tests, doctests).

        Raises:
            KeyError: when no such sample exists.
        """
        if self.registry is None:
            raise KeyError("multiprocess mode: read the values through render_latest()")
        got = self.registry.get_sample_value(name, labels)
        if got is None:
            raise KeyError(f"no sample {name}{labels}")
        return float(got)

    def _observe_attempts(self, result: AutoMixResult, *, finished: bool = True) -> None:
        if finished:
            if result.escalated:
                self.escalated.inc()
            self._child(self.answered, str(result.answered_by), result.answered_by_model).inc()
            if self.final_tier_cost and result.spent_this_call != 0:  # not a free replay
                self.baseline.inc(self.final_tier_cost)
        final = result.n_tiers - 1
        for a, spent in zip(result.attempts, _spent_per_attempt(result), strict=True):
            labels = (str(a.tier), a.model)
            self._child(self.decisions, *labels, _decision(a, final)).inc()
            if a.skipped:
                continue
            if a.verifier_confidence is not None:
                self._child(self.confidence, *labels).observe(a.verifier_confidence)
                for name, value in a.signals.items():
                    if name != "verifier":
                        self._child(self.signals, *labels, name).observe(value)
            self._count_tokens(labels, "answer", a.usage)
            self._count_tokens(labels, "verify", a.verify_usage)
            if spent:
                self._child(self.cost, *labels).inc(spent)
            if a.latency_s:
                self._child(self.call_seconds, *labels, "answer").observe(a.latency_s)
            if a.verify_latency_s:
                self._child(self.call_seconds, *labels, "verify").observe(a.verify_latency_s)
            if a.error is not None:
                kind = "answer_timeout" if a.error.startswith("TimeoutError") else "answer_error"
                self._child(self.errors, *labels, kind).inc()
            if a.verifier_errors:
                self._child(self.errors, *labels, "verify_error").inc(len(a.verifier_errors))


def _spent_per_attempt(result: AutoMixResult) -> list[float]:
    """What this call spent at each attempt.

    All of it, or for a resumed or replayed durable run, ``spent_this_call`` laid on
    the last attempts (the nodes that ran again).
    """
    costs = [a.cost for a in result.attempts]
    left = result.spent_this_call
    if left is None:
        return costs
    out = [0.0] * len(costs)
    for i in range(len(costs) - 1, -1, -1):
        out[i] = min(costs[i], left)
        left -= out[i]
    return out


def _decision(attempt: Any, final: int) -> str:
    if attempt.skipped:
        return "skipped"
    if attempt.explored:
        return "explore"
    if attempt.decision is not None:
        if attempt.decision == "escalate" and attempt.escalate_to is not None:
            return "skip"
        return str(attempt.decision)
    if attempt.tier >= final and attempt.error is None:
        return "final"
    return "error" if attempt.error is not None else "undecided"
