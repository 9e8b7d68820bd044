"""The "Write your own meta-verifier" example of docs/meta-verifiers.md runs as written."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest

from langchain_automix.meta_verifiers.base import META_VERIFIERS, Observation

DOC = Path(__file__).resolve().parents[3] / "docs" / "meta-verifiers.md"


def example() -> str:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(
        r"<!-- write-your-own:start -->\n```python\n(.*?)```\n<!-- write-your-own:end -->",
        text,
        re.S,
    )
    assert block, "the example's markers are gone from docs/meta-verifiers.md"
    return block.group(1)


def test_example_fits_saves_loads_and_routes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        "langchain_automix.meta_verifiers.base.META_VERIFIERS", dict(META_VERIFIERS)
    )
    namespace: dict[str, Any] = {"__name__": "example"}
    exec(compile(example(), str(DOC), "exec"), namespace)  # noqa: S102 - the documented example
    printed = capsys.readouterr().out.strip()
    assert math.isfinite(float(printed))  # the held-out ΔIBC
    policy = namespace["loaded"]
    assert (tmp_path / "yes_no.json").is_file()
    assert 0.0 <= policy.threshold <= 1.0 and policy.provenance is not None
    # the rule itself: a yes/no answer needs half the confidence
    obs = Observation(tier=0, n_tiers=2, confidence=policy.threshold / 2, n_valid=8, n_samples=8)
    assert policy.decide(obs) == ("accept" if policy.threshold == 0 else "escalate")
    yes = Observation(
        tier=0, n_tiers=2, confidence=policy.threshold / 2, n_valid=8, n_samples=8, answer="Yes."
    )
    assert policy.decide(yes) == "accept"
