import pytest
from langchain_core.documents import Document
from langchain_core.messages import HumanMessage

from langchain_automix import AutoMixInput, AutoMixInputError, AutoMixRunnable
from tests.unit_tests.fake_models import CORRECT, ScriptedChatModel


def make(**kwargs: object) -> tuple[AutoMixRunnable, ScriptedChatModel, ScriptedChatModel]:
    small = ScriptedChatModel(verdicts=[CORRECT])
    large = ScriptedChatModel()
    return AutoMixRunnable(models=[small, large], num_verifications=1, **kwargs), small, large  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "field", "message"),
    [
        ({}, "question", "missing"),
        ({"context": "c"}, "question", "missing"),
        ({"question": ""}, "question", "must not be empty"),
        ({"question": "   \n"}, "question", "must not be empty"),
        ({"question": 42}, "question", "must be a string, got int"),
        ({"question": None}, "question", "must be a string, got NoneType"),
        ({"question": "q", "context": 3.5}, "context", "got float"),
        ({"question": "q", "context": ["ok", 7]}, "context", "item 1"),
        (12, "input", "got int"),
        (None, "input", "got NoneType"),
        ("", "question", "must not be empty"),
    ],
)
def test_bad_input_names_the_field_and_calls_no_model(
    value: object, field: str, message: str
) -> None:
    automix, small, large = make()
    with pytest.raises(AutoMixInputError, match=message) as info:
        automix.invoke(value)  # type: ignore[arg-type]
    assert info.value.field == field
    assert str(info.value).startswith(field)
    assert small.calls == [] and large.calls == []


async def test_bad_input_async() -> None:
    automix, small, _ = make()
    with pytest.raises(AutoMixInputError, match="question"):
        await automix.ainvoke({"question": ""})
    with pytest.raises(AutoMixInputError, match="question"):
        [c async for c in automix.astream({"question": ""})]
    assert small.calls == []


def test_context_over_the_limit_is_rejected() -> None:
    automix, small, _ = make(max_context_chars=100)
    with pytest.raises(AutoMixInputError, match="over the limit of 100") as info:
        automix.invoke({"question": "q", "context": "x" * 101})
    assert info.value.field == "context"
    assert small.calls == []
    automix.invoke({"question": "q", "context": "x" * 100})


def test_question_over_the_limit_is_rejected() -> None:
    automix, _, _ = make(max_question_chars=10)
    with pytest.raises(AutoMixInputError, match="question: is 11 characters"):
        automix.invoke("x" * 11)


def test_one_bad_input_fails_the_batch_before_any_call() -> None:
    automix, small, large = make()
    with pytest.raises(AutoMixInputError, match=r"inputs\[2\]\.question: must not be empty"):
        automix.batch(["a?", "b?", {"question": ""}])
    assert small.calls == [] and large.calls == []


async def test_one_bad_input_fails_the_abatch_before_any_call() -> None:
    automix, small, _ = make()
    with pytest.raises(AutoMixInputError, match=r"inputs\[1\]\.context"):
        await automix.abatch(["a?", {"question": "b", "context": 1}])
    assert small.calls == []


@pytest.mark.parametrize(
    "value",
    [
        "What?",
        {"question": "What?"},
        {"question": "What?", "context": "ctx", "extra": "ignored"},
        AutoMixInput(question="What?", context="ctx"),
        HumanMessage(content="What?"),
        {"question": "What?", "context": [Document(page_content="a"), "b"]},
        {"question": "What?", "context": Document(page_content="a")},
    ],
)
def test_accepted_input_forms(value: object) -> None:
    automix, small, _ = make()
    assert automix.invoke(value).content == "Paris"  # type: ignore[arg-type]
    assert small.count("solve") == 1


def test_documents_are_joined_into_the_context() -> None:
    from langchain_automix.runtime.runnable import coerce_input

    state = coerce_input({"question": "q", "context": [Document(page_content="a"), "b"]})
    assert state == {"question": "q", "context": "a\n\nb"}


@pytest.mark.parametrize("as_messages", [False, True])
def test_a_chat_prompt_piped_in_points_to_chat_automix(as_messages: bool) -> None:
    from langchain_core.prompts import ChatPromptTemplate

    automix, small, large = make()
    prompt = ChatPromptTemplate.from_messages([("user", "Question: {q}")])
    value = prompt.invoke({"q": "Capital of France?"})
    with pytest.raises(AutoMixInputError, match=r"ChatAutoMix") as info:
        automix.invoke(value.to_messages() if as_messages else value)  # type: ignore[arg-type]
    assert info.value.field == "input" and "prompt | ChatAutoMix(...)" in str(info.value)
    with pytest.raises(AutoMixInputError, match="ChatAutoMix"):
        (prompt | automix).invoke({"q": "Capital of France?"})
    assert small.calls == [] and large.calls == []


@pytest.mark.parametrize(
    "value",
    [
        {"question": "Capital of France? " + chr(0xD800)},
        {"question": "Capital?", "context": "Paris " + chr(0xDFFF) + " is the capital."},
    ],
)
def test_lone_surrogates_are_refused_before_any_call(value: dict[str, str]) -> None:
    """#26, item 6: a lone surrogate cannot be encoded into any model request; it used to
    surface as the final tier's failure (a 502) with no model called."""
    automix, small, large = make()
    with pytest.raises(AutoMixInputError, match="lone surrogate") as info:
        automix.invoke(value)
    assert info.value.field == ("context" if "context" in value else "question")
    assert small.calls == [] and large.calls == []
