import asyncio
from pathlib import Path

import pytest

from langchain_automix import build_automix_graph
from langchain_automix.runtime.graph import NODES

ROOT = Path(__file__).resolve().parents[3]
SNAPSHOT = Path(__file__).parents[1] / "snapshots" / "graph.mmd"


def test_graph_has_exactly_the_four_nodes() -> None:
    graph = build_automix_graph()
    assert graph.name == "AutoMix"
    nodes = {n for n in graph.get_graph().nodes if not n.startswith("__")}
    assert nodes == set(NODES) == {"solve_small", "self_verify", "meta_decide", "solve_large"}


def test_graph_is_built_once() -> None:
    assert build_automix_graph() is build_automix_graph()


def test_mermaid_snapshot_matches_graph_and_readme() -> None:
    mermaid = build_automix_graph().get_graph().draw_mermaid()
    assert mermaid == SNAPSHOT.read_text(), "graph changed: update the snapshot and the README"
    readme = (ROOT / "README.md").read_text()
    assert mermaid.strip() in readme, "README's mermaid block differs from the graph"


def test_router_edges() -> None:
    edges = {(e.source, e.target) for e in build_automix_graph().get_graph().edges}
    assert ("__start__", "solve_small") in edges
    assert ("__start__", "solve_large") in edges  # a policy fixed to always escalate
    assert ("self_verify", "meta_decide") in edges
    assert ("meta_decide", "solve_large") in edges
    assert ("meta_decide", "__end__") in edges
    assert ("solve_large", "self_verify") in edges
    assert ("solve_large", "__end__") in edges
    assert ("solve_small", "solve_large") in edges


def test_public_api_node_wrapper_runs_the_same_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without LangGraph's private node wrapper the graph still runs, sync and async."""
    from langchain_automix import AutoMixRunnable
    from langchain_automix.runtime import graph as graph_module
    from tests.unit_tests.fake_models import CORRECT, INCORRECT, ScriptedChatModel

    monkeypatch.setattr(graph_module, "_NodeRunnable", None)
    build_automix_graph.cache_clear()
    try:
        for verdict, answered_by in ((CORRECT, 0), (INCORRECT, 1)):
            small = ScriptedChatModel(answer="Paris", verdicts=[verdict])
            large = ScriptedChatModel(answer="Paris, France")
            automix = AutoMixRunnable(models=[small, large])  # type: ignore[list-item]
            query = {"question": "Capital of France?", "context": "Paris is its capital."}
            assert automix.invoke_result(query).answered_by == answered_by
            result = asyncio.run(automix.ainvoke_result(query))
            assert result.answered_by == answered_by
            assert small.count("verify") == 16
    finally:
        build_automix_graph.cache_clear()
