"""The package's layers only point down, and no module imports itself in a circle.

Walks every ``import`` of every module (top-level and inside functions; ``if
TYPE_CHECKING:`` blocks excluded, they are not run), plus the names each package's
lazy ``_WHERE`` table maps to a module, and checks each edge against the layer order
written down here (and in README's "Where things live").
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "langchain_automix"

LAYERS: list[tuple[str, ...]] = [
    # 0: shared basics
    (
        "_version",
        "_lazy",
        "_checks",
        "_jsonl",
        "_async_utils",
        "_model_utils",
        "errors",
        "costs",
        "prompts",
        "answers",
        "signals",
    ),
    ("calibration",),  # 1: replay data and its metrics
    ("meta_verifiers",),  # 2: the policies, fitted on replay data
    ("evaluation", "plotting"),  # 3: fitting and comparing policies over seeds
    ("runtime",),  # 4: live routing (the graph, its driver, the runnables)
    # 5: building replay data, local models, tier specs, observability of served queries
    ("collection", "local", "tiers", "observability"),
    ("demo", "server", "cli"),  # 6: applications
]
"""Lowest first. A module may import its own layer and the ones below, never above."""


def module_names() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = module_names()


def layer(module: str) -> int:
    if module == "langchain_automix":
        return len(LAYERS)  # the root package re-exports everything
    first = module.split(".")[1]
    for i, names in enumerate(LAYERS):
        if first in names:
            return i
    raise AssertionError(f"{module} is in no layer: add it to LAYERS (and to the README)")


class _Imports(ast.NodeVisitor):
    def __init__(self, module: str) -> None:
        self.module = module
        self.is_package = MODULES[module].name == "__init__.py"
        self.found: set[str] = set()

    def visit_If(self, node: ast.If) -> None:
        if "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.module.split(".") if self.is_package else self.module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            source = ".".join([*base, *([node.module] if node.module else [])])
        else:
            source = node.module or ""
        for alias in node.names:
            full = f"{source}.{alias.name}"
            self._add(full if full in MODULES else source)

    def visit_Assign(self, node: ast.Assign) -> None:
        # a package's lazy exports: {"Name": "module", ...}
        targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if targets == ["_WHERE"] and self.is_package and isinstance(node.value, ast.Dict):
            for value in node.value.values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    self._add(f"{self.module}.{value.value}")
        self.generic_visit(node)

    def _add(self, name: str) -> None:
        while name and name not in MODULES:  # ``pkg.module.Name`` -> ``pkg.module``
            name = name.rpartition(".")[0]
        if name.startswith("langchain_automix") and name != self.module:
            self.found.add(name)


def edges() -> Iterator[tuple[str, str]]:
    for module, path in MODULES.items():
        visitor = _Imports(module)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        for target in sorted(visitor.found):
            yield module, target


EDGES = sorted(set(edges()))


def test_the_walk_sees_the_imports_it_should() -> None:
    """The walker itself: known edges are found (so the checks below are not vacuous)."""
    assert ("langchain_automix.runtime.graph", "langchain_automix.meta_verifiers.base") in EDGES
    assert ("langchain_automix.signals", "langchain_automix.answers") in EDGES
    assert ("langchain_automix.calibration", "langchain_automix.calibration.replay") in EDGES
    assert len(EDGES) > 150


def test_every_module_is_in_a_layer() -> None:
    for module in MODULES:
        layer(module)


def test_imports_never_climb_to_a_higher_layer() -> None:
    climbing = [
        f"{a} (layer {layer(a)}) -> {b} (layer {layer(b)})" for a, b in EDGES if layer(b) > layer(a)
    ]
    assert not climbing, "\n".join(climbing)


def test_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for a, b in EDGES:
        if not (MODULES[b].name == "__init__.py" and a.startswith(b + ".")):
            graph[a].add(b)  # a submodule importing its own package's __init__ is no cycle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def strongconnect(v: str) -> None:  # Tarjan
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in graph:
        if v not in index:
            strongconnect(v)
    assert not cycles, cycles


def test_offline_layers_do_not_load_langgraph() -> None:
    """Fitting and evaluating policies needs neither langgraph nor the runtime."""
    code = (
        "import sys\n"
        "import langchain_automix.calibration.replay, langchain_automix.evaluation\n"
        "import langchain_automix.meta_verifiers\n"
        "print(sorted(m for m in sys.modules if m.startswith(('langgraph', "
        "'langchain_automix.runtime'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
