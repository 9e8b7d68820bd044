"""Malformed policy files are refused with the field named (#26, item 5)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from langchain_automix.meta_verifiers import MetaVerifier
from langchain_automix.meta_verifiers.base import PolicyError

SHIPPED = Path(__file__).resolve().parents[3] / "langchain_automix" / "data"
BASE: dict[str, Any] = json.loads((SHIPPED / "policy_pomdp_local_qwen.json").read_text())


def _inner(d: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = d["params"]["policy"]["params"]
    return params


def _unknown_top(d: dict[str, Any]) -> None:
    d["comment"] = "hand edited"


def _version_true(d: dict[str, Any]) -> None:
    d["version"] = True


def _fitted_bandwidth_zero(d: dict[str, Any]) -> None:
    _inner(d)["fitted"]["bandwidth"] = 0.0


def _fitted_bandwidth_negative(d: dict[str, Any]) -> None:
    _inner(d)["fitted"]["bandwidth"] = -0.1


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_unknown_top, r"unknown policy field\(s\) \['comment'\]"),
        (_version_true, "unsupported policy version True"),
        (_fitted_bandwidth_zero, "fitted.bandwidth must be positive, got 0.0"),
        (_fitted_bandwidth_negative, "fitted.bandwidth must be positive"),
    ],
)
def test_malformed_policy_dict_is_refused(edit: Any, message: str) -> None:
    MetaVerifier.from_dict(copy.deepcopy(BASE))  # the shipped file loads
    bad = copy.deepcopy(BASE)
    edit(bad)
    with pytest.raises(PolicyError, match=message):
        MetaVerifier.from_dict(bad)


def test_duplicate_json_keys_are_refused(tmp_path: Path) -> None:
    text = json.dumps(BASE)
    path = tmp_path / "dup.json"
    # the same key twice in one object: json would silently keep the last one
    path.write_text(text.replace('"version": 1,', '"version": 1, "version": 1,', 1))
    assert text != path.read_text()
    with pytest.raises(PolicyError, match=r"dup.json: the key 'version' appears twice"):
        MetaVerifier.load(path)


@pytest.mark.parametrize("digits", [400, 5000])
def test_huge_integers_are_refused_not_a_traceback(tmp_path: Path, digits: int) -> None:
    bad = copy.deepcopy(BASE)
    path = tmp_path / "huge.json"
    text = json.dumps(bad).replace('"quality_bins": 10', '"quality_bins": ' + "9" * digits, 1)
    path.write_text(text)
    with pytest.raises(PolicyError, match=r"huge.json: .*(integer|number)"):
        MetaVerifier.load(path)
