"""Shared by the RAG benchmarks: the shipped corpus, its E5 vectors (cached), the questions.

Embedding the 2,067 paragraphs of the shipped corpus takes about 5 minutes on 2 cores,
so the vectors are cached in ``benchmarks/.cache`` (git-ignored), keyed by a hash of the
texts; a changed corpus or question set is embedded anew.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from langchain_automix.collection.datasets import QAItem, load_corpus, load_qa
from langchain_automix.local.embeddings import E5Embeddings

CACHE = Path(__file__).resolve().parent / ".cache"
QUESTION_SETS = ("squad11_200", "squad11_extra_200")


def questions() -> list[QAItem]:
    """The 400 shipped SQuAD 1.1 questions, in replay order."""
    return [item for name in QUESTION_SETS for item in load_qa(name)]


def embed_cached(
    texts: list[str], *, role: str, embeddings: E5Embeddings | None = None
) -> np.ndarray:
    """E5 vectors of ``texts`` (``role`` 'passage' or 'query'), from the cache when there."""
    key = hashlib.sha256(("\x00".join(texts) + role).encode()).hexdigest()[:16]
    path = CACHE / f"e5_{role}_{len(texts)}_{key}.npy"
    if path.exists():
        return np.load(path)
    emb = embeddings or E5Embeddings()
    embed = emb.embed_documents if role == "passage" else emb.embed_query
    out = np.zeros((len(texts), 384), dtype=np.float32)
    start = time.perf_counter()
    for i, text in enumerate(texts):
        out[i] = embed([text])[0] if role == "passage" else embed(text)  # type: ignore[arg-type]
        if (i + 1) % 100 == 0 or i + 1 == len(texts):
            rate = (i + 1) / (time.perf_counter() - start)
            print(f"  embedded {i + 1}/{len(texts)} {role}s ({rate:.1f}/s)", file=sys.stderr)
    CACHE.mkdir(exist_ok=True)
    np.save(path, out)
    return out


def corpus_vectors() -> tuple[list[str], list[str], np.ndarray]:
    """The corpus's paragraph ids, texts and E5 passage vectors."""
    docs = load_corpus("squad11_paragraphs")
    texts = [d.page_content for d in docs]
    return [str(d.id) for d in docs], texts, embed_cached(texts, role="passage")


class CachedE5(Embeddings):
    """``E5Embeddings`` with the benchmark cache in front: known texts cost a lookup.

    Unknown texts are embedded live (and not cached), so a vector store driven through
    this behaves exactly as with ``E5Embeddings``, minus the embedding time.
    """

    def __init__(self, passages: dict[str, np.ndarray], queries: dict[str, np.ndarray]) -> None:
        self.passages, self.queries = passages, queries
        self._live = E5Embeddings()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Passage vectors, from the cache when there."""
        return [
            self.passages[t].tolist() if t in self.passages else self._live.embed_documents([t])[0]
            for t in texts
        ]

    def embed_query(self, text: str) -> list[float]:
        """Query vector, from the cache when there."""
        vec = self.queries.get(text)
        return vec.tolist() if vec is not None else self._live.embed_query(text)


def cached_embeddings() -> CachedE5:
    """A :class:`CachedE5` over the corpus and the 400 questions (embeds them once)."""
    _, texts, vectors = corpus_vectors()
    qs = [item.question for item in questions()]
    qvec = embed_cached(qs, role="query")
    return CachedE5(dict(zip(texts, vectors, strict=True)), dict(zip(qs, qvec, strict=True)))
