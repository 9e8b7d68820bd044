"""Throughput of ``automix serve`` on 1 and on 2 uvicorn workers, in the same run.

Both tiers are a fake OpenAI-compatible endpoint (its own process) that waits a fixed
``--latency`` (50 ms) per call and answers "Paris" (verify prompts: k samples with
``n=k``, all "Correct"), so model time is sleep, not CPU: what differs between the two
runs is how much of the AutoMix server's own work (HTTP, LangServe/OpenAI routes, the
graph, the ``ChatOpenAI`` client) runs in parallel. Each request costs, on its critical
path, solve (50 ms) + verify (50 ms).

For each worker count: ``automix serve --workers N --tier small=fake@URL --tier
big=fake@URL`` (plus ``--checkpoint-url`` when given: the workers share one database)
is started, then ``--requests`` OpenAI-route requests are sent at ``--concurrency``.
Reported per run: throughput, p50/p99 latency, errors (non-200 or wrong answer), lost
requests (sent, never answered); then the throughput ratio 2 workers / 1 worker.

With ``--cache-url redis://...`` the workers share a model-call cache (a key prefix of
its own per run) and ``--distinct N`` makes the load cycle over N questions: the cache
hit rate of the measured requests is 1 - (model calls) / (2 x requests), the model calls
being counted by the fake endpoint (the warm-up requests, distinct questions, excluded).

Usage:
    python benchmarks/bench_workers.py [--requests 600] [--concurrency 64] [--latency 0.05]
        [--checkpoint-url sqlite:///PATH | postgresql://...]
        [--cache-url redis://HOST:PORT/DB --distinct 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_server import free_port, load, wait_healthy  # noqa: E402

CORRECT = "Verification Decision: The AI generated answer is Correct."


def fake_endpoint(port: int, latency: float) -> None:
    """An OpenAI-compatible chat endpoint that sleeps ``latency`` per call."""
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()
    calls = [0]

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/calls")
    async def n_calls() -> dict[str, int]:
        return {"calls": calls[0]}

    @app.post("/v1/chat/completions")
    async def chat(body: dict) -> dict:  # type: ignore[type-arg]
        calls[0] += 1
        await asyncio.sleep(latency)
        verify = "AI Generated Answer:" in str(body["messages"][-1].get("content"))
        text = CORRECT if verify else "Paris"
        n = int(body.get("n") or 1)
        return {
            "id": "fake",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "fake"),
            "choices": [
                {"index": i, "message": {"role": "assistant", "content": text},
                 "finish_reason": "stop"}
                for i in range(n)
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
        }  # fmt: skip

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start_server(
    workers: int, endpoint: str, checkpoint_url: str | None, cache_url: str | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [
        sys.executable, "-m", "langchain_automix.cli.main", "serve",
        "--tier", f"small=fake@{endpoint}", "--tier", f"big=fake@{endpoint}",
        "--num-verifications", "4", "--rate-limit", "0", "--tier-timeout", "0",
        "--port", str(port), "--log-level", "warning", "--workers", str(workers),
    ]  # fmt: skip
    if checkpoint_url:
        cmd += ["--checkpoint-url", checkpoint_url]
    if cache_url:  # a fresh prefix: each run starts with an empty cache
        cmd += ["--cache-url", cache_url, "--cache-prefix", f"bench-{uuid.uuid4().hex[:8]}"]
    env = {**os.environ, "OPENAI_API_KEY": "unused"}
    env.pop("AUTOMIX_API_KEY", None)
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)  # noqa: S603 - our argv
    return proc, f"http://127.0.0.1:{port}"


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def model_calls(port: int) -> int:
    import httpx

    return int(httpx.get(f"http://127.0.0.1:{port}/calls", timeout=10).json()["calls"])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--requests", type=int, default=600)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--latency", type=float, default=0.05)
    p.add_argument("--checkpoint-url", default=None)
    p.add_argument("--workers", default="1,2", help="worker counts to compare (default: 1,2)")
    p.add_argument("--cache-url", default=None, help="shared model-call cache (redis://...)")
    p.add_argument(
        "--distinct", type=int, default=None, help="cycle over this many questions (default: all)"
    )
    args = p.parse_args()

    ep_port = free_port()
    endpoint_proc = subprocess.Popen(  # noqa: S603 - our argv
        [sys.executable, "-c",
         f"import sys; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); "
         f"from bench_workers import fake_endpoint; fake_endpoint({ep_port}, {args.latency})"],
        start_new_session=True,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{ep_port}/v1"
    rows = []
    try:
        asyncio.run(wait_healthy(f"http://127.0.0.1:{ep_port}"))
        for workers in (int(w) for w in args.workers.split(",")):
            proc, url = start_server(workers, endpoint, args.checkpoint_url, args.cache_url)
            try:
                asyncio.run(wait_healthy(url, timeout=120))
                time.sleep(1.0 if workers > 1 else 0.0)  # every worker up
                before = model_calls(ep_port)
                r = asyncio.run(load(url, args.requests, args.concurrency, "openai", args.distinct))
                # solve + verify (n=k, all Correct) per request, warm-ups included
                calls = model_calls(ep_port) - before - 2 * args.concurrency
            finally:
                stop(proc)
            errors = r["errors"]
            assert isinstance(errors, list)
            lost = args.requests - int(r["answered"])  # type: ignore[call-overload]
            rows.append(
                (
                    workers,
                    args.requests / float(r["elapsed"]),
                    r["p50"],
                    r["p99"],
                    len(errors),
                    lost,
                    1 - calls / (2 * args.requests),
                )
            )  # type: ignore[arg-type]
            if errors:
                print("first error:", errors[0])
    finally:
        stop(endpoint_proc)

    print(
        f"automix serve --workers N: {args.requests} requests at concurrency {args.concurrency}, "
        f"fake models {args.latency * 1000:.0f} ms per call (sleep), k=4 with n=k, "
        f"checkpoints: {args.checkpoint_url or 'none'}, cache: {args.cache_url or 'none'}, "
        f"{args.distinct or args.requests} distinct questions, {os.cpu_count()} CPUs"
    )
    print(
        f"{'workers':>7}  {'req/s':>7}  {'p50 ms':>7}  {'p99 ms':>7}  {'errors':>6}  {'lost':>4}"
        f"  {'cache hits':>10}"
    )
    for workers, rps, p50, p99, n_err, lost, hit_rate in rows:
        print(
            f"{workers:>7}  {rps:7.1f}  {p50 * 1000:7.0f}  {p99 * 1000:7.0f}  {n_err:>6}  {lost:>4}"
            f"  {hit_rate:>10.1%}"
        )
    if len(rows) >= 2:
        ratio = rows[-1][1] / rows[0][1]
        print(f"throughput ratio {rows[-1][0]} workers / {rows[0][0]} worker: {ratio:.2f}x")
    return 0 if all(r[4] == 0 and r[5] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
