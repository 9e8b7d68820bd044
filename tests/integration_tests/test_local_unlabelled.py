"""Questions without gold answers, end to end on the embedded pair: collect (agreement
labels) -> fit -> evaluate -> serve, as README's "No gold answers?" shows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from langchain_automix.collection.datasets import load_qa

pytestmark = [pytest.mark.integration, pytest.mark.local_models]

ROOT = Path(__file__).resolve().parents[2]


def automix(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "langchain_automix.cli.main", *argv],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip


def test_questions_without_answers_collect_fit_evaluate_serve(tmp_path: Path) -> None:
    data = tmp_path / "questions.jsonl"
    # four: automix evaluate splits the rows in halves and needs two on each side
    items = load_qa("squad11_200", limit=4)
    rows = [{k: v for k, v in i.to_dict().items() if k != "answers"} for i in items]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    replay = tmp_path / "replay.jsonl"
    done = automix("collect", "--local", "--data", str(data), "--out", str(replay),
                   "--k", "2", "--no-progress")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "agreement labels" in done.stderr
    written = [json.loads(line) for line in replay.read_text().splitlines()]
    assert len(written) == 4
    for row in written:
        assert row["labels"] == "agreement" and row["answers"] is None
        small, large = row["tiers"]
        assert large["score"] == 1.0 and 0.0 <= small["score"] <= 1.0
        assert "gold_score" not in small  # no gold to keep

    policy = tmp_path / "policy.json"
    fit = automix("fit", "--method", "threshold", "--train", str(replay), "-o", str(policy))
    assert fit.returncode == 0, fit.stderr
    assert "labels: agreement" in fit.stdout
    evaluate = automix("evaluate", "--train", str(replay), "--methods", "threshold",
                       "--seeds", "2", "--bootstrap", "0")  # fmt: skip
    assert evaluate.returncode == 0, evaluate.stderr

    from langchain_automix import AutoMixRunnable
    from langchain_automix.local import local_chat_models
    from langchain_automix.meta_verifiers import MetaVerifier
    from langchain_automix.server import create_app

    with local_chat_models() as (small_model, large_model):
        served = AutoMixRunnable(
            models=[small_model, large_model],
            meta_verifier=MetaVerifier.load(policy),
            num_verifications=2,
        )
        http = TestClient(create_app(served, api_key_env=None), base_url="http://localhost")
        body = {"input": {"question": items[0].question, "context": items[0].context}}
        reply = http.post("/automix/invoke", json=body)
        assert reply.status_code == 200, reply.text
        assert reply.json()["output"]["content"]
        report = http.get("/automix/policy").json()
        assert report["provenance"]["labels"] == "agreement"
