"""AutoMix in a RAG pipeline: retriever -> AutoMix -> StrOutputParser.

Runs offline as is (deterministic fake embeddings and scripted fake chat models). Set
AUTOMIX_SMALL_MODEL / AUTOMIX_LARGE_MODEL (see quickstart.py) to use real models.

Run:
    python examples/rag_pipeline.py
"""

from __future__ import annotations

import os

from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import BaseChatModel, FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import RunnablePassthrough
from langchain_core.vectorstores import InMemoryVectorStore

from langchain_automix import AutoMixRunnable

DOCS = [
    Document(page_content="The Eiffel Tower in Paris was completed in 1889 for the World's Fair."),
    Document(page_content="Mount Fuji, at 3,776 metres, is the highest mountain in Japan."),
    Document(page_content="The Danube flows through Vienna, Bratislava, Budapest and Belgrade."),
]


def format_docs(docs: list[Document]) -> str:
    return "\n\n".join(d.page_content for d in docs)


def models() -> list[BaseChatModel]:
    if os.environ.get("AUTOMIX_SMALL_MODEL"):
        from quickstart import tier  # type: ignore[import-not-found]

        return [tier("SMALL"), tier("LARGE")]
    # Offline stand-ins: the small model answers, then doubts itself; the large one answers.
    small = FakeListChatModel(
        responses=["1889"] + ["Verification Decision: The AI generated answer is Incorrect."] * 8
    )
    large = FakeListChatModel(responses=["It was completed in 1889."])
    return [small, large]


def main() -> None:
    store = InMemoryVectorStore.from_documents(DOCS, DeterministicFakeEmbedding(size=128))
    retriever = store.as_retriever(search_kwargs={"k": 1})
    automix = AutoMixRunnable(models=models())
    rag = {"context": retriever | format_docs, "question": RunnablePassthrough()} | automix
    question = DOCS[0].page_content  # fake embeddings only match identical text
    msg = rag.invoke(question)
    print("answer:", msg.content)
    print("answered by tier", msg.response_metadata["automix"]["answered_by"])
    print("as text:", (rag | StrOutputParser()).invoke(question))


if __name__ == "__main__":
    main()
