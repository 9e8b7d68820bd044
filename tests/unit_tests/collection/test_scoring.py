from __future__ import annotations

import pytest

from langchain_automix.collection.scoring import (
    UNANSWERABLE_PHRASES,
    exact_match,
    is_unanswerable_prediction,
    normalize_answer,
    normalize_yes_no,
    score,
    token_f1,
)


def test_normalize_strips_case_punctuation_articles_whitespace() -> None:
    assert normalize_answer("  The  U.S. Army, an   army!") == "us army army"


def test_token_f1_partial_overlap() -> None:
    # pred tokens: denver broncos won; gold: denver broncos -> p=2/3, r=1
    assert token_f1("Denver Broncos won", "the Denver Broncos") == pytest.approx(0.8)
    assert token_f1("Seattle", "Denver Broncos") == 0.0


def test_exact_match_after_normalisation() -> None:
    assert exact_match("the Denver Broncos.", "Denver Broncos") == 1.0
    assert exact_match("Denver", "Denver Broncos") == 0.0


def test_best_over_gold_answers() -> None:
    s = score("Santa Clara", ["Levi's Stadium", "Santa Clara, California", "Santa Clara"])
    assert s.f1 == 1.0 and s.exact_match == 1.0
    s = score("in Santa Clara", ["Levi's Stadium", "Santa Clara, California"])
    assert s.f1 == pytest.approx(2 / 3) and s.exact_match == 0.0  # p = r = 2/3


@pytest.mark.parametrize(
    "prediction",
    [
        "unanswerable",
        "Unanswerable.",
        "This question cannot be answered from the passage.",
        "The passage does not mention it.",
        "It is not mentioned in the context.",
        "No answer",
        "The answer is not in the context.",
        "The context doesn\u2019t say.",
        "",
    ],
)
def test_unanswerable_gold_scores_refusals_correct(prediction: str) -> None:
    assert is_unanswerable_prediction(prediction)
    assert score(prediction, []) == (1.0, 1.0)


@pytest.mark.parametrize("prediction", ["1998", "Paris", "yes", "the Normans"])
def test_unanswerable_gold_scores_answers_zero(prediction: str) -> None:
    assert score(prediction, []) == (0.0, 0.0)


def test_refusal_on_answerable_question_scores_zero() -> None:
    assert score("unanswerable", ["Paris"]).f1 == 0.0


def test_phrase_list_is_lower_case() -> None:
    assert all(p == p.lower() for p in UNANSWERABLE_PHRASES)


@pytest.mark.parametrize(
    ("prediction", "reading"),
    [
        ("Yes", "yes"),
        ("yes.", "yes"),
        ("Yes, the law applies to all states.", "yes"),
        ("No, it does not.", "no"),
        ("True", "yes"),
        ("False.", "no"),
        ("The answer is no.", "no"),
        ("Paris", None),
        ("maybe yes, maybe no", None),
        ("", None),
    ],
)
def test_yes_no_reading(prediction: str, reading: str | None) -> None:
    assert normalize_yes_no(prediction) == reading


def test_boolq_scoring_uses_yes_no_reading() -> None:
    assert score("Yes, the ethanol balance is positive.", ["yes"]) == (1.0, 1.0)
    assert score("No.", ["yes"]) == (0.0, 0.0)
    assert score("It depends", ["no"]) == (0.0, 0.0)
