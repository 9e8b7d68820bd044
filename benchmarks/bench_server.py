"""Load test of the AutoMix HTTP server: 1,000 requests at concurrency 50.

The server runs in a subprocess (uvicorn, one worker, 127.0.0.1, free port) backed
by fake models with a fixed 50 ms latency per call that honour ``n``, so one AutoMix
request costs, on its critical path:

    solve (50 ms) + verify (one call drawing k samples with n=k, 50 ms)
    [+ solve_large (50 ms) for an escalated request]

Every request here is accepted by the small tier, so the per-request latency floor is
L = 2 x 50 ms = 100 ms and, with C requests in flight, the ideal throughput is

    ideal = C / L = 50 / 0.100 s = 500 requests/s.

Reported: throughput, p50/p99 latency, errors (non-200 or wrong answer), lost requests
(sent but never answered), and throughput as a share of the ideal.

``--observe`` serves with everything an operator can turn on: Prometheus metrics, the
trace log (a temporary file), the drift monitor and OpenTelemetry spans (SDK provider,
batch processor, an exporter that drops the spans). ``--compare-observe R`` runs R
rounds of the plain and the observed server alternately in one run and reports the
medians and their ratio (the overhead of observability on the request path).

``--bare`` measures the ceiling of the setup itself: a bare FastAPI route that only
waits the same 100 ms, driven by the same client on the same machine. On 2 cores the
client (httpx) and the server share the CPU, so that ceiling sits far below the ideal.

Usage:
    python benchmarks/bench_server.py [--requests 1000] [--concurrency 50]
        [--latency 0.05] [--route openai|langserve] [--bare] [--observe]
    python benchmarks/bench_server.py --compare-observe 3 --requests 500
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


OBSERVE_ALL = "metrics,otel,log,drift"


def serve(port: int, latency: float, k: int, observe: str = "") -> None:
    import uvicorn

    from langchain_automix import AutoMixRunnable
    from langchain_automix.server import create_app
    from tests.unit_tests.fake_models import CORRECT, NChatModel

    small = NChatModel(answer="Paris", verdicts=[CORRECT], latency=latency)
    large = NChatModel(answer="Paris, France", latency=latency)
    automix = AutoMixRunnable(models=[small, large], num_verifications=k)
    options = _observed(set(observe.split(","))) if observe else {}
    app = create_app(automix, api_key_env=None, **options)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _observed(parts: set[str]) -> dict[str, object]:
    """The observability options named in ``parts`` (metrics, otel, log, drift) on."""
    import tempfile

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    from langchain_automix.calibration import synthetic_replay
    from langchain_automix.calibration.drift import DriftMonitor
    from langchain_automix.meta_verifiers import Threshold
    from langchain_automix.observability import OpenTelemetryCallbackHandler, TraceLog

    class Drop(SpanExporter):
        def export(self, spans: object) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop()))
    handler = OpenTelemetryCallbackHandler(provider.get_tracer("bench"), provider=provider)
    reference = Threshold().fit(synthetic_replay(n=300, seed=0)).provenance.signal_reference  # type: ignore[union-attr]
    log = TraceLog(Path(tempfile.mkdtemp(prefix="bench-traces-")) / "traces.jsonl")
    options: dict[str, object] = {}
    if "metrics" in parts:
        options["metrics"] = True
    if "otel" in parts:
        options["callbacks"] = lambda: [handler]
    if "log" in parts:
        options["trace_log"] = log
    if "drift" in parts:  # as automix serve builds it
        options["drift"] = DriftMonitor(reference, check_every=10)  # type: ignore[arg-type]
    return options


def serve_bare(port: int, latency: float) -> None:
    """The ceiling: a bare FastAPI route with the same critical path and response shape."""
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/chat/completions")
    async def chat(body: dict) -> dict:  # type: ignore[type-arg]
        await asyncio.sleep(2 * latency)
        return {"choices": [{"message": {"role": "assistant", "content": "Paris"}}]}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_healthy(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while True:
            try:
                if (await client.get(f"{url}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("server did not start")
            await asyncio.sleep(0.1)


async def load(
    url: str, n: int, concurrency: int, route: str, distinct: int | None = None
) -> dict[str, object]:
    """``n`` requests at ``concurrency``; ``distinct``: cycle over that many questions."""
    latencies: list[float] = []
    errors: list[str] = []
    answered = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def one(client: httpx.AsyncClient, i: int) -> None:
        nonlocal answered
        q = f"Question {i % distinct if distinct and i >= 0 else i}: what is the capital of France?"
        if route == "openai":
            path, body = (
                "/v1/chat/completions",
                {
                    "model": "automix",
                    "messages": [
                        {"role": "system", "content": "Paris."},
                        {"role": "user", "content": q},
                    ],
                },
            )
        else:
            path, body = "/automix/invoke", {"input": {"question": q, "context": "Paris."}}
        t0 = time.perf_counter()
        try:
            r = await client.post(path, json=body)
        except httpx.HTTPError as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            return
        latencies.append(time.perf_counter() - t0)
        answered += 1
        data = r.json() if r.status_code == 200 else {}
        text = (
            data.get("choices", [{}])[0].get("message", {}).get("content")
            if route == "openai"
            else data.get("output", {}).get("content")
        )
        if r.status_code != 200 or text != "Paris":
            errors.append(f"{r.status_code}: {r.text[:200]}")

    async def worker(client: httpx.AsyncClient) -> None:
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await one(client, i)

    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        # warm-up (not counted): imports, first graph compile, connections
        await asyncio.gather(*(one(client, -1 - j) for j in range(concurrency)))
        latencies.clear()
        errors.clear()
        answered = 0
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    latencies.sort()
    return {
        "elapsed": elapsed,
        "answered": answered,
        "errors": errors,
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
    }


def run_once(args: argparse.Namespace, *, bare: bool, observe: str) -> dict[str, object]:
    """Start a server in a subprocess, load it, stop it."""
    port = free_port()
    cmd = [
        sys.executable,
        __file__,
        "--serve",
        str(port),
        "--latency",
        str(args.latency),
        "--k",
        str(args.k),
        *(["--bare"] if bare else []),
        *(["--observe", observe] if observe else []),
    ]
    server = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})  # noqa: S603
    try:
        url = f"http://127.0.0.1:{port}"
        asyncio.run(wait_healthy(url))
        return asyncio.run(load(url, args.requests, args.concurrency, args.route))
    finally:
        server.terminate()
        server.wait(timeout=10)


def compare_observe(args: argparse.Namespace) -> int:
    """Plain and observed server alternately, ``args.compare_observe`` rounds each."""
    parts = args.observe or OBSERVE_ALL
    runs: dict[bool, list[dict[str, object]]] = {False: [], True: []}
    for i in range(args.compare_observe):
        for observe in (False, True) if i % 2 == 0 else (True, False):
            r = run_once(args, bare=False, observe=parts if observe else "")
            runs[observe].append(r)
            thr = r["answered"] / r["elapsed"]  # type: ignore[operator]
            print(
                f"round {i + 1} {'observed' if observe else 'plain   '}  "
                f"{thr:6.1f} req/s  p50 {r['p50'] * 1000:5.0f} ms  "  # type: ignore[operator]
                f"errors {len(r['errors'])}"  # type: ignore[arg-type]
            )
    med = {
        observe: (
            statistics.median(r["answered"] / r["elapsed"] for r in rs),  # type: ignore[operator]
            statistics.median(r["p50"] for r in rs),  # type: ignore[type-var]
        )
        for observe, rs in runs.items()
    }
    ratio_thr = med[True][0] / med[False][0]
    ratio_p50 = med[True][1] / med[False][1]  # type: ignore[operator]
    errors = sum(len(r["errors"]) for rs in runs.values() for r in rs)  # type: ignore[arg-type]
    print(f"observed             {parts}")
    print(f"load                 {args.requests} requests, concurrency {args.concurrency}, "
          f"{args.route} route, {args.compare_observe} rounds each, alternating")  # fmt: skip
    print(f"median throughput    plain {med[False][0]:.1f} req/s, observed {med[True][0]:.1f}")
    print(f"median p50 latency   plain {med[False][1] * 1000:.0f} ms, "  # type: ignore[operator]
          f"observed {med[True][1] * 1000:.0f} ms")  # type: ignore[operator]  # fmt: skip
    print(f"observed / plain     throughput {ratio_thr:.3f}, p50 latency {ratio_p50:.3f}")
    ok = errors == 0 and ratio_thr >= 0.9
    print(
        f"target               {'met' if ok else 'NOT met'} (0 errors, throughput >= 90% of plain)"
    )
    return 0 if ok else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--latency", type=float, default=0.05, help="seconds per model call")
    p.add_argument("--k", type=int, default=8, help="verifier samples (one call with n=k)")
    p.add_argument("--route", choices=["openai", "langserve"], default="openai")
    p.add_argument(
        "--bare",
        action="store_true",
        help="measure the ceiling instead: a bare FastAPI route that only waits the critical "
        "path (same client, same machine)",
    )
    p.add_argument(
        "--observe",
        nargs="?",
        const=OBSERVE_ALL,
        default="",
        metavar="PARTS",
        help=f"serve with observability on: a comma list of {OBSERVE_ALL} (default: all)",
    )
    p.add_argument(
        "--compare-observe",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="alternate ROUNDS runs of the plain and the observed server; report the ratio",
    )
    p.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # internal: run the server
    args = p.parse_args()
    if args.serve:
        if args.bare:
            serve_bare(args.serve, args.latency)
        else:
            serve(args.serve, args.latency, args.k, observe=args.observe)
        return 0
    if args.compare_observe:
        return compare_observe(args)
    r = run_once(args, bare=args.bare, observe=args.observe)

    critical_path = 2 * args.latency  # solve + verify (n=k); every request is accepted
    ideal = args.concurrency / critical_path
    throughput = r["answered"] / r["elapsed"]  # type: ignore[operator]
    lost = args.requests - r["answered"]  # type: ignore[operator]
    errors: list[str] = r["errors"]  # type: ignore[assignment]
    kind = f"AutoMix, observed: {args.observe}" if args.observe else "AutoMix"
    print(f"server               {'bare FastAPI route (ceiling)' if args.bare else kind}")
    print(f"route                {args.route}")
    print(f"load                 {args.requests} requests, concurrency {args.concurrency}")
    print(f"model latency        {args.latency * 1000:.0f} ms per call, k={args.k} via n")
    print(f"critical path        {critical_path * 1000:.0f} ms (solve + verify)")
    print(f"ideal throughput     {ideal:.1f} req/s  (= concurrency / critical path)")
    print(f"elapsed              {r['elapsed']:.2f} s")
    print(f"throughput           {throughput:.1f} req/s")
    print(f"share of ideal       {throughput / ideal:.1%}")
    print(f"latency p50 / p99    {r['p50'] * 1000:.0f} ms / {r['p99'] * 1000:.0f} ms")  # type: ignore[operator]
    print(f"errors               {len(errors)}")
    print(f"lost requests        {lost}")
    for e in errors[:5]:
        print(f"  error: {e}")
    ok = not errors and lost == 0 and throughput >= 0.7 * ideal
    print(
        "targets              "
        + ("met" if ok else "NOT met")
        + " (0 errors, 0 lost, >= 70% of ideal)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
