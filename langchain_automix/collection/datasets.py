"""Load context-grounded QA data (JSON Lines) and the subset shipped with the package.

Each line is one question::

    {"id": "...", "dataset": "squad_v2", "context": "...", "question": "...",
     "answers": ["..."]}

``answers`` is ``[]`` for a question that cannot be answered from the context; a line
without ``answers`` has no gold answers (``automix collect --labels agreement`` labels
such rows by agreement with the final tier, :mod:`langchain_automix.collection.labels`).
Other fields (``title``, ``is_impossible``, ``source``...) are kept in
:attr:`QAItem.extra`.

Shipped data (see ``langchain_automix/data/README.md`` for sources and licenses):

* ``"qa_mix_500"``: 300 SQuAD 2.0 dev + 200 BoolQ dev questions, shuffled.
* ``"squad11_200"`` and ``"squad11_extra_200"``: 400 SQuAD 1.1 dev questions (all
  answerable) in two disjoint halves, the held-out question set.

Example:
    >>> items = load_qa("qa_mix_500")
    >>> len(items)
    500
    >>> sorted({item.dataset for item in items})
    ['boolq', 'squad_v2']
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["SHIPPED", "QADataError", "QAItem", "iter_qa", "load_qa", "shipped_path"]

SHIPPED: Mapping[str, str] = {
    "qa_mix_500": "qa_mix_500.jsonl",
    "squad11_200": "squad11_200.jsonl",
    "squad11_extra_200": "squad11_extra_200.jsonl",
}
"""Names of the QA files shipped in ``langchain_automix/data``."""

_REQUIRED = ("id", "context", "question")


class QADataError(ValueError):
    """A QA file has a malformed line; the message names the file and line number."""


@dataclass(frozen=True, slots=True)
class QAItem:
    """One context-grounded question.

    Attributes:
        id: unique id within its file.
        question: the question.
        context: the passage it is about.
        answers: gold answers; empty when it cannot be answered; None when the line has
            none (unlabelled questions).
        dataset: the source dataset name (``squad_v2``, ``boolq``...).
        extra: every other field of the line.
    """

    id: str
    question: str
    context: str
    answers: tuple[str, ...] | None
    dataset: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The item as a JSON-ready dict in the file schema."""
        return {
            "id": self.id,
            "dataset": self.dataset,
            "question": self.question,
            "context": self.context,
            **({} if self.answers is None else {"answers": list(self.answers)}),
            **dict(self.extra),
        }


def shipped_path(name: str) -> Path:
    """Path of a shipped QA file by name (see :data:`SHIPPED`)."""
    try:
        filename = SHIPPED[name]
    except KeyError:
        raise KeyError(f"No shipped QA set {name!r}; known: {', '.join(SHIPPED)}") from None
    return Path(str(resources.files("langchain_automix") / "data" / filename))


def _parse(obj: Any, where: str) -> QAItem:
    if not isinstance(obj, dict):
        raise QADataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    missing = [k for k in _REQUIRED if k not in obj]
    if missing:
        raise QADataError(f"{where}: missing field(s) {', '.join(missing)}")
    for key in ("id", "context", "question"):
        if not isinstance(obj[key], (str, int)) or (key != "id" and not isinstance(obj[key], str)):
            raise QADataError(f"{where}: field {key!r} must be a string")
    answers = obj.get("answers")
    if answers is not None and (
        not isinstance(answers, list) or not all(isinstance(a, str) for a in answers)
    ):
        raise QADataError(f"{where}: field 'answers' must be a list of strings")
    extra = {k: v for k, v in obj.items() if k not in (*_REQUIRED, "answers", "dataset")}
    return QAItem(
        id=str(obj["id"]),
        question=obj["question"],
        context=obj["context"],
        answers=None if answers is None else tuple(answers),
        dataset=str(obj.get("dataset", "")),
        extra=extra,
    )


def _resolve(path_or_name: str | os.PathLike[str]) -> Path:
    if isinstance(path_or_name, str) and path_or_name in SHIPPED:
        return shipped_path(path_or_name)
    return Path(path_or_name)


def iter_qa(path_or_name: str | os.PathLike[str]) -> Iterator[QAItem]:
    """Yield the questions of a QA JSONL file (or shipped set) one by one, validated.

    Blank lines are skipped. Raises :class:`QADataError` naming the file and line
    of the first malformed line or duplicated id.
    """
    path = _resolve(path_or_name)
    seen: set[str] = set()
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise QADataError(f"{where}: invalid JSON ({exc.msg})") from exc
            item = _parse(obj, where)
            if item.id in seen:
                raise QADataError(f"{where}: duplicated id {item.id!r}")
            seen.add(item.id)
            yield item


def load_qa(path_or_name: str | os.PathLike[str], limit: int | None = None) -> list[QAItem]:
    """Load and validate a QA JSONL file, or a shipped set by name.

    Args:
        path_or_name: a file path, or a key of :data:`SHIPPED` such as
            ``"qa_mix_500"``.
        limit: keep only the first ``limit`` questions.

    Returns:
        The questions in file order.

    Raises:
        QADataError: a line is not valid JSON, misses a field, has a wrong type or
            repeats an id (the message gives the file and line number).
        FileNotFoundError: the file does not exist.

    Example:
        >>> load_qa("qa_mix_500", limit=2)[0].id  # doctest: +ELLIPSIS
        '...'
    """
    items: list[QAItem] = []
    for item in iter_qa(path_or_name):
        if limit is not None and len(items) >= limit:
            break
        items.append(item)
    return items
