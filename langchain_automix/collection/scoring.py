"""Answer scoring for context-grounded QA: SQuAD token F1 and exact match.

Conventions (the SQuAD 2.0 and BoolQ literature):

* Answers are normalised before comparing: lower-cased, punctuation removed, the
  articles ``a``/``an``/``the`` removed, whitespace collapsed.
* With several gold answers the best score over them counts.
* Unanswerable questions (gold ``answers == []``) score 1.0 (F1 and EM) when the
  prediction says the question cannot be answered, and 0.0 otherwise. A prediction
  "says it cannot be answered" when, after lower-casing and straightening quotes,
  it contains one of :data:`UNANSWERABLE_PHRASES` (for example "unanswerable",
  "cannot be answered", "not mentioned", "no answer", "not in the context") or is
  empty.
* Yes/no questions (every gold answer is ``yes`` or ``no``, as in BoolQ) compare
  the prediction's yes/no reading from :func:`normalize_yes_no`, so
  ``"Yes, the law applies."`` scores 1.0 against ``["yes"]``.

Example:
    >>> score("The Eiffel Tower!", ["Eiffel Tower"])
    Score(f1=1.0, exact_match=1.0)
    >>> score("This cannot be answered from the context.", [])
    Score(f1=1.0, exact_match=1.0)
    >>> score("Yes, it does.", ["yes"])
    Score(f1=1.0, exact_match=1.0)
    >>> round(score("in Paris France", ["Paris"]).f1, 2)
    0.5
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

from langchain_automix.answers import (
    UNANSWERABLE_PHRASES,
    is_unanswerable_prediction,
    normalize_answer,
)

__all__ = [
    "UNANSWERABLE_PHRASES",
    "Score",
    "exact_match",
    "is_unanswerable_prediction",
    "normalize_answer",
    "normalize_yes_no",
    "score",
    "token_f1",
]

_YES = {"yes", "true", "correct"}
_NO = {"no", "false", "incorrect"}


class Score(NamedTuple):
    """The score of one prediction: token F1 and exact match, both in [0, 1]."""

    f1: float
    exact_match: float


def normalize_yes_no(prediction: str) -> str | None:
    """Read a yes/no answer: ``"yes"``, ``"no"`` or ``None`` when it is neither.

    The first word decides when it is yes/no (or true/false); otherwise a
    prediction that contains exactly one of the words ``yes`` and ``no`` counts
    as that word.

    Example:
        >>> normalize_yes_no("Yes, the law applies.")
        'yes'
        >>> normalize_yes_no("The answer is no.")
        'no'
        >>> normalize_yes_no("Paris") is None
        True
    """
    tokens = normalize_answer(prediction).split()
    if not tokens:
        return None
    if tokens[0] in _YES:
        return "yes"
    if tokens[0] in _NO:
        return "no"
    has_yes, has_no = "yes" in tokens, "no" in tokens
    if has_yes != has_no:
        return "yes" if has_yes else "no"
    return None


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD token-level F1 between one prediction and one gold answer.

    Example:
        >>> token_f1("the cat sat", "cat")
        0.6666666666666666
    """
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    common = Counter(pred_tokens) & Counter(gold_tokens)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(pred_tokens)
    recall = overlap / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the normalised prediction equals the normalised gold answer, else 0.0.

    Example:
        >>> exact_match("The Beatles.", "beatles")
        1.0
    """
    return float(normalize_answer(prediction) == normalize_answer(gold))


def score(prediction: str, answers: Sequence[str]) -> Score:
    """Score a prediction against the gold answers (best over them).

    Args:
        prediction: the model's answer.
        answers: gold answers; empty when the question is unanswerable.

    Returns:
        The :class:`Score` (F1, exact match).

    Example:
        >>> score("No.", ["no"])
        Score(f1=1.0, exact_match=1.0)
        >>> score("1990", [])
        Score(f1=0.0, exact_match=0.0)
    """
    if not answers:
        value = float(is_unanswerable_prediction(prediction))
        return Score(value, value)
    golds = [normalize_answer(a) for a in answers]
    if all(g in ("yes", "no") for g in golds):
        reading = normalize_yes_no(prediction)
        value = float(reading is not None and reading in golds)
        return Score(value, value)
    return Score(
        max(token_f1(prediction, g) for g in answers),
        max(exact_match(prediction, g) for g in answers),
    )
