import pytest

from langchain_automix import VerifierSettings, parse_verification
from langchain_automix.runtime.verification import averify, confidence_of, verify

from .fake_models import CORRECT, INCORRECT, NChatModel, ScriptedChatModel


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (CORRECT, True),
        (INCORRECT, False),
        ("verification decision: THE AI GENERATED ANSWER IS CORRECT.", True),
        ("The AI generated answer is: Correct", True),
        ("The AI generated answer is incorrect", False),
        ("The AI generated answer is partially right", False),
        ("I cannot tell.", None),
        ("", None),
        ("Correct!", None),
        (
            "The AI generated answer is Correct.\n---\nContext: ... The AI generated answer is "
            "Incorrect.",
            True,
        ),
    ],
)
def test_parse_verification(text: str, expected: bool | None) -> None:
    assert parse_verification(text) is expected


def test_confidence_ignores_invalid_samples() -> None:
    assert confidence_of([True, None, False, None, True]) == (2 / 3, 3)
    assert confidence_of([None, None]) == (0.0, 0)
    assert confidence_of([]) == (0.0, 0)


def test_garbage_samples_are_invalid_and_flagged() -> None:
    model = ScriptedChatModel(verdicts=["lorem ipsum", "???", "Correct."])
    r = verify(model, question="q", context="c", answer="a", settings=VerifierSettings(k=6))
    assert r.n_valid == 0
    assert r.confidence == 0.0
    assert r.no_valid_sample
    assert len(r.samples) == 6


def test_mixed_samples() -> None:
    model = ScriptedChatModel(verdicts=[CORRECT, "junk", INCORRECT, CORRECT])
    r = verify(model, question="q", context="c", answer="a", settings=VerifierSettings(k=8))
    assert (r.n_valid, r.n_samples) == (6, 8)
    assert r.confidence == pytest.approx(4 / 6)
    assert not r.no_valid_sample


def test_model_without_n_gets_k_concurrent_calls() -> None:
    model = ScriptedChatModel(latency=0.05)
    r = verify(model, question="q", context="c", answer="a", settings=VerifierSettings(k=4))
    assert model.count("verify") == 4
    assert model.peak_in_flight == 4
    assert r.confidence == 1.0
    # usage of every call is summed
    assert r.usage is not None and r.usage["input_tokens"] == 40


def test_model_honouring_n_gets_one_call() -> None:
    model = NChatModel()
    r = verify(model, question="q", context="c", answer="a", settings=VerifierSettings(k=8))
    assert model.count("verify") == 1
    assert model.calls[0][1]["n"] == 8
    assert model.calls[0][1]["temperature"] == 1.0
    assert len(r.samples) == 8
    # one request reports one usage, not eight
    assert r.usage is not None and r.usage["input_tokens"] == 10


@pytest.mark.parametrize("use_async", [False, True])
async def test_model_ignoring_n_is_topped_up(use_async: bool) -> None:
    model = NChatModel(max_n=1, seed=None)
    settings = VerifierSettings(k=5, seed=100)
    if use_async:
        r = await averify(model, question="q", context="c", answer="a", settings=settings)
    else:
        r = verify(model, question="q", context="c", answer="a", settings=settings)
    assert model.count("verify") == 5
    assert len(r.samples) == 5
    kwargs = [kw for kind, kw in model.calls]
    assert kwargs[0]["n"] == 5 and kwargs[0]["seed"] == 100
    # the top-up calls carry distinct seeds and no n
    assert sorted(kw["seed"] for kw in kwargs[1:]) == [101, 102, 103, 104]
    assert all("n" not in kw for kw in kwargs[1:])


def test_request_n_can_be_forced_off() -> None:
    model = NChatModel()
    verify(
        model,
        question="q",
        context="c",
        answer="a",
        settings=VerifierSettings(k=3, request_n=False),
    )
    assert model.count("verify") == 3
    assert all("n" not in kw for _, kw in model.calls)


def test_sampling_kwargs_only_sent_to_models_that_know_them() -> None:
    model = ScriptedChatModel()
    verify(model, question="q", context="c", answer="a", settings=VerifierSettings(k=2))
    assert all(kw == {} for _, kw in model.calls)


@pytest.mark.parametrize("use_async", [False, True])
async def test_verifier_errors_count_as_invalid(use_async: bool) -> None:
    model = ScriptedChatModel(fail_verify=True)
    settings = VerifierSettings(k=3)
    if use_async:
        r = await averify(model, question="q", context=None, answer="a", settings=settings)
    else:
        r = verify(model, question="q", context=None, answer="a", settings=settings)
    assert r.no_valid_sample and r.confidence == 0.0
    assert len(r.errors) == 3 and "TimeoutError" in r.errors[0]


def test_settings_validation() -> None:
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        VerifierSettings(k=0)
    with pytest.raises(ValueError, match="temperature"):
        VerifierSettings(temperature=-1)
