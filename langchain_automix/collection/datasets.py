"""Load context-grounded QA data (JSON Lines) and the subset shipped with the package.

Each line is one question::

    {"id": "...", "dataset": "squad_v2", "context": "...", "question": "...",
     "answers": ["..."]}

``answers`` is ``[]`` for a question that cannot be answered from the context; a line
without ``answers`` has no gold answers (``automix collect --labels agreement`` labels
such rows by agreement with the final tier, :mod:`langchain_automix.collection.labels`).
Other fields (``title``, ``is_impossible``, ``source``...) are kept in
:attr:`QAItem.extra`.

The AutoMix paper's input layout (``automix_inputs.jsonl`` of arXiv 2310.12963, the
columns its notebook ``colabs/Step1_SolveQueries.ipynb`` reads; repository
``automix-llm/automix`` at commit ``531af3ee3c4e``) is read too. A line with ``base_ctx``
is in that layout and its fields map as :data:`PAPER_FIELDS` says:

=============  ==============  ===============================================
paper field    this package    note
=============  ==============  ===============================================
``base_ctx``   ``context``
``output``     ``answers``     a string becomes ``[output]``; a list is kept;
                               absent or null: no gold answers
``pid``        ``id``          unique per line (SCROLLS: per input-output pair)
``id``         ``id``          only when there is no ``pid``; else kept as
                               ``paper_id`` in :attr:`QAItem.extra`
``question``   ``question``
``dataset``    ``dataset``
=============  ==============  ===============================================

``pid`` comes first because the paper's ``id`` repeats: SCROLLS gives one ``id`` per
input and one ``pid`` per input-output pair (NarrativeQA and Qasper list a question once
per reference answer), and the paper's CoQA rows carry the story's hash as ``id`` and
the story + question hash as ``pid`` (``colabs/Preparing_COQA.ipynb``). Every line of
the paper's data has both, so there is no row-number fallback: a line with neither is an
error. Other fields (``split``...) go to :attr:`QAItem.extra`. A line that mixes the two
layouts (``base_ctx`` with ``context`` or ``answers``; ``output`` as the only gold beside
``context``) is refused rather than guessed at.

Shipped data (see ``langchain_automix/data/README.md`` for sources and licenses):

* ``"qa_mix_500"``: 300 SQuAD 2.0 dev + 200 BoolQ dev questions, shuffled.
* ``"squad11_200"`` and ``"squad11_extra_200"``: 400 SQuAD 1.1 dev questions (all
  answerable) in two disjoint halves, the held-out question set.

And a retrieval corpus (:func:`load_corpus`): ``"squad11_paragraphs"``, every paragraph
(2,067) of the 48 Wikipedia articles behind the SQuAD 1.1 questions, so each shipped
question's gold paragraph sits among its article's other paragraphs.

Example:
    >>> items = load_qa("qa_mix_500")
    >>> len(items)
    500
    >>> sorted({item.dataset for item in items})
    ['boolq', 'squad_v2']
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_automix._jsonl import json_lines

if TYPE_CHECKING:
    from langchain_core.documents import Document

__all__ = [
    "CORPORA",
    "PAPER_FIELDS",
    "SHIPPED",
    "QADataError",
    "QAItem",
    "iter_qa",
    "load_corpus",
    "load_qa",
    "shipped_path",
]

SHIPPED: Mapping[str, str] = {
    "qa_mix_500": "qa_mix_500.jsonl",
    "squad11_200": "squad11_200.jsonl",
    "squad11_extra_200": "squad11_extra_200.jsonl",
}
"""Names of the QA files shipped in ``langchain_automix/data``."""

CORPORA: Mapping[str, str] = {"squad11_paragraphs": "squad11_paragraphs.jsonl"}
"""Names of the retrieval corpora shipped in ``langchain_automix/data``."""

_REQUIRED = ("id", "context", "question")

PAPER_FIELDS: Mapping[str, str] = {
    "base_ctx": "context",
    "output": "answers",
    "pid": "id",
    "id": "id",
    "question": "question",
    "dataset": "dataset",
}
"""How a line in the AutoMix paper's input layout maps to this package's fields (``id``
only when there is no ``pid``; see the module docstring)."""


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
    """Path of a shipped QA file or corpus by name (see :data:`SHIPPED`, :data:`CORPORA`)."""
    try:
        filename = {**SHIPPED, **CORPORA}[name]
    except KeyError:
        known = ", ".join([*SHIPPED, *CORPORA])
        raise KeyError(f"No shipped QA set or corpus {name!r}; known: {known}") from None
    return Path(str(resources.files("langchain_automix") / "data" / filename))


def _from_paper(obj: dict[str, Any], where: str) -> dict[str, Any]:
    """A line of the paper's input layout (``base_ctx``) in this package's layout."""
    ours = [k for k in ("context", "answers") if k in obj]
    if ours:
        raise QADataError(
            f"{where}: mixes two layouts: {', '.join(ours)} (this package's) beside base_ctx "
            "(the AutoMix paper's); use one: context + answers, or base_ctx + output"
        )
    key = "pid" if obj.get("pid") is not None else "id"
    missing = [k for k in (key, "question") if obj.get(k) is None]
    if missing:
        names = ["pid or id" if k == key else k for k in missing]
        raise QADataError(
            f"{where}: missing field(s) {', '.join(names)} (a line with base_ctx is in the "
            "AutoMix paper's layout: pid or id, base_ctx, question, output, dataset)"
        )
    output = obj.get("output")
    if isinstance(output, str):
        output = [output]
    elif output is not None and (
        not isinstance(output, list) or not all(isinstance(a, str) for a in output)
    ):
        raise QADataError(f"{where}: field 'output' must be a string or a list of strings")
    mapped = {
        k: v
        for k, v in obj.items()
        if k not in ("base_ctx", "output", "pid", "id") and not (k == "dataset" and v is None)
    }
    mapped["id"] = obj[key]
    mapped["context"] = obj["base_ctx"]
    if key == "pid" and obj.get("id") is not None:
        mapped["paper_id"] = obj["id"]
    if output is not None:
        mapped["answers"] = output
    return mapped


def _parse(obj: Any, where: str) -> QAItem:
    if not isinstance(obj, dict):
        raise QADataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    if "base_ctx" in obj:
        obj = _from_paper(obj, where)
        if not isinstance(obj["context"], str):
            raise QADataError(f"{where}: field 'base_ctx' must be a string")
    elif "output" in obj and "context" in obj and "answers" not in obj:
        raise QADataError(
            f"{where}: mixes two layouts: context (this package's) with output (the AutoMix "
            "paper's gold answer) and no answers; use context + answers, or base_ctx + output"
        )
    missing = [k for k in _REQUIRED if k not in obj]
    if missing:
        hint = (
            " (or, in the AutoMix paper's layout, base_ctx and output)"
            if "context" in missing
            else ""
        )
        raise QADataError(f"{where}: missing field(s) {', '.join(missing)}{hint}")
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


def _json_lines(path: Path) -> Iterator[tuple[str, Any]]:
    """``(file:line, parsed object)`` for each non-blank line; invalid JSON is a QADataError."""
    for lineno, obj in json_lines(path, error=QADataError):
        yield f"{path}:{lineno}", obj


def iter_qa(path_or_name: str | os.PathLike[str]) -> Iterator[QAItem]:
    """Yield the questions of a QA JSONL file (or shipped set) one by one, validated.

    Blank lines are skipped. Raises :class:`QADataError` naming the file and line
    of the first malformed line or duplicated id.
    """
    path = _resolve(path_or_name)
    seen: set[str] = set()
    for where, obj in _json_lines(path):
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


def load_corpus(path_or_name: str | os.PathLike[str] = "squad11_paragraphs") -> list[Document]:
    """Load a retrieval corpus as LangChain documents, ready for any vector store.

    A corpus file is JSON Lines with ``id`` and ``text`` per line; every other field
    (``title``, ``source``...) goes to the document's metadata.

    Args:
        path_or_name: a file path, or a key of :data:`CORPORA` (default: the 2,067
            paragraphs of the SQuAD 1.1 dev articles).

    Returns:
        One :class:`~langchain_core.documents.Document` per line, ``id`` set.

    Raises:
        QADataError: a line is not valid JSON, lacks ``id`` or ``text``, or repeats an id.

    Example:
        >>> docs = load_corpus()
        >>> len(docs), docs[0].id, docs[0].metadata["title"]
        (2067, '1973_oil_crisis#0', '1973_oil_crisis')
    """
    from langchain_core.documents import Document

    if isinstance(path_or_name, str) and path_or_name in CORPORA:
        path = shipped_path(path_or_name)
    else:
        path = Path(path_or_name)
    docs: list[Document] = []
    seen: set[str] = set()
    for where, obj in _json_lines(path):
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str) or "id" not in obj:
            raise QADataError(f"{where}: expected an object with 'id' and a string 'text'")
        doc_id = str(obj["id"])
        if doc_id in seen:
            raise QADataError(f"{where}: duplicated id {doc_id!r}")
        seen.add(doc_id)
        meta = {k: v for k, v in obj.items() if k not in ("id", "text")}
        docs.append(Document(id=doc_id, page_content=obj["text"], metadata=meta))
    return docs
