"""automix collect against a fake OpenAI-compatible endpoint on loopback (no network)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from langchain_automix.cli.main import main

SECRET = "sk-test-never-written-0123456789"  # noqa: S105 - a fake key


class FakeOpenAI(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []  # noqa: RUF012 - shared record for the test

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeOpenAI.requests.append(
            {"auth": self.headers.get("Authorization"), "path": self.path, **body}
        )
        if "prompt" in body:  # /v1/completions: only the verifier uses it
            self._reply(_completion(body))
            return
        prompt = body["messages"][-1]["content"]
        if "AI Generated Answer:" in prompt:
            text = "Fine. Verification Decision: The AI generated answer is Correct."
        elif "Answer B:" in prompt:  # the judge
            text = "Different"
        else:
            text = "Paris" if body["model"] == "big" else "Lyon"
        n = int(body.get("n") or 1)
        out = {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": i,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": text},
                }
                for i in range(n)
            ],
            "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
        }
        self._reply(out)

    def _reply(self, out: dict[str, Any]) -> None:
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _completion(body: dict[str, Any]) -> dict[str, Any]:
    text = " Fine.\n\nVerification Decision: The AI generated answer is Incorrect."
    return {
        "id": "c",
        "object": "text_completion",
        "created": 0,
        "model": body["model"],
        "choices": [
            {"index": i, "text": text, "finish_reason": "stop", "logprobs": None}
            for i in range(int(body.get("n") or 1))
        ],
        "usage": {"prompt_tokens": 600, "completion_tokens": 40, "total_tokens": 640},
    }


@pytest.fixture
def endpoint() -> Iterator[str]:
    FakeOpenAI.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_collect_with_tier_flags_uses_env_key_and_never_writes_it(
    endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FAKE_KEY", SECRET)
    data = tmp_path / "qa.jsonl"
    data.write_text(
        json.dumps({"id": "a", "question": "Capital?", "context": "Paris.", "answers": ["Paris"]})
        + "\n"
        + json.dumps({"id": "b", "question": "Moon?", "context": "No.", "answers": []})
        + "\n"
    )
    out = tmp_path / "replay.jsonl"
    argv = [
        "collect",
        "--data",
        str(data),
        "--out",
        str(out),
        "--k",
        "4",
        "--no-progress",
        "--tier",
        f"small=tiny@{endpoint},key_env=FAKE_KEY",
        "--tier",
        f"large=big@{endpoint},key_env=FAKE_KEY",
    ]
    assert main(argv) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"]
    small, large = rows[0]["tiers"]
    assert (small["model"], small["answer"], small["score"]) == ("small", "Lyon", 0.0)
    assert (large["answer"], large["score"]) == ("Paris", 1.0)
    assert small["verifier_confidence"] == 1.0 and len(small["verifier_samples"]) == 4
    assert small["usage"]["input_tokens"] == 11
    # the key went to the endpoint, nowhere else
    assert {r["auth"] for r in FakeOpenAI.requests} == {f"Bearer {SECRET}"}
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err
    # the run ends with the verifier signal of what it collected (always "Correct" here)
    assert "verifier signal of tier 0 (small): 2 rows" in captured.err
    assert "mean confidence: correct -, incorrect 1.000" in captured.err
    assert f"automix evaluate --train {out}" in captured.err
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path
    # verification asked for k samples at temperature 1 with a fixed seed
    verify_calls = [
        r for r in FakeOpenAI.requests if "AI Generated Answer:" in r["messages"][-1]["content"]
    ]
    assert verify_calls and all(r.get("temperature") == 1.0 for r in verify_calls)
    assert all(r.get("seed") is not None for r in verify_calls)

    # resume: nothing left to do, no new rows
    FakeOpenAI.requests = []
    assert main(argv) == 0
    assert len(out.read_text().splitlines()) == 2 and FakeOpenAI.requests == []


@pytest.mark.parametrize(("flag", "uncached"), [(["--judge-cache", "off"], True), ([], False)])
def test_judge_labels_turn_the_prompt_cache_off_when_asked(
    endpoint: str, tmp_path: Path, flag: list[str], uncached: bool
) -> None:
    data = tmp_path / "qa.jsonl"
    data.write_text(json.dumps({"id": "a", "question": "Capital?", "context": "Paris."}) + "\n")
    out = tmp_path / "replay.jsonl"
    argv = ["collect", "--data", str(data), "--out", str(out), "--k", "2", "--no-progress",
            "--tier", f"small=tiny@{endpoint}", "--tier", f"large=big@{endpoint}",
            "--labels", "judge", *flag]  # fmt: skip
    assert main(argv) == 0
    row = json.loads(out.read_text())
    assert row["labels"] == "judge" and row["tiers"][0]["judge"] == "different"
    judged = [r for r in FakeOpenAI.requests if "Answer B:" in r["messages"][-1]["content"]]
    others = [r for r in FakeOpenAI.requests if r not in judged]
    assert len(judged) == 1 and others
    # an endpoint's server is unknown: its judge keeps the cache unless told
    assert judged[0].get("cache_prompt") is (False if uncached else None)
    assert all("cache_prompt" not in r for r in others)  # answers and verifications keep it


def test_judge_cache_needs_judge_labels(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["collect", "--data", "x.jsonl", "--out", "o.jsonl", "--tier", "a@http://h/v1",
            "--judge-cache", "off"]  # fmt: skip
    assert main(argv) == 2
    assert "--judge-cache applies to --labels judge" in capsys.readouterr().err


def test_completion_mode_verifies_the_stored_answers_on_the_completions_route(
    endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "qa.jsonl"
    data.write_text(
        json.dumps({"id": "a", "question": "Capital?", "context": "Paris.", "answers": ["Lyon"]})
        + "\n"
    )
    tiers = ["--tier", f"small=tiny@{endpoint}", "--tier", f"large=big@{endpoint}"]
    chat = tmp_path / "chat.jsonl"
    common = ["collect", "--data", str(data), "--k", "4", "--no-progress", *tiers]
    assert main([*common, "--out", str(chat)]) == 0
    FakeOpenAI.requests = []
    out = tmp_path / "completion.jsonl"
    argv = [*common, "--out", str(out), "--verify-mode", "completion", "--reuse-answers", str(chat)]
    assert main(argv) == 0
    # no answer was asked again: one n=k request on the completions route, a raw text
    (req,) = FakeOpenAI.requests
    assert req["path"] == "/v1/completions" and req["n"] == 4 and req["model"] == "tiny"
    (prompt,) = req["prompt"]  # the OpenAI client sends a batch of one text
    assert prompt.endswith("Evaluation:") and "AI Generated Answer: Lyon" in prompt
    (old,) = [json.loads(x) for x in chat.read_text().splitlines()]
    (new,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert new["prompt_version"] != old["prompt_version"]
    assert [t["answer"] for t in new["tiers"]] == [t["answer"] for t in old["tiers"]]
    assert old["tiers"][0]["verifier_confidence"] == 1.0
    assert new["tiers"][0]["verifier_confidence"] == 0.0
    assert new["tiers"][0]["verify_usage"]["input_tokens"] == 600
    assert "verify mode completion" in capsys.readouterr().err
    # --reuse and --reuse-answers together are refused before any call
    FakeOpenAI.requests = []
    assert main([*argv, "--reuse", str(chat)]) == 2 and FakeOpenAI.requests == []


def test_collect_missing_key_variable_fails_clearly(
    endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("FAKE_KEY_UNSET", raising=False)
    data = tmp_path / "qa.jsonl"
    data.write_text(json.dumps({"id": "a", "question": "q", "context": "c", "answers": []}) + "\n")
    code = main(
        [
            "collect",
            "--data",
            str(data),
            "--out",
            str(tmp_path / "o.jsonl"),
            "--tier",
            f"s=m@{endpoint},key_env=FAKE_KEY_UNSET",
        ]
    )
    assert code == 2
    assert "FAKE_KEY_UNSET is not set" in capsys.readouterr().err


def test_collect_bad_data_file_names_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "qa.jsonl"
    data.write_text('{"id": "a"}\n')
    code = main(
        [
            "collect",
            "--data",
            str(data),
            "--out",
            str(tmp_path / "o.jsonl"),
            "--tier",
            "s=m@http://127.0.0.1:9/v1",
        ]
    )
    assert code == 2
    assert f"{data}:1" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "give --data (questions to collect) or --add-signals-to"),
    ],
)
def test_collect_rejects_bad_arguments_before_any_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    data = ["--data", "qa_mix_500"] if extra else []
    out = tmp_path / "o.jsonl"
    code = main(
        ["collect", *data, "--out", str(out), "--tier", "s=m@http://127.0.0.1:9/v1", *extra]
    )
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--k", "0", "argument --k: must be an integer >= 1, got '0'"),
        ("--k", "two", "argument --k: must be an integer >= 1, got 'two'"),
        ("--limit", "0", "argument --limit: must be an integer >= 1"),
        ("--concurrency", "0", "argument --concurrency: must be an integer >= 1"),
        ("--retries", "-1", "argument --retries: must be an integer >= 0"),
        ("--temperature", "nan", "argument --temperature: must be a finite number >= 0"),
        ("--temperature", "-0.5", "argument --temperature: must be a finite number >= 0"),
        ("--answer-max-tokens", "0", "argument --answer-max-tokens: must be an integer >= 1"),
        ("--verify-max-tokens", "-3", "argument --verify-max-tokens: must be an integer >= 1"),
        ("--threads", "0", "argument --threads: must be an integer >= 1"),
        ("--n-ctx", "0", "argument --n-ctx: must be an integer >= 1"),
    ],
)
def test_collect_checks_every_number_while_parsing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, message: str
) -> None:
    """A bad number stops `automix collect` in argparse: no model is started or called."""
    out = tmp_path / "o.jsonl"
    argv = ["collect", "--data", "qa_mix_500", "--out", str(out)]
    with pytest.raises(SystemExit) as info:
        main([*argv, "--tier", "s=m@http://127.0.0.1:9/v1", flag, value])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, "k must be an integer >= 1, got 0"),
        ({"concurrency": 0}, "concurrency must be an integer >= 1"),
        ({"retries": -1}, "retries must be an integer >= 0"),
    ],
)
def test_acollect_refuses_bad_settings_before_any_call(
    tmp_path: Path, kwargs: dict[str, int], message: str
) -> None:
    import asyncio

    from langchain_core.language_models import FakeListChatModel

    from langchain_automix.collection.collect import Tier, acollect
    from langchain_automix.collection.datasets import load_qa

    calls: list[str] = []

    class Counting(FakeListChatModel):
        def _call(self, *args: object, **kw: object) -> str:
            calls.append("call")
            return "x"

    model = Counting(responses=["x"])
    out = tmp_path / "o.jsonl"
    with pytest.raises(ValueError, match=message):
        asyncio.run(
            acollect(
                load_qa("qa_mix_500", limit=1),
                [Tier("s", model), Tier("l", model)],
                out,
                progress=False,
                **kwargs,  # type: ignore[arg-type]
            )
        )
    assert calls == [] and not out.exists()
