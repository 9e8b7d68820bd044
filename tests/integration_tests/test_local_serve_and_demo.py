"""Real local models behind the HTTP server (openai client, RemoteRunnable) and the demo."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from openai import OpenAI

from langchain_automix import AutoMixRunnable
from langchain_automix.demo import run_demo
from langchain_automix.local import DEFAULT_PAIR, LocalModelServer
from langchain_automix.server import create_app, serve_in_thread

pytestmark = [pytest.mark.integration, pytest.mark.local_models]

CONTEXT = "The Eiffel Tower was completed in 1889 and stands in Paris, the capital of France."


def test_server_with_local_models_answers_openai_and_langserve_clients(
    local_pair: LocalModelServer,
) -> None:
    from langserve import RemoteRunnable

    small, large = (local_pair.chat_model(m, temperature=0, max_tokens=48) for m in DEFAULT_PAIR)
    automix = AutoMixRunnable(models=[small, large], num_verifications=2, request_n=False)
    with serve_in_thread(create_app(automix)) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="unused")
        reply = client.chat.completions.create(
            model="automix",
            messages=[
                {"role": "system", "content": CONTEXT},
                {"role": "user", "content": "In which city is the Eiffel Tower?"},
            ],
        )
        assert "paris" in (reply.choices[0].message.content or "").lower()
        trace = reply.model_extra["automix"]  # type: ignore[index]
        assert trace["attempts"][0]["verifier_n_samples"] == 2
        remote = RemoteRunnable(f"{url}/automix")
        msg = remote.invoke(
            {"question": "When was the Eiffel Tower completed?", "context": CONTEXT}
        )
        assert "1889" in str(msg.content)
        assert msg.response_metadata["automix"]["answered_by"] in (0, 1)


def test_demo_runs_live_on_one_question(local_pair: LocalModelServer, tmp_path: Path) -> None:
    small, large = (local_pair.chat_model(m, temperature=0, max_tokens=64) for m in DEFAULT_PAIR)
    log = io.StringIO()
    report = run_demo([small, large], n_questions=2, k=2, out_dir=tmp_path, plot=True, stream=log)
    assert report.live.n_rows == 2
    assert "[2/2]" in log.getvalue()
    assert (tmp_path / "live_replay.jsonl").exists()
    assert (tmp_path / "cost_quality.png").stat().st_size > 1000
    assert "AutoMix + Threshold" in report.table()
    # every small answer was verified for the table's verifier rows (k = 2 samples), also
    # where the live policy reads no verification; the headline states the saving
    rows = [json.loads(line) for line in (tmp_path / "live_replay.jsonl").read_text().splitlines()]
    assert all(len(r["tiers"][0]["verifier_samples"]) == 2 for r in rows)
    assert "per query, saved" in report.headline() and "95% CI" in report.headline()
