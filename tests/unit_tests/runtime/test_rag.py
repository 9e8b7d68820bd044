from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import RunnablePassthrough
from langchain_core.vectorstores import InMemoryVectorStore

from langchain_automix import AutoMixRunnable
from tests.unit_tests.fake_models import CORRECT, ScriptedChatModel, is_verify_prompt

DOCS = [
    Document(page_content="The Eiffel Tower is in Paris and was completed in 1889."),
    Document(page_content="Mount Fuji is the highest mountain in Japan."),
    Document(page_content="The Danube flows through Vienna and Budapest."),
]


def format_docs(docs: list[Document]) -> str:
    return "\n\n".join(d.page_content for d in docs)


def test_rag_pipeline_with_vector_store() -> None:
    store = InMemoryVectorStore.from_documents(DOCS, DeterministicFakeEmbedding(size=64))
    retriever = store.as_retriever(search_kwargs={"k": 1})
    small = ScriptedChatModel(answer="1889", verdicts=[CORRECT])
    large = ScriptedChatModel(answer="large")
    automix = AutoMixRunnable(models=[small, large], num_verifications=2)
    seen: list[str] = []
    automix_spy = RunnablePassthrough(lambda x: seen.append(x["context"])) | automix
    rag = {"context": retriever | format_docs, "question": RunnablePassthrough()} | automix_spy
    chain = rag | StrOutputParser()
    question = DOCS[0].page_content  # deterministic embeddings: the same text is the nearest
    assert chain.invoke(question) == "1889"
    assert seen == [DOCS[0].page_content]
    assert chain.batch([question, question]) == ["1889", "1889"]


def test_rag_passes_retrieved_context_into_both_prompts() -> None:
    store = InMemoryVectorStore.from_documents(DOCS, DeterministicFakeEmbedding(size=64))
    retriever = store.as_retriever(search_kwargs={"k": 1})
    prompts: list[str] = []

    class Spy(ScriptedChatModel):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[no-untyped-def]
            prompts.append(
                ("verify:" if is_verify_prompt(messages) else "solve:") + str(messages[-1].content)
            )
            return super()._generate(messages, stop, run_manager, **kwargs)

    automix = AutoMixRunnable(
        models=[Spy(answer="Japan", verdicts=[CORRECT]), ScriptedChatModel()], num_verifications=1
    )
    chain = {"context": retriever, "question": RunnablePassthrough()} | automix | StrOutputParser()
    assert chain.invoke(DOCS[1].page_content) == "Japan"
    solve = next(p for p in prompts if p.startswith("solve:"))
    verify = next(p for p in prompts if p.startswith("verify:"))
    assert (
        "Mount Fuji" in solve and "Mount Fuji" in verify and "AI Generated Answer: Japan" in verify
    )
