"""The AutoMix paper's data formats: its input layout through ``automix collect``, and its
released outputs through ``automix import-paper`` (no network: a loopback fake endpoint).

The layouts are those of ``automix-llm/automix`` (commit 531af3ee3c4e): input rows ``id``,
``pid``, ``base_ctx``, ``question``, ``output``, ``dataset``, ``split``; outputs add
``llama13b_pred_ans``, ``llama70b_pred_ans``, ``llama13b_ver`` (k sampled verifier
generations) and sometimes ``llama13b_f1``, ``llama70b_f1``, ``p_ver_13b``.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from langchain_automix.cli.main import main
from langchain_automix.collection.datasets import QADataError, load_qa
from langchain_automix.collection.paper import (
    PAPER_PROMPT_VERSION,
    PaperFormatError,
    detect_models,
    import_paper_outputs,
    iter_paper_rows,
    write_paper_replay,
)
from langchain_automix.collection.scoring import score, token_f1

CORRECT = "Evaluation: the context supports it.\n\nVerification Decision: The AI generated answer is Correct."
INCORRECT = "Evaluation: the context says otherwise.\n\nVerification Decision: The AI generated answer is Incorrect."
UNREADABLE = "Evaluation: the context is long and I am not sure what it says about this."


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- the input layout

STORY = (
    "(CNN) -- Three Pakistani cricketers were found guilty on Tuesday of taking bribes to "
    "fix parts of a Test match against England in 2010. All three had pleaded not guilty, "
    "and the jury at Southwark Crown Court deliberated for more than 16 hours."
)
NDA = (
    "1. Confidential Information means all information disclosed by the Disclosing Party. "
    "2. The Receiving Party shall hold the Confidential Information in strict confidence "
    "and shall return it within 30 days of a written request."
)
SCRIPT = (
    "Mark Hunter, a shy high school student in suburban Phoenix, runs a pirate radio "
    "station from his parents' basement under the name Happy Harry Hard-on."
)
ARTICLE = (
    "We evaluate our reader on SQuAD, a reading comprehension dataset of 100,000 "
    "questions posed by crowdworkers on a set of Wikipedia articles."
)
TALE = (
    "The narrator left the city of Ban because the mills had closed and there was no work "
    "left for a weaver; he walked north to find work in the mountain towns."
)

# (dataset, split, context, question, gold, small answer, large answer)
INPUTS = [
    ("coqa", "train", STORY, "how did they plead?", "not guilty", "not guilty", "not guilty"),
    (
        "coqa",
        "val",
        STORY,
        "where was the trial?",
        "Southwark Crown Court",
        "England",
        "Southwark Crown Court",
    ),
    (
        "cnli",
        "train",
        NDA,
        "Receiving Party shall return Confidential Information within 30 days of a request.",
        "Entailment",
        "Entailment",
        "Entailment",
    ),
    (
        "narrative_qa",
        "val",
        SCRIPT,
        "Who is Mark Hunter?",
        "A shy high school student",
        "a radio host",
        "a shy high school student",
    ),
    (
        "narrative_qa",
        "val",
        SCRIPT,
        "Who is Mark Hunter?",
        "He is a high school student in Phoenix.",
        "a radio host",
        "a shy high school student",
    ),
    (
        "qasper",
        "train",
        ARTICLE,
        "What dataset do they evaluate on?",
        "SQuAD",
        "Wikipedia",
        "SQuAD",
    ),
]


def _input_rows() -> list[dict[str, Any]]:
    rows = []
    for dataset, split, ctx, question, gold, _, _ in INPUTS:
        rows.append(
            {
                "id": _sha(ctx) if dataset == "coqa" else _sha(ctx + question)[:24],
                "pid": _sha(ctx + question + gold),
                "base_ctx": ctx,
                "question": question,
                "output": gold,
                "dataset": dataset,
                "split": split,
            }
        )
    return rows


class ScriptedOpenAI(BaseHTTPRequestHandler):
    """Answers each known question as scripted per model; the verifier says Correct on
    the small model's right answers (3 of 4 samples) and Incorrect on its wrong ones."""

    requests: list[dict[str, Any]] = []  # noqa: RUF012 - shared record for the test

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ScriptedOpenAI.requests.append(body)
        prompt = body["messages"][-1]["content"]
        n = int(body.get("n") or 1)
        if "AI Generated Answer:" in prompt:
            answer = prompt.rsplit("AI Generated Answer:", 1)[1].split("\n", 1)[0].strip()
            right = any(answer == small == gold for *_, gold, small, _ in INPUTS)
            texts = [CORRECT if right and i % 4 != 3 else INCORRECT for i in range(n)]
        else:
            row = next(r for r in INPUTS if f"Question: {r[3]}" in prompt)
            texts = [row[6] if body["model"] == "big" else row[5]] * n
        self._reply(
            {
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
                    for i, text in enumerate(texts)
                ],
                "usage": {"prompt_tokens": 50, "completion_tokens": 5, "total_tokens": 55},
            }
        )

    def _reply(self, out: dict[str, Any]) -> None:
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def endpoint() -> Iterator[str]:
    ScriptedOpenAI.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def _write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_paper_input_rows_map_to_qa_items(tmp_path: Path) -> None:
    rows = _input_rows()
    rows[5]["output"] = ["SQuAD", "SQuAD v1.1"]  # a list of golds is kept as it is
    items = load_qa(_write_jsonl(tmp_path / "in.jsonl", rows))
    assert [i.id for i in items] == [r["pid"] for r in rows]
    assert [i.context for i in items] == [r["base_ctx"] for r in rows]
    assert items[0].answers == ("not guilty",) and items[5].answers == ("SQuAD", "SQuAD v1.1")
    assert [i.dataset for i in items] == [r["dataset"] for r in rows]
    # the paper's id repeats (one CoQA story, one question listed per reference answer)
    assert items[0].extra == {"split": "train", "paper_id": rows[0]["id"]}
    assert items[0].extra["paper_id"] == items[1].extra["paper_id"]
    # no pid: the id is the key; no output: no gold answers
    bare = {k: v for k, v in rows[0].items() if k not in ("pid", "output")}
    (item,) = load_qa(_write_jsonl(tmp_path / "bare.jsonl", [bare]))
    assert item.id == rows[0]["id"] and item.answers is None and "paper_id" not in item.extra


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(context=r["base_ctx"]), "mixes two layouts: context"),
        (lambda r: r.update(answers=[r["output"]]), "mixes two layouts: answers"),
        (
            lambda r: r.update(context=r.pop("base_ctx")),
            r"mixes two layouts: context \(this package's\) with output",
        ),
        (
            lambda r: r.pop("base_ctx"),
            r"missing field\(s\) context \(or, in the AutoMix paper's layout, base_ctx and output\)",
        ),
        (lambda r: (r.pop("pid"), r.pop("id")), r"missing field\(s\) pid or id"),
        (lambda r: r.update(output=7), "'output' must be a string or a list of strings"),
    ],
)
def test_bad_paper_input_lines_name_file_and_line(tmp_path: Path, change, message) -> None:
    rows = _input_rows()
    change(rows[1])
    path = _write_jsonl(tmp_path / "in.jsonl", rows)
    with pytest.raises(QADataError, match=message) as info:
        load_qa(path)
    assert f"{path}:2:" in str(info.value)


def test_paper_input_layout_collect_fit_evaluate(
    endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-fake-0123456789")
    data = _write_jsonl(tmp_path / "automix_inputs.jsonl", _input_rows())
    replay = tmp_path / "replay.jsonl"
    tiers = [
        "--tier",
        f"small=tiny@{endpoint},key_env=FAKE_KEY",
        "--tier",
        f"large=big@{endpoint},key_env=FAKE_KEY",
    ]
    argv = ["collect", "--data", str(data), "--out", str(replay), "--k", "4", "--no-progress"]
    assert main([*argv, *tiers]) == 0
    rows = [json.loads(line) for line in replay.read_text().splitlines()]
    want = _input_rows()
    assert [r["id"] for r in rows] == [w["pid"] for w in want]
    assert [r["context"] for r in rows] == [w["base_ctx"] for w in want]
    assert [r["answers"] for r in rows] == [[w["output"]] for w in want]
    assert [r["dataset"] for r in rows] == [w["dataset"] for w in want]
    # the base_ctx reached the models as the passage
    solves = [r for r in ScriptedOpenAI.requests if "AI Generated Answer:" not in str(r)]
    assert any(STORY in m["content"] for r in solves for m in r["messages"])
    for row, (_, _, _, _, gold, small, large) in zip(rows, INPUTS, strict=True):
        s, big = row["tiers"]
        assert (s["answer"], big["answer"]) == (small, large)
        assert s["score"] == score(small, [gold]).f1 and big["score"] == score(large, [gold]).f1
        assert s["verifier_confidence"] == (0.75 if small == gold else 0.0)
        assert len(s["verifier_samples"]) == 4

    policy = tmp_path / "policy.json"
    fit = ["fit", "--method", "threshold", "--train", str(replay), "--signal", "verifier"]
    assert main([*fit, "--no-robust", "-o", str(policy)]) == 0
    capsys.readouterr()
    evaluate = ["evaluate", "--policy", str(policy), "--test", str(replay), "--json"]
    assert main([*evaluate, "--bootstrap", "0"]) == 0
    payload = json.loads(capsys.readouterr().out)
    small_mean = sum(r["tiers"][0]["score"] for r in rows) / len(rows)
    large_mean = sum(r["tiers"][1]["score"] for r in rows) / len(rows)
    assert payload["baselines"]["always_small"]["avg_performance"] == pytest.approx(small_mean)
    assert payload["baselines"]["always_large"]["avg_performance"] == pytest.approx(large_mean)
    assert "threshold" in payload["methods"]
    assert "only 6 test rows" in payload["warnings"][0]


# --------------------------------------------------------------------------- released outputs

DATASETS = ("cnli", "coqa", "narrative_qa", "qasper", "quality")
K = 8


def _paper_p_ver(samples: list[str]) -> float:
    """The paper's confidence: substring counts over the lower-cased generations."""
    valid = [s for s in samples if "the ai generated answer is" in s.lower()]
    if not valid:
        return 0
    return sum("the ai generated answer is correct" in s.lower() for s in valid) / len(valid)


def _output_rows(n: int = 40, *, f1: bool = False, p_ver: bool = True) -> list[dict[str, Any]]:
    """Rows in the released-output layout, with known confidences and F1 scores."""
    rows = []
    for i in range(n):
        gold = f"the harbour of port {i}"
        small = gold if i % 3 else f"the river near town {i}"
        large = gold if i % 5 else f"port {i} harbour master"
        invalid = 1 if i % 4 == 0 else 0
        correct = (i * 3) % (K - invalid + 1)
        samples = (
            [CORRECT] * correct + [INCORRECT] * (K - invalid - correct) + [UNREADABLE] * invalid
        )
        if i == 7:  # no readable decision at all
            samples = [UNREADABLE] * K
        if i == 11:  # a quoted decision: the paper's substring count reads it, ours does not
            samples[0] = (
                'The answer says "the AI generated answer is correct". Verification Decision: '
                "The AI generated answer is Incorrect."
            )
        ctx = f"Ships come in at the harbour of port {i}; the river near town {i} is shallow."
        row: dict[str, Any] = {
            "id": _sha(ctx),
            "pid": _sha(ctx + f"q{i}"),
            "base_ctx": ctx,
            "question": f"Where do the ships of line {i} come in?",
            "output": gold,
            "dataset": DATASETS[i % len(DATASETS)],
            "split": "train" if i % 2 else "val",
            "llama13b_pred_ans": small,
            "llama70b_pred_ans": large,
            "llama13b_ver": samples,
            "category": "NEEDY",
        }
        if p_ver:
            row["p_ver_13b"] = _paper_p_ver(samples)
        if f1:
            row["llama13b_f1"] = token_f1(small, gold)
            row["llama70b_f1"] = float(i % 2 == 0) if i % 5 == 0 else token_f1(large, gold)
        rows.append(row)
    return rows


def _expected_confidence(samples: list[str]) -> tuple[float, int]:
    valid = [s for s in samples if s in (CORRECT, INCORRECT) or "Verification Decision" in s]
    correct = sum(s == CORRECT for s in valid)
    return (correct / len(valid) if valid else 0.0), len(valid)


def test_import_paper_then_evaluate(tmp_path: Path, capsys) -> None:
    src = _write_jsonl(tmp_path / "automix_llama2_outputs.jsonl", _output_rows())
    out = tmp_path / "paper_replay.jsonl"
    assert main(["import-paper", str(src), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"import-paper: 40 of 40 rows -> {out}" in err
    assert "tiers llama13b, llama70b, k=8" in err
    assert "scores of llama13b: 40 computed (SQuAD F1 against output)" in err
    assert "llama13b: 1 rows without a readable verifier decision" in err
    assert "llama13b: confidence differs from the paper's p_ver_13b on 1 rows" in err

    source = _output_rows()
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == len(source)
    for row, src_row in zip(rows, source, strict=True):
        small, large = row["tiers"]
        assert row["id"] == src_row["pid"] and row["paper_id"] == src_row["id"]
        assert (row["dataset"], row["split"]) == (src_row["dataset"], src_row["split"])
        assert row["context"] == src_row["base_ctx"] and row["answers"] == [src_row["output"]]
        assert row["prompt_version"] == PAPER_PROMPT_VERSION and row["k"] == K
        assert (small["model"], large["model"]) == ("llama13b", "llama70b")
        assert small["answer"] == src_row["llama13b_pred_ans"]
        assert small["score"] == token_f1(src_row["llama13b_pred_ans"], src_row["output"])
        assert large["score"] == token_f1(src_row["llama70b_pred_ans"], src_row["output"])
        assert small["score_from"] == large["score_from"] == "squad_f1"
        confidence, n_valid = _expected_confidence(src_row["llama13b_ver"])
        assert small["verifier_confidence"] == pytest.approx(confidence)
        assert small["verifier_n_valid"] == n_valid
        assert small["verifier_samples"] == src_row["llama13b_ver"]
        assert small["paper_verifier_confidence"] == src_row["p_ver_13b"]
        assert "verifier_confidence" not in large and "latency_s" not in small
    assert rows[7]["tiers"][0]["verifier_confidence"] == 0.0
    assert (
        rows[11]["tiers"][0]["verifier_confidence"]
        != rows[11]["tiers"][0]["paper_verifier_confidence"]
    )
    # spot checks with numbers worked out by hand
    assert rows[0]["tiers"][0]["verifier_confidence"] == 0.0  # 0 of 7 readable say Correct
    assert rows[2]["tiers"][0]["verifier_confidence"] == 6 / 8
    assert rows[3]["tiers"][0]["score"] == pytest.approx(0.25)  # "the river near town 3"
    assert rows[5]["tiers"][1]["score"] == pytest.approx(0.75)  # 3 of 4 tokens

    capsys.readouterr()
    argv = ["evaluate", "--train", str(out), "--methods", "threshold", "--seeds", "2"]
    assert main([*argv, "--bootstrap", "0", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    (report,) = payload["verifier"]
    assert report["model"] == "llama13b" and report["n_rows"] == 40
    small_scores = [r["tiers"][0]["score"] for r in rows]
    assert report["quality"] == pytest.approx(sum(small_scores) / 40)
    conf = [r["tiers"][0]["verifier_confidence"] for r in rows]
    right = [c for c, s in zip(conf, small_scores, strict=True) if s >= 0.5]
    assert report["mean_confidence_correct"] == pytest.approx(sum(right) / len(right))
    readable = sum(_expected_confidence(r["llama13b_ver"])[1] for r in source)
    assert report["invalid_sample_share"] == pytest.approx(1 - readable / (40 * K))


def test_import_uses_the_f1_columns_and_filters_by_split_and_dataset(tmp_path: Path) -> None:
    source = _output_rows(f1=True, p_ver=False)
    src = _write_jsonl(tmp_path / "outputs.jsonl", source)
    done = import_paper_outputs(src)
    assert done.scores_from == {
        "llama13b": {"llama13b_f1": 40, "squad_f1": 0},
        "llama70b": {"llama70b_f1": 40, "squad_f1": 0},
    }
    assert done.confidence_differs == {} and done.k == K
    for row, src_row in zip(done.rows, source, strict=True):
        small, large = row["tiers"]
        assert (small["score"], large["score"]) == (src_row["llama13b_f1"], src_row["llama70b_f1"])
        assert small["score_from"] == "llama13b_f1" and "paper_verifier_confidence" not in small
    # the quality rows' scores are booleans once pandas writes them
    source[4]["llama70b_f1"] = True
    _write_jsonl(src, source)
    assert import_paper_outputs(src).rows[4]["tiers"][1]["score"] == 1.0

    source[4]["p_ver_13b"] = _paper_p_ver(source[4]["llama13b_ver"])
    _write_jsonl(src, source)
    agreed = import_paper_outputs(src)
    assert agreed.confidence_differs == {"llama13b": 0}
    assert agreed.confidence_columns == {"llama13b": "p_ver_13b"}

    val = import_paper_outputs(src, split="val", dataset="coqa")
    want = [r["pid"] for r in source if r["split"] == "val" and r["dataset"] == "coqa"]
    assert [r["id"] for r in val.rows] == want and val.left_out == 40 - len(want)
    assert [r["id"] for r in iter_paper_rows(src, split="val", dataset="coqa")] == want
    out = tmp_path / "val.jsonl"
    stats = write_paper_replay(src, out, split="val")
    assert stats.written == 20 and stats.rows == [] and len(out.read_text().splitlines()) == 20


def test_models_named_or_detected() -> None:
    cols = ["llama70b_pred_ans", "llama13b_pred_ans", "llama13b_ver", "llama13b_ver_n32"]
    assert detect_models(cols) == ("llama13b", "llama70b")
    assert detect_models(cols, "_ver_n32") == ("llama13b", "llama70b")
    three = [
        "gpt4_pred_ans",
        "llama13b_pred_ans",
        "llama70b_pred_ans",
        "llama13b_ver",
        "llama70b_ver",
    ]
    assert detect_models(three) == ("llama13b", "llama70b", "gpt4")
    with pytest.raises(PaperFormatError, match="columns found: id, llama13b_pred_ans"):
        detect_models(["id", "llama13b_pred_ans"])
    with pytest.raises(PaperFormatError, match="cannot tell the models' order"):
        detect_models(["a_pred_ans", "b_pred_ans", "c_pred_ans", "a_ver"])
    with pytest.raises(PaperFormatError, match="no verifier generations"):
        detect_models(["a_pred_ans", "b_pred_ans"])


def test_three_models_by_name(tmp_path: Path) -> None:
    source = _output_rows(6)
    for r in source:
        r["gpt4_pred_ans"] = r["output"]
        r["llama70b_ver"] = [CORRECT, CORRECT, INCORRECT, CORRECT]
    src = _write_jsonl(tmp_path / "three.jsonl", source)
    done = import_paper_outputs(src, small="llama13b", middle=["llama70b"], large="gpt4")
    assert done.models == ("llama13b", "llama70b", "gpt4") and done.k is None
    tiers = done.rows[0]["tiers"]
    assert [t["model"] for t in tiers] == ["llama13b", "llama70b", "gpt4"]
    assert tiers[1]["verifier_confidence"] == 0.75 and tiers[2]["score"] == 1.0
    assert "k" not in done.rows[0]  # 8 and 4 generations: no single k


def _bad(rows: list[dict[str, Any]], lineno: int, change) -> list[Any]:
    change(rows[lineno - 1])
    return rows


@pytest.mark.parametrize(
    ("argv", "make", "message"),
    [
        (
            [],
            lambda: [
                {k: v for k, v in r.items() if not k.startswith("llama")} for r in _output_rows(3)
            ],
            "need answer columns of at least two models .*columns found: base_ctx, category, dataset, id, "
            "output, p_ver_13b, pid, question, split",
        ),
        (
            ["--small-prefix", "gpt3", "--large-prefix", "llama70b"],
            lambda: _output_rows(3),
            r"no column\(s\) gpt3_pred_ans, gpt3_ver for models gpt3, llama70b; columns found: ",
        ),
        (
            [],
            lambda: _bad(_output_rows(3), 2, lambda r: r.pop("llama13b_ver")),
            r":2: column 'llama13b_ver' \(the verifier generations\) is missing",
        ),
        (
            [],
            lambda: _bad(
                _output_rows(3),
                3,
                lambda r: r.update(answers=[r.pop("output")], context=r.pop("base_ctx")),
            ),
            r":3: has 'answers' \(this package's layout\) instead of the paper's 'output'",
        ),
        (
            [],
            lambda: _bad(_output_rows(3), 2, lambda r: r.update(llama70b_pred_ans=None)),
            r":2: column 'llama70b_pred_ans' is not a string \(None\)",
        ),
        (
            [],
            lambda: _bad(_output_rows(3), 3, lambda r: r.update(pid=_output_rows(1)[0]["pid"])),
            r":3: duplicated id '[0-9a-f]+' \(first on line 1\)",
        ),
        (
            [],
            lambda: _bad(_output_rows(3), 2, lambda r: r.update(llama13b_f1=1.5)),
            r":2: column 'llama13b_f1' must be a number in \[0, 1\], got 1.5",
        ),
        (
            [],
            lambda: _bad(_output_rows(3), 2, lambda r: r.update(llama13b_ver=[1, 2])),
            r":2: column 'llama13b_ver' must be a list of strings",
        ),
        (
            ["--small-prefix", "llama13b"],
            lambda: _output_rows(3),
            "give both --small-prefix and --large-prefix",
        ),
    ],
)
def test_import_errors_exit_2_and_write_nothing(
    tmp_path: Path, capsys, argv: list[str], make, message: str
) -> None:
    src = _write_jsonl(tmp_path / "outputs.jsonl", make())
    out = tmp_path / "replay.jsonl"
    assert main(["import-paper", str(src), "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("import-paper: ")
    assert re.search(message, err), err
    if message.startswith(":"):  # a line's problem: the file and line are named
        assert f"{src}{message[:3]}" in err
    assert not out.exists()


def test_bad_json_line_is_named_and_every_bad_line_counted(tmp_path: Path, capsys) -> None:
    lines = [json.dumps(r) for r in _output_rows(4)]
    lines[1] = lines[1][:-10]  # a torn line
    lines[3] = json.dumps({**json.loads(lines[3]), "llama13b_pred_ans": 3})
    src = tmp_path / "outputs.jsonl"
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "replay.jsonl"
    assert main(["import-paper", str(src), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{src}:2: invalid JSON" in err and "(2 bad lines in all; nothing was imported)" in err
    assert not out.exists()


def test_out_is_never_replaced_without_force(tmp_path: Path, capsys) -> None:
    src = _write_jsonl(tmp_path / "outputs.jsonl", _output_rows(3))
    out = tmp_path / "replay.jsonl"
    out.write_text("keep me\n")
    assert main(["import-paper", str(src), "--out", str(out)]) == 2
    assert "exists; replace it with --force" in capsys.readouterr().err
    assert out.read_text() == "keep me\n"
    assert main(["import-paper", str(src), "--out", str(out), "--force"]) == 0
    assert len(out.read_text().splitlines()) == 3
    assert not list(tmp_path.glob(".*.tmp"))
    assert (
        main(["import-paper", str(src), "--out", str(tmp_path / "x.jsonl"), "--split", "test"]) == 2
    )
    assert "no row has split='test'" in capsys.readouterr().err
