"""The one JSON Lines reader every JSONL file of the package goes through."""

from __future__ import annotations

from pathlib import Path

import pytest

from langchain_automix._jsonl import json_lines


class _MyError(Exception):
    pass


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_text(text, encoding="utf-8")
    return path


def test_blank_lines_are_skipped_but_counted(tmp_path: Path) -> None:
    path = write(tmp_path, '\n{"a": 1}\n   \n\n[1, 2]\n"x"\n\n')
    assert list(json_lines(path)) == [(2, {"a": 1}), (5, [1, 2]), (6, "x")]
    assert list(json_lines(str(path))) == list(json_lines(path))
    assert list(json_lines(write(tmp_path, ""))) == []


def test_last_line_without_newline_is_read(tmp_path: Path) -> None:
    assert list(json_lines(write(tmp_path, '{"a": 1}\n{"b": 2}'))) == [(1, {"a": 1}), (2, {"b": 2})]


def test_bad_json_raises_the_given_type_naming_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '{"a": 1}\n\n{"a": \n{"b": 2}\n')
    with pytest.raises(ValueError) as info:
        list(json_lines(path))
    assert str(info.value) == f"{path}:3: invalid JSON (Expecting value)"
    assert info.value.__cause__ is None and info.value.__suppress_context__
    with pytest.raises(_MyError, match=r"rows\.jsonl:3: invalid JSON \(Expecting value\)"):
        list(json_lines(path, error=_MyError))


def test_rows_before_a_bad_line_are_yielded_first(tmp_path: Path) -> None:
    rows = json_lines(write(tmp_path, '{"a": 1}\nnope\n'))
    assert next(rows) == (1, {"a": 1})
    with pytest.raises(ValueError, match=":2: invalid JSON"):
        next(rows)


@pytest.mark.parametrize(("line", "kind"), [("[1]", "list"), ('"s"', "str"), ("3", "int")])
def test_objects_refuses_a_non_object_line(tmp_path: Path, line: str, kind: str) -> None:
    path = write(tmp_path, f'{{"a": 1}}\n\n{line}\n')
    assert list(json_lines(path))[-1][0] == 3  # accepted without objects=True
    with pytest.raises(_MyError) as info:
        list(json_lines(path, error=_MyError, objects=True))
    assert str(info.value) == f"{path}:3: expected a JSON object, got {kind}"


def test_on_bad_yields_the_problem_instead_of_raising(tmp_path: Path) -> None:
    path = write(tmp_path, '{"a": 1}\n{oops\n\n[1]\n{"b": 2}\n')
    got = list(json_lines(path, objects=True, on_bad=lambda problem: ("bad", problem)))
    assert got == [
        (1, {"a": 1}),
        (2, ("bad", "invalid JSON (Expecting property name enclosed in double quotes)")),
        (4, ("bad", "expected a JSON object, got list")),
        (5, {"b": 2}),
    ]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(json_lines(tmp_path / "missing.jsonl"))
