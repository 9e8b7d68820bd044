"""Overhead of AutoMixRunnable over a bare LangGraph graph, and abatch throughput.

Run: ``python benchmarks/bench_overhead.py`` (about a minute on 2 cores; ``--rounds``).

1. Median per-query time of ``AutoMixRunnable.invoke`` with zero-latency fake models,
   beside a bare compiled LangGraph graph of four no-op nodes, in the same run. The
   difference is AutoMix's overhead per query (validation, prompts, the model calls'
   LangChain bookkeeping, verification parsing, the meta-decision and the trace).
   Measured with a fake that honours ``n`` (one verification call, as with an
   OpenAI-compatible API) and one that ignores it (k = 8 concurrent calls, as with
   llama.cpp's server).
2. ``abatch`` of 500 queries against fakes that take 50 ms a call with
   ``max_concurrency=50``, as a share of the ideal throughput. Every query's critical
   path is solve (50 ms) + verification (50 ms, samples concurrent), so the ideal is
   ``50 / 0.1 s = 500`` queries per second.
3. The same ``abatch`` through a graph with AutoMix's four nodes and edges whose two
   steps only wait 50 ms (what the graph's shape costs), and through the same graph
   making the same two LangChain model calls (solve, one ``n = 8`` verification) and none
   of AutoMix's own work: the floor for any LangChain-native AutoMix, in the same run.
Targets: overhead <= 3 ms per query; abatch >= 90% of the bare LangGraph graph's share of
ideal in the same round (its ceiling: LangGraph's own per-step cost on one event loop).
One round swings by 10-20 points on a shared 2-core VM, so the four ``abatch``
measurements run in ``--rounds`` interleaved rounds and the medians are reported. In the
results file (three runs of 9 rounds) the same-calls floor itself reaches 79-83% of that
ceiling (AutoMix's four-node shape alone 85-92%), so the second target cannot be held
while the graph has AutoMix's shape and the model calls go through LangChain's
callbacks; AutoMix reaches 94-96% of the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Literal, TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import itertools

from _fakes import LatencyChatModel, LatencyNChatModel
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from langchain_automix import AutoMixRunnable
from langchain_automix.prompts import DEFAULT_VERIFY_PROMPT
from langchain_automix.runtime.solving import format_solve_messages

QUERY = {"question": "What is the capital of France?", "context": "Paris is the capital of France."}


class S(TypedDict):
    question: str
    context: str | None


def noop(state: S) -> dict[str, Any]:
    return {}


def bare_graph() -> Any:
    b = StateGraph(S)
    names = ["solve_small", "self_verify", "meta_decide", "solve_large"]
    for n in names:
        b.add_node(n, noop)
    b.add_edge(START, names[0])
    for a, c in itertools.pairwise(names):
        b.add_edge(a, c)
    return b.compile(name="bare")


def median_ms(fn: Any, repeats: int, warmup: int = 30) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def overhead(repeats: int = 400) -> dict[str, float]:
    graph = bare_graph()
    bare = median_ms(lambda: graph.invoke(QUERY), repeats)
    out = {"bare_graph_ms": bare}
    for label, cls in (("n_honoured", LatencyNChatModel), ("n_ignored_k8_calls", LatencyChatModel)):
        automix = AutoMixRunnable(models=[cls(), cls(answer="Paris, France")])
        t = median_ms(lambda a=automix: a.invoke(QUERY), repeats)
        out[f"automix_{label}_ms"] = t
        out[f"overhead_{label}_ms"] = t - bare
    return out


def sleeping_graph(latency: float) -> Any:
    """A bare graph with AutoMix's critical path: two nodes that each wait ``latency``."""

    async def wait(state: S) -> dict[str, Any]:
        await asyncio.sleep(latency)
        return {}

    b = StateGraph(S)
    b.add_node("solve_small", wait)
    b.add_node("self_verify", wait)
    b.add_edge(START, "solve_small")
    b.add_edge("solve_small", "self_verify")
    return b.compile(name="bare-sleeping")


async def graph_abatch_share(
    graph: Any, n: int = 500, concurrency: int = 50, latency: float = 0.05
) -> float:
    """``graph.abatch`` of ``n`` queries as a share of the ideal (two ``latency`` steps)."""
    queries = [dict(QUERY, question=f"q{i}") for i in range(n)]
    t0 = time.perf_counter()
    await graph.abatch(queries, config={"max_concurrency": concurrency})
    elapsed = time.perf_counter() - t0
    return (n / elapsed) / (concurrency / (2 * latency))


def same_calls_graph(latency: float) -> Any:
    """The floor: AutoMix's four nodes and edges, the same two model calls (the solve
    prompt, then one ``n = 8`` verification), and none of AutoMix's own work (no
    validation, parsing, policy, trace or cost)."""
    small = LatencyNChatModel(latency=latency)
    solve_messages = format_solve_messages(QUERY["question"], QUERY["context"])
    verify_messages = DEFAULT_VERIFY_PROMPT.format_messages(**QUERY, answer="Paris")

    async def solve_small(state: S, config: RunnableConfig) -> dict[str, Any]:
        await small.ainvoke(solve_messages, config)
        return {}

    async def self_verify(state: S, config: RunnableConfig) -> dict[str, Any]:
        await small.agenerate([verify_messages], n=8, callbacks=config.get("callbacks"))
        return {}

    return _automix_shape(solve_small, self_verify, "same-calls")


def same_shape_graph(latency: float) -> Any:
    """AutoMix's four nodes and edges with each model call replaced by a ``latency`` wait:
    what the graph's shape costs, without LangChain's model-call bookkeeping."""

    async def wait(state: S) -> dict[str, Any]:
        await asyncio.sleep(latency)
        return {}

    return _automix_shape(wait, wait, "same-shape")


def _automix_shape(solve_small: Any, self_verify: Any, name: str) -> Any:
    """AutoMix's nodes and edges around the given solve and verify steps."""

    def start(state: S) -> Literal["solve_small", "solve_large"]:
        return "solve_small"

    def decide(state: S) -> Literal["solve_large", "__end__"]:
        return "__end__"

    b = StateGraph(S)
    b.add_node("solve_small", solve_small)
    b.add_node("self_verify", self_verify)
    b.add_node("meta_decide", noop)
    b.add_node("solve_large", noop)
    b.add_conditional_edges(START, start)
    b.add_edge("solve_small", "self_verify")
    b.add_edge("self_verify", "meta_decide")
    b.add_conditional_edges("meta_decide", decide)
    b.add_edge("solve_large", END)
    return b.compile(name=name)


async def abatch_share(
    n: int = 500, concurrency: int = 50, latency: float = 0.05
) -> dict[str, float]:
    small = LatencyNChatModel(latency=latency)
    large = LatencyNChatModel(latency=latency, answer="Paris, France")
    automix = AutoMixRunnable(models=[small, large])
    queries = [dict(QUERY, question=f"{QUERY['question']} #{i}") for i in range(n)]
    t0 = time.perf_counter()
    out = await automix.abatch(queries, config={"max_concurrency": concurrency})
    elapsed = time.perf_counter() - t0
    assert len(out) == n and all(m.content == "Paris" for m in out)
    ideal_qps = concurrency / (2 * latency)
    qps = n / elapsed
    return {
        "queries": n,
        "elapsed_s": elapsed,
        "qps": qps,
        "ideal_qps": ideal_qps,
        "share_of_ideal": qps / ideal_qps,
    }


def abatch_round() -> dict[str, float]:
    """One round of the four ``abatch`` measurements, each a share of the ideal."""
    automix = asyncio.run(abatch_share())["share_of_ideal"]
    bare = asyncio.run(graph_abatch_share(sleeping_graph(0.05)))
    shape = asyncio.run(graph_abatch_share(same_shape_graph(0.05)))
    floor = asyncio.run(graph_abatch_share(same_calls_graph(0.05)))
    return {"automix": automix, "bare": bare, "shape": shape, "floor": floor}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--rounds",
        type=int,
        default=9,
        help="interleaved rounds of the abatch measurements; medians are reported (one "
        "round swings by 10-20 points on a shared 2-core VM)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    o = overhead()
    print("== per-query overhead (median of 400, zero-latency fakes) ==")
    print(f"bare LangGraph graph, 4 no-op nodes : {o['bare_graph_ms']:.3f} ms")
    for label in ("n_honoured", "n_ignored_k8_calls"):
        print(
            f"AutoMixRunnable ({label:>18}) : {o[f'automix_{label}_ms']:.3f} ms"
            f"  -> overhead {o[f'overhead_{label}_ms']:.3f} ms"
            f"  (ratio {o[f'automix_{label}_ms'] / o['bare_graph_ms']:.1f}x)"
        )
    rounds = [abatch_round() for _ in range(args.rounds)]

    def ratios(key: str, of: str | None = None) -> list[float]:
        """``key``'s share per round, as a share of ``of``'s in the same round when given."""
        return [r[key] / (r[of] if of else 1.0) for r in rounds]

    def med(key: str, of: str | None = None) -> float:
        return statistics.median(ratios(key, of))

    def spread(key: str, of: str) -> str:
        return f"{min(ratios(key, of)):.1%}-{max(ratios(key, of)):.1%}"

    print(
        f"== abatch: 500 queries, 50 ms per model call, max_concurrency=50; median of "
        f"{args.rounds} interleaved rounds (range over the rounds) =="
    )
    print(f"AutoMixRunnable: share of ideal {med('automix'):.1%}")
    print(
        f"bare LangGraph graph with the same critical path (2 x 50 ms nodes): "
        f"share of ideal {med('bare'):.1%}"
    )
    of_ceiling = med("automix", "bare")
    print(
        f"AutoMixRunnable / bare LangGraph ceiling, same round: {of_ceiling:.1%} "
        f"({spread('automix', 'bare')})"
    )
    print(
        "AutoMix's four nodes and edges, each model call a 50 ms wait: share of ideal "
        f"{med('shape'):.1%} = {med('shape', 'bare'):.1%} of the bare ceiling "
        f"({spread('shape', 'bare')})"
    )
    print(
        "same four nodes and the same two model calls, no AutoMix logic: share of ideal "
        f"{med('floor'):.1%} = {med('floor', 'bare'):.1%} of the bare ceiling "
        f"({spread('floor', 'bare')}), {med('floor', 'shape'):.1%} of the same shape; "
        f"AutoMixRunnable = {med('automix', 'floor'):.1%} of it ({spread('automix', 'floor')})"
    )
    ok_overhead = o["overhead_n_honoured_ms"] <= 3.0
    ok_batch = of_ceiling >= 0.9
    print(f"target overhead <= 3 ms (n honoured): {'MET' if ok_overhead else 'MISSED'}")
    print(
        f"target abatch >= 90% of the bare ceiling (#25, median): {'MET' if ok_batch else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
