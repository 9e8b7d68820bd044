"""Policy provenance and strict policy-file validation (issue #13, parts 4 and 5)."""

from __future__ import annotations

import json
import warnings
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.language_models import FakeListChatModel

import langchain_automix
from langchain_automix import AutoMixRunnable
from langchain_automix.calibration.replay import ReplayDataset, write_replay
from langchain_automix.calibration.synthetic import synthetic_replay
from langchain_automix.meta_verifiers import (
    POMDP,
    AutomixUnion,
    Calibrated,
    DoubleThreshold,
    FixedAnswerRouting,
    GreedyPOMDP,
    MetaVerifier,
    PolicyError,
    PolicyMismatchError,
    PolicyMismatchWarning,
    Provenance,
    SelfConsistency,
    Threshold,
    check_provenance,
)

FAKE = "fake-list-chat-model"  # what model_name() calls a FakeListChatModel


def _rows(
    n: int = 200, *, k: int | None = 8, models: tuple[str, str] = (FAKE, FAKE)
) -> ReplayDataset:
    """Synthetic rows as ``automix collect`` writes them (models and ``k`` recorded)."""
    data = synthetic_replay(n, seed=5)
    records = []
    for i in range(n):
        small = {
            "model": models[0],
            "answer": "a",
            "score": float(data.scores[i, 0]),
            "verifier_confidence": float(data.confidences[i, 0]),
        }
        rec: dict[str, Any] = {
            "id": f"q{i}",
            "tiers": [small, {"model": models[1], "score": float(data.scores[i, 1])}],
        }
        if k is not None:
            rec["k"] = k
        records.append(rec)
    return ReplayDataset.from_records(records)


def _fakes() -> list[FakeListChatModel]:
    return [FakeListChatModel(responses=["x"]), FakeListChatModel(responses=["y"])]


# ------------------------------------------------------------------------- provenance
def test_fit_records_provenance_and_files_keep_it(tmp_path: Path) -> None:
    data = _rows()
    policy = POMDP().fit(data, costs=(1, 20), verify_costs=2, target_llm_share=0.3)
    prov = policy.provenance
    assert prov is not None
    assert prov.costs == (1.0, 20.0) and prov.verify_costs == (2.0,)
    assert prov.models == (FAKE, FAKE) and prov.k == 8
    assert prov.signal == "verifier" and prov.objective == "target_share=0.3"
    assert prov.n_rows == 200 and prov.data_sha256 == data.fingerprint()
    assert len(prov.data_sha256) == 64
    assert prov.package_version == langchain_automix.__version__
    assert datetime.fromisoformat(prov.fitted_at).tzinfo is not None
    assert prov.warnings == ()
    loaded = MetaVerifier.load(policy.save(tmp_path / "p.json"))
    assert loaded.provenance == prov
    assert loaded.to_dict() == policy.to_dict()


def test_calibrated_provenance_names_its_signal() -> None:
    data = synthetic_replay(200, seed=0)
    policy = Calibrated(Threshold(), signal="verifier", robust=False).fit(data)
    assert policy.provenance is not None and policy.provenance.signal == "verifier"
    assert policy.provenance.k is None  # rows that do not record k
    assert policy.provenance.models == ("small", "large")


def test_fingerprint_is_stable_and_sensitive(tmp_path: Path) -> None:
    data = _rows(50)
    again = ReplayDataset.from_jsonl(write_replay(data, tmp_path / "r.jsonl"))
    assert again.fingerprint() == data.fingerprint()
    assert data.subset(np.arange(50)).fingerprint() == data.fingerprint()
    plain = ReplayDataset.from_arrays(data.scores, data.confidences, ids=list(data.ids))
    scores = data.scores.copy()
    scores[7, 0] = 0.5 if scores[7, 0] != 0.5 else 0.25
    other = ReplayDataset.from_arrays(scores, data.confidences, ids=list(data.ids))
    assert other.fingerprint() != plain.fingerprint()
    assert plain.with_confidences(data.confidences * 0.5).fingerprint() != plain.fingerprint()
    assert data.subset(np.arange(50)[::-1]).fingerprint() != data.fingerprint()


def test_policy_files_without_provenance_still_load(tmp_path: Path) -> None:
    for name in ("pomdp", "threshold", "free"):
        path = Path(str(files("langchain_automix") / f"data/policy_{name}_local_qwen.json"))
        policy = MetaVerifier.load(path)
        payload = json.loads(path.read_text(encoding="utf-8"))
        payload.pop("provenance", None)
        old = tmp_path / f"old_{name}.json"
        old.write_text(json.dumps(payload), encoding="utf-8")
        legacy = MetaVerifier.load(old)
        assert legacy.provenance is None
        assert legacy.describe() == policy.describe()
        assert "provenance" not in legacy.to_dict()


def test_shipped_policies_record_where_they_came_from() -> None:
    path = files("langchain_automix") / "data/policy_pomdp_local_qwen.json"
    prov = MetaVerifier.load(str(path)).provenance
    assert prov is not None
    assert prov.models == ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")
    assert prov.k == 8 and prov.costs == (1.0, 50.0) and prov.n_rows == 305
    shipped = ReplayDataset.from_jsonl(
        str(files("langchain_automix") / "data/replay_local_qwen.jsonl")
    )
    assert prov.data_sha256 == shipped.fingerprint()


# ------------------------------------------------------------------ the runnable's check
def test_runnable_warns_naming_each_difference() -> None:
    policy = Threshold().fit(_rows(models=("small-x", FAKE)), costs=(1, 20))
    with pytest.warns(PolicyMismatchWarning) as record:
        AutoMixRunnable(models=_fakes(), meta_verifier=policy, num_verifications=4)
    message = str(record[0].message)
    assert "tier 0 model: fitted for 'small-x', got 'fake-list-chat-model'" in message
    assert "tier 1 model" not in message
    assert "unit costs: fitted with (1, 20), got (1, 50)" in message
    assert "verification costs: fitted with (1), got (1)" not in message
    assert "verifier samples k: fitted with 8, got 4" in message


def test_runnable_strict_policy_raises() -> None:
    policy = Threshold().fit(_rows(), costs=(1, 50))
    with pytest.raises(ValueError, match="verifier samples k: fitted with 8, got 2"):
        AutoMixRunnable(
            models=_fakes(), meta_verifier=policy, num_verifications=2, strict_policy=True
        )


def test_runnable_accepts_a_matching_or_unrecorded_policy() -> None:
    policy = Threshold().fit(_rows(), costs=(1, 50))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        AutoMixRunnable(
            models=_fakes(), meta_verifier=policy, num_verifications=8, strict_policy=True
        )
        AutoMixRunnable(models=_fakes(), meta_verifier=Threshold(0.3), strict_policy=True)


def test_k_and_verification_costs_do_not_matter_to_a_policy_without_verifier() -> None:
    policy = Calibrated(Threshold(), fallback="escalate")
    policy.provenance = Provenance(costs=(1.0, 50.0), verify_costs=(1.0,), k=8)
    assert not policy.reads_verifier()
    assert check_provenance(policy, costs=(1, 50), verify_costs=(3,), k=2, strict=True) == []
    with pytest.raises(PolicyMismatchError, match="unit costs"):
        check_provenance(policy, costs=(1, 5), strict=True)


# --------------------------------------------------------------- strict file validation
def _pomdp_file(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    policy = POMDP(bandwidth=0.05).fit(synthetic_replay(200, seed=0), lam=0.001)
    path = policy.save(tmp_path / "pomdp.json")
    return path, json.loads(path.read_text(encoding="utf-8"))


def _write(path: Path, payload: Any) -> Path:
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


def test_string_booleans_are_rejected(tmp_path: Path) -> None:
    path, payload = _pomdp_file(tmp_path)
    n = len(payload["params"]["fitted"]["escalate"])
    payload["params"]["fitted"]["escalate"] = ["false"] * n
    bad = _write(tmp_path / "bad.json", payload)
    with pytest.raises(
        PolicyError, match=r"bad\.json.*fitted\.escalate\[0\] must be true or false"
    ):
        MetaVerifier.load(bad)
    greedy = GreedyPOMDP(num_bins=4).fit(synthetic_replay(100, seed=0)).to_dict()
    greedy["params"]["escalate"] = ["false"] * 5
    with pytest.raises(PolicyError, match=r"escalate\[0\] must be true or false"):
        MetaVerifier.from_dict(greedy)
    for policy, key in (
        (Threshold(0.5), "inclusive"),
        (DoubleThreshold(), "inclusive"),
        (SelfConsistency(), "inclusive"),
        (FixedAnswerRouting(Threshold(0.5)), "normalize"),
        (Calibrated(Threshold()), "robust"),
    ):
        d = policy.to_dict()
        d["params"][key] = "false"
        with pytest.raises(PolicyError, match=f"{key} must be true or false, got 'false'"):
            MetaVerifier.from_dict(d)


@pytest.mark.parametrize(
    ("where", "value", "field"),
    [
        (("params", "fitted", "observations", 0), "NaN", "params.fitted.observations[0]"),
        (("params", "fitted", "expected_gain", 1), "Infinity", "params.fitted.expected_gain[1]"),
        (("params", "fitted", "lam"), "-Infinity", "params.fitted.lam"),
        (("params", "quality_bins"), "NaN", "params.quality_bins"),
    ],
)
def test_non_finite_numbers_are_rejected_naming_the_field(
    tmp_path: Path, where: tuple[Any, ...], value: str, field: str
) -> None:
    _, payload = _pomdp_file(tmp_path)
    node = payload
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = f"@@{value}@@"
    text = json.dumps(payload).replace(f'"@@{value}@@"', value)  # json writes bare NaN
    bad = tmp_path / "nan.json"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        MetaVerifier.load(bad)
    assert str(bad) in str(info.value) and f"{field} must be a finite number" in str(info.value)


def test_non_finite_threshold_and_string_numbers_are_rejected() -> None:
    d = Threshold(0.5).to_dict()
    d["params"]["threshold"] = float("nan")
    with pytest.raises(PolicyError, match=r"params\.threshold must be a finite number"):
        MetaVerifier.from_dict(d)
    d["params"]["threshold"] = "0.5"
    with pytest.raises(PolicyError, match=r"threshold must be a number, got '0\.5'"):
        MetaVerifier.from_dict(d)
    prov = Threshold().fit(synthetic_replay(100, seed=0)).to_dict()
    prov["provenance"]["k"] = "8"
    with pytest.raises(PolicyError, match=r"provenance\.k must be an integer, got '8'"):
        MetaVerifier.from_dict(prov)


def test_non_utf8_files_give_a_policy_error_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.json"
    bad.write_bytes(b'{"format": "langchain-automix/policy", "method": "caf\xe9"}')
    with pytest.raises(PolicyError, match=r"latin1\.json: not a UTF-8 text file"):
        MetaVerifier.load(bad)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["params"].__setitem__("fitted", [1, 2]), "fitted must be an object"),
        (
            lambda d: d["params"]["fitted"].pop("observations"),
            "missing field 'fitted.observations'",
        ),
        (
            lambda d: d["params"].__setitem__("quality_bins", [10]),
            "quality_bins must be an integer",
        ),
        (lambda d: d["params"].__setitem__("extra", 1), "unknown field(s) ['extra']"),
        (lambda d: d.__setitem__("provenance", [1]), "provenance must be an object"),
    ],
)
def test_ill_shaped_policy_dicts_give_a_policy_error(
    tmp_path: Path, mutate: Any, message: str
) -> None:
    _, payload = _pomdp_file(tmp_path)
    mutate(payload)
    bad = _write(tmp_path / "shape.json", payload)
    with pytest.raises(PolicyError) as info:
        MetaVerifier.load(bad)
    assert str(bad) in str(info.value) and message in str(info.value)


def test_ill_shaped_nested_policies_give_a_policy_error(tmp_path: Path) -> None:
    cal = Calibrated(Threshold()).to_dict()
    for key, value, message in (
        ("combiner", "abc", "combiner must be an object"),
        ("signal", {"verifier": 1}, "signal must be a list"),
        ("policy", 5, "policy must be an object"),
        ("report", [1], "report must be an object"),
    ):
        d = json.loads(json.dumps(cal))
        d["params"][key] = value
        with pytest.raises(PolicyError, match=message):
            MetaVerifier.from_dict(d)
    combined = Calibrated(Threshold(), signal=["verifier"], robust=False)
    combined.fit(synthetic_replay(100, seed=0))
    d = combined.to_dict()
    d["params"]["combiner"]["means"] = ["0.1"]
    with pytest.raises(PolicyError, match=r"combiner\.means\[0\] must be a number"):
        MetaVerifier.from_dict(d)
    union = AutomixUnion(Threshold(0.3), SelfConsistency(), chosen=0).to_dict()
    union["params"]["methods"] = "threshold"
    with pytest.raises(PolicyError, match="methods must be a list of policies"):
        MetaVerifier.from_dict(union)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(PolicyError, match=r"deep\.json: JSON nested too deeply"):
        MetaVerifier.load(deep)


def test_constant_signal_fit_warns_and_is_recorded() -> None:
    data = ReplayDataset.from_arrays(synthetic_replay(80, seed=1).scores, [[0.5]] * 80)
    with pytest.warns(UserWarning, match="takes one value"):
        policy = POMDP().fit(data)
    assert policy.provenance is not None
    assert any("takes one value (0.5)" in w for w in policy.provenance.warnings)
    with pytest.warns(UserWarning, match="takes one value"):
        robust = Calibrated(POMDP()).fit(data)
    assert robust.fallback is not None and "takes one value" in robust.report["fallback_reason"]


# --- prompt version and verification method (#25 item 4) ----------------------------------


def _versioned_rows(version: str) -> ReplayDataset:
    records = [dict(r, prompt_version=version) for r in _rows().records]
    return ReplayDataset.from_records(records)


def _pair() -> list[FakeListChatModel]:
    return [FakeListChatModel(responses=["a"]), FakeListChatModel(responses=["b"])]


def test_fit_records_the_rows_prompt_version_and_files_keep_it(tmp_path: Path) -> None:
    from langchain_automix.prompts import prompt_version

    policy = Threshold().fit(_versioned_rows(prompt_version()))
    assert policy.provenance is not None
    assert policy.provenance.prompt_version == prompt_version() == "890721b40629"
    loaded = MetaVerifier.load(policy.save(tmp_path / "p.json"))
    assert loaded.provenance == policy.provenance
    mixed = ReplayDataset.from_records(
        [dict(r, prompt_version=f"v{i % 2}") for i, r in enumerate(_rows().records)]
    )
    assert Threshold().fit(mixed).provenance.prompt_version is None  # rows disagree


def test_same_prompts_raise_no_warning() -> None:
    from langchain_automix.prompts import prompt_version

    policy = Threshold().fit(_versioned_rows(prompt_version()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        AutoMixRunnable(models=_pair(), meta_verifier=policy, strict_policy=True)


@pytest.mark.parametrize(
    "setting",
    [
        {"verifier_grammar": 'root ::= "Correct"'},
        {"verify_prompt": "custom"},
        {"solve_prompt": "custom"},
        {"completion_rows": True},
    ],
)
def test_another_prompt_grammar_or_mode_is_named(setting: dict[str, Any]) -> None:
    """Once silent: a policy fitted under one verification ran under another."""
    from langchain_core.prompts import ChatPromptTemplate

    from langchain_automix.prompts import prompt_version

    rows_version = prompt_version(
        verify_mode="completion" if "completion_rows" in setting else "chat"
    )
    policy = Threshold().fit(_versioned_rows(rows_version))
    kwargs: dict[str, Any] = {}
    if "verify_prompt" in setting:
        kwargs["verify_prompt"] = ChatPromptTemplate.from_messages(
            [("human", "{context} {question} {answer} Correct?")]
        )
    if "solve_prompt" in setting:
        kwargs["solve_prompt"] = ChatPromptTemplate.from_messages([("human", "{question}")])
    if "verifier_grammar" in setting:
        kwargs["verifier_grammar"] = setting["verifier_grammar"]
    models: list[Any] = _pair()
    if "verifier_grammar" in setting:
        from langchain_openai import ChatOpenAI

        models = [
            ChatOpenAI(model=FAKE, api_key="x", base_url="http://127.0.0.1:9") for _ in range(2)
        ]
    with pytest.warns(PolicyMismatchWarning, match="prompt version: fitted on rows verified under"):
        AutoMixRunnable(models=models, meta_verifier=policy, **kwargs)
    with pytest.raises(ValueError, match="prompt version"):
        AutoMixRunnable(models=models, meta_verifier=policy, strict_policy=True, **kwargs)


def test_a_sampling_fit_used_with_logprob_verification_is_named() -> None:
    policy = Threshold().fit(_rows())
    with pytest.warns(PolicyMismatchWarning, match="verification method: fitted on sampling"):
        AutoMixRunnable(models=_pair(), meta_verifier=policy, verification="logprob")


def test_provenance_without_prompt_version_is_not_compared() -> None:
    legacy = Provenance(costs=(1.0, 50.0), verify_costs=(1.0,))
    assert (
        Provenance.from_dict({k: v for k, v in legacy.to_dict().items() if k != "prompt_version"})
        == legacy
    )
    assert legacy.mismatches(prompt_version="anything") == []
