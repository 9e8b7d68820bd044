"""Seeing AutoMix work in production: Prometheus metrics, OpenTelemetry spans, trace logs.

Everything here watches LangChain callbacks, so it works on a served runnable and on
any chain of your own:

* ``observer``: :class:`AutoMixObserver` hands each finished query to
  :class:`AutoMixMetrics` (``metrics``, Prometheus), a drift monitor
  (:class:`~langchain_automix.calibration.drift.DriftMonitor`) and a :class:`TraceLog`
  (``trace_log``: served traces as replay rows, user feedback joined by id,
  :func:`redecide` to re-make the served decisions offline).
* ``tracing``: :class:`OpenTelemetryCallbackHandler` turns each query into an
  ``automix.query`` span with one child span per graph node (decision, verifier
  confidence, tokens and cost as attributes); :func:`configure_tracing` /
  :func:`tracing_from_env` build it with an exporter (off by default).

The server wires them behind ``automix serve --metrics / --log-traces / --otel``
(docs/observability.md). Names are imported on first use: importing this package
loads neither ``prometheus-client``, OpenTelemetry nor the runtime.

Example:
    >>> import langchain_automix.observability as observability
    >>> "configure_tracing" in observability.__all__ and "AutoMixMetrics" in observability.__all__
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_automix._lazy import lazy_getattr

if TYPE_CHECKING:
    from langchain_automix.observability.metrics import AutoMixMetrics, render_latest
    from langchain_automix.observability.observer import AutoMixObserver, result_of
    from langchain_automix.observability.trace_log import (
        Redecision,
        TraceLog,
        read_traces,
        redecide,
    )
    from langchain_automix.observability.tracing import (
        EXPORTER_ENV,
        QUERY_SPAN,
        TRACER_NAME,
        OpenTelemetryCallbackHandler,
        configure_tracing,
        tracing_from_env,
    )

__all__ = [
    "EXPORTER_ENV",
    "QUERY_SPAN",
    "TRACER_NAME",
    "AutoMixMetrics",
    "AutoMixObserver",
    "OpenTelemetryCallbackHandler",
    "Redecision",
    "TraceLog",
    "configure_tracing",
    "read_traces",
    "redecide",
    "render_latest",
    "result_of",
    "tracing_from_env",
]

_WHERE = {
    "AutoMixMetrics": "metrics",
    "render_latest": "metrics",
    "AutoMixObserver": "observer",
    "result_of": "observer",
    "Redecision": "trace_log",
    "TraceLog": "trace_log",
    "read_traces": "trace_log",
    "redecide": "trace_log",
    "EXPORTER_ENV": "tracing",
    "QUERY_SPAN": "tracing",
    "TRACER_NAME": "tracing",
    "OpenTelemetryCallbackHandler": "tracing",
    "configure_tracing": "tracing",
    "tracing_from_env": "tracing",
}

__getattr__ = lazy_getattr(__name__, _WHERE)
