import asyncio

import pytest
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import ConfigurableField
from langchain_core.tracers.run_collector import RunCollectorCallbackHandler

from langchain_automix import (
    AutoMixResult,
    AutoMixRunnable,
    CostModel,
    MetaVerifier,
    Observation,
    Threshold,
    TokenPrice,
)
from tests.unit_tests.fake_models import CORRECT, INCORRECT, ScriptedChatModel

QUERY = {"question": "What is the capital of France?", "context": "Paris is France's capital."}


def make(
    small_verdicts: list[str], **kwargs: object
) -> tuple[AutoMixRunnable, ScriptedChatModel, ScriptedChatModel]:
    small = ScriptedChatModel(answer="Paris", verdicts=small_verdicts)
    large = ScriptedChatModel(answer="Paris, France", verdicts=[CORRECT])
    return AutoMixRunnable(models=[small, large], **kwargs), small, large  # type: ignore[arg-type]


def test_accept_path_keeps_small_answer() -> None:
    automix, small, large = make([CORRECT, CORRECT, INCORRECT, CORRECT])
    msg = automix.invoke(QUERY)
    assert msg.content == "Paris"
    trace = msg.response_metadata["automix"]
    assert trace["answered_by"] == 0
    assert trace["escalated"] is False
    att = trace["attempts"][0]
    assert att["verifier_confidence"] == 0.75
    assert att["verifier_n_valid"] == 8
    assert att["decision"] == "accept"
    assert att["meta_verifier"] == "threshold(<0.5)"
    assert trace["total_cost"] == 2.0  # small call + verification (paper's convention)
    assert trace["cost_per_tier"] == [2.0]
    assert large.calls == []
    assert small.count("solve") == 1 and small.count("verify") == 8
    # usage: 1 solve + 8 verify calls of 10 in / 2 out tokens
    assert msg.usage_metadata == {"input_tokens": 90, "output_tokens": 18, "total_tokens": 108}


def test_escalate_path_uses_large_answer() -> None:
    automix, small, large = make([INCORRECT, INCORRECT, CORRECT, INCORRECT])
    result = automix.invoke_result(QUERY)
    assert result.answer == "Paris, France"
    assert result.escalated and result.answered_by == 1
    assert result.attempts[0].answer == "Paris"
    assert result.attempts[0].decision == "escalate"
    assert result.attempts[0].verifier_confidence == 0.25
    assert result.attempts[1].decision is None  # the final tier is not judged
    assert result.attempts[1].verifier_confidence is None
    assert large.count("verify") == 0
    assert result.total_cost == 1 + 1 + 50
    assert result.cost_per_tier == [2.0, 50.0]


def test_three_tiers_each_non_final_tier_verifies_itself() -> None:
    t0 = ScriptedChatModel(answer="a0", verdicts=[INCORRECT])
    t1 = ScriptedChatModel(answer="a1", verdicts=[CORRECT])
    t2 = ScriptedChatModel(answer="a2")
    automix = AutoMixRunnable(models=[t0, t1, t2], costs=CostModel(unit_costs=(1, 10, 100)))
    r = automix.invoke_result("q?")
    assert r.answer == "a1" and r.answered_by == 1
    assert [a.decision for a in r.attempts] == ["escalate", "accept"]
    assert t1.count("verify") == 8 and t2.calls == []
    assert r.total_cost == 2 + 20
    t1_bad = ScriptedChatModel(answer="a1", verdicts=[INCORRECT])
    automix = AutoMixRunnable(models=[t0, t1_bad, t2], costs=(1, 10, 100))
    r = automix.invoke_result("q?")
    assert r.answer == "a2" and r.answered_by == 2
    assert [a.tier for a in r.attempts] == [0, 1, 2]
    assert r.total_cost == 2 + 20 + 100
    # the second decision sees both confidences
    assert r.attempts[1].verifier_confidence == 0.0


def test_three_tiers_need_explicit_costs() -> None:
    models = [ScriptedChatModel() for _ in range(3)]
    with pytest.raises(ValueError, match="unit_costs are required for 3 tiers"):
        AutoMixRunnable(models=models)
    with pytest.raises(ValueError, match="unit_costs has 2 entries but there are 3 tiers"):
        AutoMixRunnable(models=models, costs=(1, 2))


def test_one_model_is_rejected() -> None:
    with pytest.raises(ValueError, match="two or more chat models"):
        AutoMixRunnable(models=[ScriptedChatModel()])


async def test_ainvoke_matches_invoke() -> None:
    automix, _, _ = make([INCORRECT])
    msg = await automix.ainvoke(QUERY)
    assert msg.content == "Paris, France"
    assert msg.response_metadata["automix"]["answered_by"] == 1


def test_output_parser_and_structured_result() -> None:
    automix, _, _ = make([CORRECT])
    assert (automix | StrOutputParser()).invoke(QUERY) == "Paris"
    result = automix.with_result().invoke(QUERY)
    assert isinstance(result, AutoMixResult) and result.answer == "Paris"


def test_token_prices_give_money() -> None:
    prices = (TokenPrice(input_per_million=1.0, output_per_million=2.0), None)
    automix, _, _ = make([CORRECT], num_verifications=2, costs=CostModel(token_prices=prices))
    r = automix.invoke_result(QUERY)
    # 3 calls x (10 in, 2 out) tokens
    assert r.total_money == pytest.approx(3 * (10 * 1 + 2 * 2) / 1e6)


def test_batch_runs_concurrently_and_honours_max_concurrency() -> None:
    small = ScriptedChatModel(answer="x", verdicts=[CORRECT], overlap=3)
    large = ScriptedChatModel(answer="y")
    automix = AutoMixRunnable(models=[small, large], num_verifications=1)
    out = automix.batch([f"q{i}" for i in range(12)], config={"max_concurrency": 3})
    assert [m.content for m in out] == ["x"] * 12
    assert small.peak_in_flight == 3


async def test_abatch_runs_concurrently_and_honours_max_concurrency() -> None:
    small = ScriptedChatModel(answer="x", verdicts=[INCORRECT], latency=0.02)
    large = ScriptedChatModel(answer="y", latency=0.02)
    automix = AutoMixRunnable(models=[small, large], num_verifications=1)
    out = await automix.abatch([f"q{i}" for i in range(10)], config={"max_concurrency": 4})
    assert [m.content for m in out] == ["y"] * 10
    assert 2 <= small.peak_in_flight <= 4
    assert large.peak_in_flight <= 4


@pytest.mark.parametrize(("limit", "peak"), [(None, 4), (1, 1)])
async def test_max_concurrency_reaches_the_verifier_samples(limit: int | None, peak: int) -> None:
    """llama.cpp serves one request at a time: callers bound the fan-out through the config."""
    cfg = {"max_concurrency": limit} if limit else None
    for run in ("sync", "async"):
        small = ScriptedChatModel(answer="x", verdicts=[CORRECT], overlap=peak)
        automix = AutoMixRunnable(models=[small, ScriptedChatModel()], num_verifications=4)
        if run == "sync":
            r = automix.invoke_result(QUERY, config=cfg)
        else:
            r = await automix.with_result().ainvoke(QUERY, config=cfg)
        assert r.attempts[0].verifier_n_samples == 4
        assert small.peak_in_flight == peak, run


@pytest.mark.parametrize(("cap", "peak"), [(None, 4), (1, 1), (2, 2)])
async def test_verifier_max_in_flight_bounds_the_separate_samples_only(
    cap: int | None, peak: int
) -> None:
    """#27: a server with a prompt cache per slot answers k requests sent in a row far
    faster than k at once; ``verifier_max_in_flight`` bounds the samples without bounding
    the batch."""
    for run in ("sync", "async"):
        small = ScriptedChatModel(answer="x", verdicts=[CORRECT], overlap=peak, latency=0.02)
        automix = AutoMixRunnable(
            models=[small, ScriptedChatModel()], num_verifications=4, verifier_max_in_flight=cap
        )
        if run == "sync":
            r = automix.invoke_result(QUERY)
        else:
            r = await automix.with_result().ainvoke(QUERY)
        assert r.attempts[0].verifier_n_samples == 4 and r.attempts[0].verifier_n_valid == 4
        assert small.peak_in_flight == peak, run


def test_verifier_max_in_flight_is_checked() -> None:
    from langchain_automix import VerifierSettings

    with pytest.raises(ValueError, match="greater than or equal to 1"):
        AutoMixRunnable(models=[ScriptedChatModel(), ScriptedChatModel()], verifier_max_in_flight=0)
    with pytest.raises(ValueError, match="max_in_flight must be an integer >= 1"):
        VerifierSettings(max_in_flight=0)


class Always(MetaVerifier):
    name = "always"

    def __init__(self, decision: str) -> None:
        self.decision = decision
        self.seen: list[Observation] = []

    def decide(self, observation: Observation):  # type: ignore[no-untyped-def]
        self.seen.append(observation)
        return self.decision


def test_custom_meta_verifier_sees_observation() -> None:
    mv = Always("escalate")
    automix, _, _ = make([CORRECT, INCORRECT], meta_verifier=mv, num_verifications=4)
    r = automix.invoke_result(QUERY)
    assert r.escalated
    (obs,) = mv.seen
    assert obs.tier == 0 and obs.n_tiers == 2 and not obs.is_final
    assert obs.confidence == 0.5 and obs.n_valid == 4 and obs.n_samples == 4
    assert obs.answer == "Paris" and obs.confidences == (0.5,)


def test_meta_verifier_returning_nonsense_is_an_error() -> None:
    automix, _, _ = make([CORRECT], meta_verifier=Always("maybe"))
    with pytest.raises(ValueError, match="returned 'maybe'"):
        automix.invoke(QUERY)


def test_threshold_with_non_threshold_meta_verifier_is_rejected() -> None:
    with pytest.raises(ValueError, match="threshold only applies"):
        make([CORRECT], meta_verifier=Always("accept"), threshold=0.3)


def test_threshold_is_configurable_per_request() -> None:
    automix, _, _ = make([CORRECT, CORRECT, CORRECT, INCORRECT])  # confidence 0.75
    tunable = automix.configurable_fields(
        threshold=ConfigurableField(id="threshold", name="Escalation threshold"),
        num_verifications=ConfigurableField(id="num_verifications"),
    )
    assert tunable.invoke(QUERY).response_metadata["automix"]["answered_by"] == 0
    strict = tunable.invoke(QUERY, config={"configurable": {"threshold": 0.9}})
    assert strict.response_metadata["automix"]["answered_by"] == 1
    assert strict.response_metadata["automix"]["attempts"][0]["meta_verifier"] == "threshold(<0.9)"
    few = tunable.invoke(QUERY, config={"configurable": {"num_verifications": 2}})
    assert few.response_metadata["automix"]["attempts"][0]["verifier_n_samples"] == 2


def test_threshold_overrides_given_threshold_but_keeps_inclusive() -> None:
    automix, _, _ = make(
        [CORRECT, INCORRECT], meta_verifier=Threshold(0.2, inclusive=True), threshold=0.5
    )
    r = automix.invoke_result(QUERY)  # confidence 0.5 <= 0.5 escalates
    assert r.escalated


def test_callbacks_see_one_run_with_node_children() -> None:
    automix, _, _ = make([INCORRECT], num_verifications=2)
    handler = RunCollectorCallbackHandler()
    automix.invoke(QUERY, config={"callbacks": [handler], "tags": ["mine"]})
    (root,) = handler.traced_runs
    assert root.name == "AutoMixRunnable"
    (graph_run,) = root.child_runs
    assert graph_run.name == "AutoMix"
    # LangGraph's own start step (it runs the entry router) is hidden from LangSmith
    nodes = [r.name for r in graph_run.child_runs if "langsmith:hidden" not in r.tags]
    assert nodes == ["solve_small", "self_verify", "meta_decide", "solve_large"]
    by_node = {r.name: r for r in graph_run.child_runs}
    verify_llms = [c for c in by_node["self_verify"].child_runs if c.run_type == "llm"]
    assert len(verify_llms) == 2
    assert all("automix:self_verify" in c.tags for c in verify_llms)
    assert all("mine" in c.tags for c in verify_llms)
    solve_llms = [c for c in by_node["solve_large"].child_runs if c.run_type == "llm"]
    assert len(solve_llms) == 1 and "automix:solve_large" in solve_llms[0].tags


def test_custom_prompts_are_used_and_checked() -> None:
    from langchain_core.prompts import ChatPromptTemplate

    solve = ChatPromptTemplate.from_messages([("human", "Q: {question}\nC: {context}")])
    automix, small, _ = make([CORRECT], solve_prompt=solve, num_verifications=1)
    assert automix.invoke(QUERY).content == "Paris"
    bad = ChatPromptTemplate.from_messages([("human", "{question} {answer} {mood}")])
    with pytest.raises(ValueError, match=r"verify_prompt may only use .* also uses \['mood'\]"):
        make([CORRECT], verify_prompt=bad)


def test_input_and_output_schemas_are_real_types() -> None:
    automix, _, _ = make([CORRECT])
    schema = automix.get_input_jsonschema()
    assert set(schema["properties"]) == {"question", "context"}
    assert schema["required"] == ["question"]
    out = automix.get_output_jsonschema()
    assert "AIMessage" in str(out.get("title", "")) or "AIMessage" in str(out)


def test_batch_returns_exceptions_per_query_when_asked() -> None:
    automix, _, _ = make([CORRECT], num_verifications=1)
    out = automix.batch([QUERY, {"question": ""}], return_exceptions=True)
    assert out[0].content == "Paris"  # type: ignore[union-attr]
    assert isinstance(out[1], ValueError)


def test_concurrent_invocations_share_one_graph() -> None:
    automix, _, _ = make([CORRECT], num_verifications=1)

    async def many() -> list[str]:
        msgs = await asyncio.gather(*(automix.ainvoke(QUERY) for _ in range(20)))
        return [str(m.content) for m in msgs]

    assert asyncio.run(many()) == ["Paris"] * 20


def test_fitted_policy_file_plugs_into_the_runnable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from langchain_automix import POMDP
    from langchain_automix.calibration.synthetic import synthetic_replay

    policy = POMDP().fit(synthetic_replay(400, seed=3), costs=(1, 50), target_llm_share=0.3)
    path = tmp_path / "policy.json"
    policy.save(path)
    loaded = POMDP.load(path)
    automix, _, _ = make([CORRECT] * 8, meta_verifier=loaded)
    r = automix.invoke_result(QUERY)
    assert r.attempts[0].meta_verifier == loaded.describe()
    expected = loaded.decide(Observation(0, 2, confidence=1.0, n_valid=8, n_samples=8))
    assert r.attempts[0].decision == expected
    automix_low, _, _ = make([INCORRECT] * 8, meta_verifier=loaded)
    low = automix_low.invoke_result(QUERY)
    assert low.attempts[0].decision == loaded.decide(
        Observation(0, 2, confidence=0.0, n_valid=8, n_samples=8)
    )


def test_an_always_escalate_policy_never_calls_the_small_model() -> None:
    from langchain_automix.meta_verifiers import Calibrated

    policy = Calibrated(Threshold(), signal="verifier", fallback="escalate")
    automix, small, large = make([CORRECT], meta_verifier=policy)
    for result in (
        automix.invoke_result(QUERY),
        asyncio.run(automix.ainvoke_result(QUERY)),
    ):
        assert result.answer == "Paris, France" and result.answered_by == 1
        assert result.escalated
        first, last = result.attempts
        assert first.tier == 0 and first.skipped and first.answer is None and first.cost == 0
        assert last.tier == 1 and not last.skipped
        assert result.total_cost == 50  # always-large's cost, not 1 + 50
    assert small.calls == []
    assert large.count("solve") == 2 and large.count("verify") == 0
    streamed = "".join(str(c.content) for c in automix.stream(QUERY))
    assert streamed == "Paris, France" and small.calls == []


def test_a_start_tier_outside_the_cascade_is_a_clear_error() -> None:
    class StartsNowhere(Threshold):
        def start_tier(self, n_tiers: int) -> int:
            return n_tiers

    automix, small, large = make([CORRECT], meta_verifier=StartsNowhere(0.5))
    with pytest.raises(ValueError, match=r"start_tier must be a tier index in \[0, 1\], got 2"):
        automix.invoke(QUERY)
    assert small.calls == [] and large.calls == []
