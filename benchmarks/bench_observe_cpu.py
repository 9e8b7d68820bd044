"""CPU per query of each observability option, in process (no HTTP, no client).

``AutoMixRunnable.ainvoke`` on fake models with no latency (k = 8 in one call with
``n``), every query accepted; each variant adds one set of callback handlers:
an empty handler (LangChain's callback machinery alone), the observer with
Prometheus metrics, + the trace log, + the drift monitor (``check_every=10`` as
``automix serve`` builds it), OpenTelemetry spans (SDK provider, batch processor, an
exporter that drops the spans), and all of them. Rounds alternate the variants;
reported: median ms per query over the rounds and the ratio to no handler.

Usage:
    python benchmarks/bench_observe_cpu.py [--rounds 5] [--queries 100]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def variants() -> tuple[Any, dict[str, Callable[[], list[Any]]]]:
    from langchain_core.callbacks import BaseCallbackHandler
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from prometheus_client import CollectorRegistry

    from langchain_automix import AutoMixRunnable
    from langchain_automix.calibration import synthetic_replay
    from langchain_automix.calibration.drift import DriftMonitor
    from langchain_automix.meta_verifiers import Threshold
    from langchain_automix.observability import (
        AutoMixMetrics,
        AutoMixObserver,
        OpenTelemetryCallbackHandler,
        TraceLog,
    )
    from tests.unit_tests.fake_models import CORRECT, NChatModel

    class Drop(SpanExporter):
        def export(self, spans: object) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    class Empty(BaseCallbackHandler):
        run_inline = True

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop()))
    otel = OpenTelemetryCallbackHandler(provider.get_tracer("bench"), provider=provider)
    small = NChatModel(answer="Paris", verdicts=[CORRECT], latency=0)
    large = NChatModel(answer="Paris, France", latency=0)
    automix = AutoMixRunnable(models=[small, large], num_verifications=8)
    metrics = AutoMixMetrics(registry=CollectorRegistry(), final_tier_cost=50)
    log = TraceLog(Path(tempfile.mkdtemp(prefix="bench-observe-")) / "traces.jsonl")
    fitted = Threshold().fit(synthetic_replay(n=300, seed=0))
    assert fitted.provenance is not None and fitted.provenance.signal_reference is not None
    drift = DriftMonitor(fitted.provenance.signal_reference, check_every=10)
    logging.getLogger("langchain_automix.drift").setLevel(logging.ERROR)  # it drifts: fakes
    return automix, {
        "none": lambda: [],
        "empty handler": lambda: [Empty()],
        "metrics": lambda: [AutoMixObserver(metrics=metrics)],
        "metrics+log": lambda: [AutoMixObserver(metrics=metrics, trace_log=log)],
        "metrics+log+drift": lambda: [AutoMixObserver(metrics=metrics, trace_log=log, drift=drift)],
        "otel": lambda: [otel],
        "metrics+otel": lambda: [AutoMixObserver(metrics=metrics), otel],
        "all": lambda: [AutoMixObserver(metrics=metrics, trace_log=log, drift=drift), otel],
    }


async def measure(rounds: int, queries: int) -> dict[str, float]:
    automix, cases = variants()
    question = {"question": "Capital of France?", "context": "Paris is the capital."}
    for _ in range(50):  # warm-up
        await automix.ainvoke(question, {"callbacks": cases["all"]()})
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, make in cases.items():
            t0 = time.perf_counter()
            for _ in range(queries):
                await automix.ainvoke(question, {"callbacks": make()})
            times[name].append((time.perf_counter() - t0) / queries * 1000)
    return {name: statistics.median(v) for name, v in times.items()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--queries", type=int, default=100)
    args = p.parse_args()
    medians = asyncio.run(measure(args.rounds, args.queries))
    base = medians["none"]
    print(f"{'variant':20s} {'ms/query':>9s} {'ratio':>6s}")
    for name, ms in medians.items():
        print(f"{name:20s} {ms:9.3f} {ms / base:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
