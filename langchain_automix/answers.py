"""What an answer says, read the way SQuAD's scorer reads it.

The two rules the live path needs (``signals`` reads an answer's kind from them on every
query) and ``automix collect`` scores with (:mod:`langchain_automix.collection.scoring`):
SQuAD's normalisation, and whether a prediction says the question cannot be answered.
"""

from __future__ import annotations

import re
import string

__all__ = ["UNANSWERABLE_PHRASES", "is_unanswerable_prediction", "normalize_answer"]

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
