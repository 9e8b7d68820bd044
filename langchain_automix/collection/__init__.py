"""Building replay data: run every tier over a QA set, verify and score the answers.

QA data, including the subset shipped with the package (``datasets``), answer scoring
with SQuAD token F1 and exact match (``scoring``), the collector that appends one
replay row per question (``collect``; the ``automix collect`` command), and the importer
of the AutoMix paper's released outputs (``paper``; ``automix import-paper``). Names are
imported on first use, so importing one module of this package does not load the others.

Example:
    >>> from langchain_automix.collection import score
    >>> score("Paris", ["Paris"]).f1
    1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_automix._lazy import lazy_getattr

if TYPE_CHECKING:
    from langchain_automix.collection.collect import CollectStats, Tier, aadd_signals, acollect
    from langchain_automix.collection.datasets import (
        QADataError,
        QAItem,
        iter_qa,
        load_corpus,
        load_qa,
        shipped_path,
    )
    from langchain_automix.collection.paper import (
        PaperFormatError,
        PaperImport,
        import_paper_outputs,
        write_paper_replay,
    )
    from langchain_automix.collection.scoring import (
        Score,
        exact_match,
        normalize_answer,
        score,
        token_f1,
    )

__all__ = [
    "CollectStats",
    "PaperFormatError",
    "PaperImport",
    "QADataError",
    "QAItem",
    "Score",
    "Tier",
    "aadd_signals",
    "acollect",
    "exact_match",
    "import_paper_outputs",
    "iter_qa",
    "load_corpus",
    "load_qa",
    "normalize_answer",
    "score",
    "shipped_path",
    "token_f1",
    "write_paper_replay",
]

_WHERE = {
    "CollectStats": "collect",
    "Tier": "collect",
    "aadd_signals": "collect",
    "acollect": "collect",
    "QADataError": "datasets",
    "QAItem": "datasets",
    "iter_qa": "datasets",
    "load_corpus": "datasets",
    "load_qa": "datasets",
    "shipped_path": "datasets",
    "PaperFormatError": "paper",
    "PaperImport": "paper",
    "import_paper_outputs": "paper",
    "write_paper_replay": "paper",
    "Score": "scoring",
    "exact_match": "scoring",
    "normalize_answer": "scoring",
    "score": "scoring",
    "token_f1": "scoring",
}


__getattr__ = lazy_getattr(__name__, _WHERE)
