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

import re
import string
from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

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

UNANSWERABLE_PHRASES: tuple[str, ...] = (
    "unanswerable",
    "not answerable",
    "cannot be answered",
    "can't be answered",
    "can not be answered",
    "could not be answered",
    "cannot answer",
    "can't answer",
    "unable to answer",
    "cannot be determined",
    "can't be determined",
    "cannot determine",
    "not possible to answer",
    "not possible to determine",
    "impossible to answer",
    "impossible to determine",
    "no answer",
    "not mentioned",
    "isn't mentioned",
    "is not stated",
    "not specified",
    "not provided",
    "not given",
    "does not say",
    "doesn't say",
    "does not mention",
    "doesn't mention",
    "does not specify",
    "doesn't specify",
    "does not provide",
    "doesn't provide",
    "does not contain",
    "doesn't contain",
    "not in the context",
    "not in the passage",
    "not in the text",
    "not found in the",
    "no information",
    "not enough information",
    "insufficient information",
    "no mention",
)
"""Phrases that mark a prediction as "the question cannot be answered" (lower-case)."""

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
_YES = {"yes", "true", "correct"}
_NO = {"no", "false", "incorrect"}


class Score(NamedTuple):
    """The score of one prediction: token F1 and exact match, both in [0, 1]."""

    f1: float
    exact_match: float


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and articles, collapse whitespace (SQuAD's rule).

    Example:
        >>> normalize_answer("The  Quick, brown fox.")
        'quick brown fox'
    """
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def is_unanswerable_prediction(prediction: str) -> bool:
    """Whether ``prediction`` says the question cannot be answered from the context.

    Example:
        >>> is_unanswerable_prediction("The passage does not mention it.")
        True
        >>> is_unanswerable_prediction("1998")
        False
    """
    text = " ".join(prediction.lower().translate(_QUOTES).split())
    if not normalize_answer(text):
        return True
    return any(phrase in text for phrase in UNANSWERABLE_PHRASES)


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
