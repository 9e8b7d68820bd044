import pytest

from langchain_automix import AutoMixInputError, AutoMixModelError, AutoMixRunnable, CostModel
from tests.unit_tests.fake_models import CORRECT, INCORRECT, ScriptedChatModel

QUERY = {"question": "q?", "context": "c"}


def test_failing_small_tier_escalates_and_is_recorded() -> None:
    small = ScriptedChatModel(fail_solve=True)
    large = ScriptedChatModel(answer="big")
    r = AutoMixRunnable(models=[small, large]).invoke_result(QUERY)
    assert r.answer == "big" and r.answered_by == 1 and r.escalated
    first = r.attempts[0]
    assert first.answer is None
    assert first.error == "RuntimeError: solve backend down"
    assert first.verifier_confidence is None  # nothing to verify
    assert first.cost == 0.0
    assert small.count("verify") == 0
    assert r.total_cost == 50.0


async def test_failing_small_tier_escalates_async() -> None:
    small = ScriptedChatModel(fail_solve=True)
    large = ScriptedChatModel(answer="big")
    msg = await AutoMixRunnable(models=[small, large]).ainvoke(QUERY)
    assert msg.content == "big"
    assert msg.response_metadata["automix"]["attempts"][0]["error"].startswith("RuntimeError")


def test_failing_verifier_counts_as_no_valid_samples_and_escalates() -> None:
    small = ScriptedChatModel(answer="s", fail_verify=True)
    large = ScriptedChatModel(answer="big")
    r = AutoMixRunnable(models=[small, large], num_verifications=3).invoke_result(QUERY)
    first = r.attempts[0]
    assert first.no_valid_sample and first.verifier_confidence == 0.0
    assert len(first.verifier_errors) == 3
    assert first.decision == "escalate" and r.answer == "big"


def test_failing_final_tier_raises_with_partial_trace() -> None:
    small = ScriptedChatModel(answer="small guess", verdicts=[INCORRECT])
    large = ScriptedChatModel(fail_solve=True)
    automix = AutoMixRunnable(models=[small, large], num_verifications=2)
    with pytest.raises(AutoMixModelError, match="final tier 'scripted' failed") as info:
        automix.invoke(QUERY)
    partial = info.value.partial
    assert partial is not None
    assert partial.answer == "small guess"
    assert partial.attempts[0].verifier_confidence == 0.0
    assert partial.attempts[1].error == "RuntimeError: solve backend down"
    assert partial.total_cost == 2.0
    assert isinstance(info.value.__cause__, RuntimeError)


async def test_failing_final_tier_raises_async_and_in_stream() -> None:
    small = ScriptedChatModel(answer="small guess", verdicts=[INCORRECT])
    large = ScriptedChatModel(fail_solve=True)
    automix = AutoMixRunnable(models=[small, large], num_verifications=1)
    with pytest.raises(AutoMixModelError) as info:
        await automix.ainvoke(QUERY)
    assert info.value.partial is not None and info.value.partial.answer == "small guess"
    with pytest.raises(AutoMixModelError):
        list(automix.stream(QUERY))
    with pytest.raises(AutoMixModelError):
        [c async for c in automix.astream(QUERY)]


def test_failing_middle_tier_escalates_past_it() -> None:
    t0 = ScriptedChatModel(answer="a0", verdicts=[INCORRECT])
    t1 = ScriptedChatModel(fail_solve=True)
    t2 = ScriptedChatModel(answer="a2")
    automix = AutoMixRunnable(models=[t0, t1, t2], costs=CostModel(unit_costs=(1, 5, 25)))
    r = automix.invoke_result(QUERY)
    assert r.answer == "a2"
    assert [a.tier for a in r.attempts] == [0, 1, 2]
    assert r.attempts[1].error is not None and r.attempts[1].decision is None
    assert t1.count("verify") == 0


def test_all_tiers_failing_keeps_every_error() -> None:
    small = ScriptedChatModel(fail_solve=True)
    large = ScriptedChatModel(fail_solve=True)
    with pytest.raises(AutoMixModelError) as info:
        AutoMixRunnable(models=[small, large]).invoke(QUERY)
    partial = info.value.partial
    assert partial is not None
    assert [a.error is not None for a in partial.attempts] == [True, True]


def test_batch_with_failures_keeps_every_question() -> None:
    small = ScriptedChatModel(answer="s", verdicts=[CORRECT])
    large = ScriptedChatModel(fail_solve=True)
    automix = AutoMixRunnable(models=[small, large], num_verifications=1)
    out = automix.batch(["a?", "b?"], return_exceptions=True)
    assert [m.content for m in out] == ["s", "s"]  # type: ignore[union-attr]


def test_model_error_pickles_with_partial() -> None:
    import pickle

    small = ScriptedChatModel(answer="g", verdicts=[INCORRECT])
    large = ScriptedChatModel(fail_solve=True)
    with pytest.raises(AutoMixModelError) as info:
        AutoMixRunnable(models=[small, large], num_verifications=1).invoke(QUERY)
    again = pickle.loads(pickle.dumps(info.value))
    assert again.partial is not None and again.partial.answer == "g"


def test_input_error_pickles_with_its_field() -> None:
    """A worker process can send a rejected input's error back to its parent."""
    import pickle

    automix = AutoMixRunnable(models=[ScriptedChatModel(), ScriptedChatModel()])
    with pytest.raises(AutoMixInputError) as info:
        automix.invoke({"question": ""})
    again = pickle.loads(pickle.dumps(info.value))
    assert type(again) is AutoMixInputError
    assert (again.field, str(again)) == (info.value.field, str(info.value))
