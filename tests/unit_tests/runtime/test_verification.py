import asyncio

import pytest

from langchain_automix import VerifierSettings, parse_verification
from langchain_automix.runtime.verification import averify, confidence_of, verify
from tests.unit_tests.fake_models import CORRECT, INCORRECT, NChatModel, ScriptedChatModel


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
    # a bare "Correct." is a one-word verdict (the shared-prefix prompt's reply); a
    # longer sample without the decision phrase is not a decision
    model = ScriptedChatModel(verdicts=["lorem ipsum", "???", "Correct, probably."])
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
    # no sampling kwarg; only langchain-core's own opt-out from streaming (the model can
    # stream, and verification samples are never streamed)
    assert all(kw == {"stream": False} for _, kw in model.calls)


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


def _recording_openai(bodies: list[dict[str, object]], **kwargs: object) -> object:
    """A real ``ChatOpenAI`` whose HTTP requests are recorded and answered locally."""
    import json

    import httpx
    from langchain_openai import ChatOpenAI

    def reply(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        n = int(body.get("n") or 1)
        choices = [
            {
                "index": i,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": CORRECT if i % 2 else INCORRECT},
            }
            for i in range(n)
        ]
        usage = {"prompt_tokens": 10, "completion_tokens": 3 * n, "total_tokens": 10 + 3 * n}
        return httpx.Response(
            200,
            json={
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": "m",
                "choices": choices,
                "usage": usage,
            },
        )

    transport = httpx.MockTransport(reply)
    return ChatOpenAI(
        model="m",
        api_key="sk-test",
        base_url="http://llama.test/v1",
        http_client=httpx.Client(transport=transport),
        http_async_client=httpx.AsyncClient(transport=transport),
        max_retries=0,
        **kwargs,
    )


@pytest.mark.parametrize("use_async", [False, True])
async def test_grammar_goes_into_the_request_body(use_async: bool) -> None:
    from langchain_automix import DECISION_GRAMMAR

    bodies: list[dict[str, object]] = []
    # the model's own extra_body and one bound to it are kept beside the grammar
    judge = _recording_openai(bodies, n=1, extra_body={"cache_prompt": True}).bind(  # type: ignore[attr-defined]
        extra_body={"top_k": 40}
    )
    settings = VerifierSettings(k=4, grammar=DECISION_GRAMMAR, seed=3)
    if use_async:
        r = await averify(judge, question="q", context="c", answer="a", settings=settings)
    else:
        r = verify(judge, question="q", context="c", answer="a", settings=settings)
    assert len(bodies) == 1  # one request with n = k
    body = bodies[0]
    assert body["n"] == 4 and body["seed"] == 3
    assert body["grammar"] == DECISION_GRAMMAR
    assert body["cache_prompt"] is True and body["top_k"] == 40
    assert (r.n_valid, r.confidence) == (4, 0.5)


def test_without_grammar_the_body_has_none() -> None:
    bodies: list[dict[str, object]] = []
    verify(
        _recording_openai(bodies, n=1),  # type: ignore[arg-type]
        question="q",
        context="c",
        answer="a",
        settings=VerifierSettings(k=2),
    )
    assert "grammar" not in bodies[0]


@pytest.mark.parametrize("use_async", [False, True])
async def test_grammar_needs_a_model_that_can_send_it(use_async: bool) -> None:
    model = ScriptedChatModel()
    settings = VerifierSettings(k=2, grammar='root ::= "x"')
    with pytest.raises(ValueError, match="no extra_body field"):
        if use_async:
            await averify(model, question="q", context="c", answer="a", settings=settings)
        else:
            verify(model, question="q", context="c", answer="a", settings=settings)
    assert model.calls == []  # refused before any call


def test_grammar_setting_validation() -> None:
    with pytest.raises(ValueError, match="non-empty string"):
        VerifierSettings(grammar="")


def test_decision_grammar_shapes() -> None:
    from langchain_automix import DECISION_GRAMMAR
    from langchain_automix.prompts import decision_grammar

    assert DECISION_GRAMMAR == decision_grammar()
    assert 'evaluation ::= [^\\n.]+ "."' in DECISION_GRAMMAR  # one sentence
    capped = decision_grammar(50)
    assert "[^\\n]{1,50}" in capped and capped.count("::=") == 3
    only = decision_grammar(0)
    assert "evaluation" not in only and "Verification Decision" in only
    for g in (DECISION_GRAMMAR, capped, only):
        assert g.splitlines()[0].startswith("root ::=")
        assert '("Correct" | "Incorrect")' in g
    for bad in (-1, 1.5, True, "10"):
        with pytest.raises(ValueError, match="max_chars"):
            decision_grammar(bad)  # type: ignore[arg-type]


def test_runnable_sends_the_grammar_with_verification_only() -> None:
    from langchain_automix import DECISION_GRAMMAR, AutoMixRunnable

    small_bodies: list[dict[str, object]] = []
    large_bodies: list[dict[str, object]] = []
    automix = AutoMixRunnable(
        models=[_recording_openai(small_bodies, n=1), _recording_openai(large_bodies)],  # type: ignore[list-item]
        num_verifications=4,
        verifier_grammar=DECISION_GRAMMAR,
    )
    automix.invoke({"question": "q", "context": "c"})
    solve, verify_call = small_bodies  # one answer call, one n = 4 verification call
    assert "grammar" not in solve
    assert verify_call["grammar"] == DECISION_GRAMMAR and verify_call["n"] == 4
    assert all("grammar" not in b for b in large_bodies)


def test_runnable_refuses_a_grammar_its_models_cannot_send() -> None:
    from langchain_automix import DECISION_GRAMMAR, AutoMixRunnable

    with pytest.raises(ValueError, match="no extra_body field"):
        AutoMixRunnable(
            models=[ScriptedChatModel(), ScriptedChatModel()], verifier_grammar=DECISION_GRAMMAR
        )


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
def test_each_query_verifies_with_its_own_seed(mode: str) -> None:
    """A fixed ``verifier_seed`` seeds each query differently (reproducibly): one seed
    for every query made a sampling server draw the same k numbers for each (#27)."""
    from langchain_automix import AutoMixRunnable
    from langchain_automix.runtime.verification import query_seed

    small, large = NChatModel(), NChatModel(answer="Paris, France")
    automix = AutoMixRunnable(models=[small, large], verifier_seed=7, num_verifications=4)
    queries = [
        {"question": "Capital of France?", "context": "Paris is the capital of France."},
        {"question": "Largest city of France?", "context": "Paris is the capital of France."},
        {"question": "Capital of France?", "context": "Paris is the capital of France."},
    ]
    for q in queries:
        if mode == "invoke":
            automix.invoke(q)
        else:
            asyncio.run(automix.ainvoke(q))
    seeds = [kw["seed"] for kind, kw in small.calls if kind == "verify"]
    expected = [query_seed(7, q["question"], q["context"]) for q in queries]
    assert seeds == expected
    assert seeds[0] == seeds[2] != seeds[1]
    # no base seed: none is sent, the server picks
    plain = NChatModel()
    AutoMixRunnable(models=[plain, NChatModel()]).invoke(queries[0])
    assert [kw.get("seed") for kind, kw in plain.calls if kind == "verify"] == [None]
