"""examples/rag_pipeline.py end to end: real retrieval (E5 + Chroma, persisted and reopened;
and InMemoryVectorStore) in front of AutoMix on the embedded pair."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rag_pipeline.py"


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rag_pipeline_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.local_models
def test_rag_example_retrieves_gold_paragraphs_and_answers_with_local_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """On Chroma (the chosen store, extra [chroma]), persisted, with the embedded pair."""
    example = _example()
    index = tmp_path / "chroma"
    # one of the four questions: each costs the embedded pair an answer and k = 8
    # verifications, and the retrieval of all four is checked below
    rows = example.main(["--local", "--store", "chroma", "--index", str(index), "--limit", "1"])
    assert any(index.iterdir()), "the vector store was not saved"
    assert len(rows) == 1
    for row in rows:
        assert row["gold_paragraph"], f"retrieved {row['retrieved']} for {row['question']!r}"
        assert row["answered_by"] in (0, 1)
        assert isinstance(row["answer"], str) and row["answer"].strip()
    out = capsys.readouterr().out
    assert "embedding 91 paragraphs" in out
    # A second run loads the saved store instead of embedding again.
    again = example.main(["--store", "chroma", "--index", str(index)])
    assert len(again) == len(example.QUESTIONS) and all(r["gold_paragraph"] for r in again)
    assert [r["retrieved"] for r in again[:1]] == [r["retrieved"] for r in rows]
    assert "embedding" not in capsys.readouterr().out


def test_rag_example_in_memory_store_saves_and_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = _example()
    rows = example.main(["--store", "memory", "--index", str(tmp_path)])
    assert (tmp_path / "store.json").exists()
    assert all(row["gold_paragraph"] for row in rows)
    assert example.main(["--store", "memory", "--index", str(tmp_path)]) == rows
    assert capsys.readouterr().out.count("embedding 91 paragraphs") == 1
