from __future__ import annotations

import json
from pathlib import Path

import pytest

from langchain_automix.collection.datasets import QADataError, load_corpus, load_qa, shipped_path


def test_shipped_subset_schema_and_mix() -> None:
    items = load_qa("qa_mix_500")
    assert len(items) == 500
    by = {d: [i for i in items if i.dataset == d] for d in ("squad_v2", "boolq")}
    assert len(by["squad_v2"]) == 300 and len(by["boolq"]) == 200
    assert any(not i.answers for i in by["squad_v2"])  # unanswerable ones kept
    assert all(i.answers in (("yes",), ("no",)) for i in by["boolq"])
    assert all(len(i.context.split()) <= 150 for i in items)
    assert len({i.id for i in items}) == 500


def test_shipped_squad11_halves_are_disjoint_answerable_and_short() -> None:
    first, extra = load_qa("squad11_200"), load_qa("squad11_extra_200")
    assert len(first) == len(extra) == 200
    assert not {i.id for i in first} & {i.id for i in extra}
    for items in (first, extra):
        assert {i.dataset for i in items} == {"squad_v1.1"}
        assert all(i.answers for i in items)
        assert all(len(i.context.split()) <= 150 for i in items)
        assert len({i.id for i in items}) == 200


def test_shipped_data_has_license_and_readme() -> None:
    folder = shipped_path("qa_mix_500").parent
    readme = (folder / "README.md").read_text()
    assert "CC BY-SA 4.0" in readme and "CC BY-SA 3.0" in readme
    assert "Rajpurkar" in readme and "Clark" in readme
    assert (folder / "LICENSE-DATA").is_file()


def test_shipped_corpus_holds_every_gold_paragraph_with_its_article() -> None:
    docs = load_corpus()
    assert len(docs) == 2067 and len({d.id for d in docs}) == 2067
    titles = {d.metadata["title"] for d in docs}
    assert len(titles) == 48
    texts = {d.page_content for d in docs}
    for item in load_qa("squad11_200") + load_qa("squad11_extra_200"):
        assert item.context in texts
        assert item.extra["title"] in titles
    assert all(d.metadata["source"].startswith("github:rajpurkar/SQuAD-explorer@") for d in docs)
    readme = (shipped_path("squad11_paragraphs").parent / "README.md").read_text()
    assert "squad11_paragraphs.jsonl" in readme


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{oops", "invalid JSON"),
        (json.dumps({"id": "a"}), "'id' and a string 'text'"),
        (json.dumps({"text": "t"}), "'id' and a string 'text'"),
    ],
)
def test_corpus_loader_errors_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    p = tmp_path / "corpus.jsonl"
    p.write_text(json.dumps({"id": "x", "text": "fine"}) + "\n" + line + "\n")
    with pytest.raises(QADataError, match=message) as err:
        load_corpus(p)
    assert f"{p}:2" in str(err.value)


def test_corpus_loader_refuses_duplicated_ids_and_keeps_metadata(tmp_path: Path) -> None:
    p = tmp_path / "corpus.jsonl"
    row = {"id": 7, "text": "t", "title": "T"}
    p.write_text(json.dumps(row) + "\n")
    (doc,) = load_corpus(p)
    assert (doc.id, doc.page_content, doc.metadata) == ("7", "t", {"title": "T"})
    p.write_text(json.dumps(row) + "\n\n" + json.dumps(row) + "\n")
    with pytest.raises(QADataError, match="duplicated id '7'"):
        load_corpus(p)


def _write(tmp_path: Path, lines: list[str]) -> Path:
    p = tmp_path / "qa.jsonl"
    p.write_text("\n".join(lines) + "\n")
    return p


GOOD = json.dumps({"id": "a", "question": "q?", "context": "c", "answers": ["x"]})


def test_loader_reads_and_limits(tmp_path: Path) -> None:
    b = json.dumps({"id": "b", "question": "q?", "context": "c", "answers": [], "title": "T"})
    items = load_qa(_write(tmp_path, [GOOD, "", b]))
    assert [i.id for i in items] == ["a", "b"]
    assert items[1].answers == () and items[1].extra == {"title": "T"}
    assert len(load_qa(_write(tmp_path, [GOOD, b]), limit=1)) == 1


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "invalid JSON"),
        (json.dumps({"id": "b", "question": "q", "answers": []}), "missing field"),
        (json.dumps({"id": "b", "question": "q", "context": "c", "answers": "x"}), "answers"),
        (json.dumps([1, 2]), "expected a JSON object"),
        (GOOD, "duplicated id"),
    ],
)
def test_loader_errors_name_file_and_line(tmp_path: Path, bad: str, message: str) -> None:
    path = _write(tmp_path, [GOOD, bad])
    with pytest.raises(QADataError, match=message) as info:
        load_qa(path)
    assert f"{path}:2" in str(info.value)


@pytest.mark.parametrize(
    ("answers_from", "reverified"),
    [
        ("replay_local_qwen.jsonl", "replay_local_qwen_shared.jsonl"),
        ("replay_local_qwen_squad11.jsonl", "replay_local_qwen_squad11_shared.jsonl"),
    ],
)
def test_shared_layout_replays_hold_the_same_answers_verified_the_shared_way(
    answers_from: str, reverified: str
) -> None:
    """The demo calibrates on the shared-layout mix replay and verifies live the way its
    ``prompt_version`` names; each shared replay re-verifies another replay's answers."""
    from langchain_automix.prompts import verification_layout

    folder = shipped_path("qa_mix_500").parent
    old = [json.loads(line) for line in (folder / answers_from).read_text().splitlines()]
    new = [json.loads(line) for line in (folder / reverified).read_text().splitlines()]
    assert [r["id"] for r in new] == [r["id"] for r in old]
    for a, b in zip(old, new, strict=True):
        assert [t["answer"] for t in b["tiers"]] == [t["answer"] for t in a["tiers"]]
        assert b["tiers"][0]["answer_reused"] is True
    assert {verification_layout(r["prompt_version"]) for r in new} == {("shared", "verdict")}
    assert reverified in (folder / "README.md").read_text()
