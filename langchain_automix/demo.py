"""``automix demo``: AutoMix live on the embedded local models, with a paper-style table.

What it does, in order:

1. loads the shipped QA questions and the shipped replay rows (collected with the same
   local pair by ``automix collect``);
2. picks ``n`` live questions (seeded) and calibrates ``Threshold`` and ``POMDP`` on the
   shipped replay rows that are *not* among them;
3. starts the embedded llama.cpp models and runs ``AutoMixRunnable`` live on every
   question (small answer, ``k`` self-verifications, POMDP decision, large answer when
   escalated);
4. asks the large model too where AutoMix did not (only to measure the always-large
   baseline; that call is not part of AutoMix's cost);
5. prints always-small, always-large, AutoMix + Threshold and AutoMix + POMDP on the live
   questions: quality (token F1), cost per query (paper units: small 1, verification 1,
   large 50), share sent to the large model, and ΔIBC; writes the live rows as a replay
   file and the cost-quality plot.

The Threshold row applies the calibrated threshold to the live verifier confidences of
the same run (its decisions are a function of those confidences), so both policies are
compared on identical model outputs.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any, TextIO

import numpy as np

from langchain_automix.calibration.evaluation import (
    MethodResult,
    evaluate_policy,
    paired_interval,
)
from langchain_automix.calibration.metrics import CostSpec, baselines
from langchain_automix.calibration.replay import ReplayDataset, load_replay
from langchain_automix.collection.datasets import QAItem, load_qa
from langchain_automix.collection.scoring import score
from langchain_automix.meta_verifiers import POMDP, Calibrated, MetaVerifier, Threshold
from langchain_automix.runtime.result import AutoMixResult
from langchain_automix.runtime.solving import format_solve_messages
from langchain_automix.signals import FREE, has_answer_probs, resolve_auto

__all__ = [
    "DEFAULT_QUESTIONS",
    "SHIPPED_QA",
    "SHIPPED_REPLAY",
    "DemoReport",
    "calibrate",
    "pick_live_questions",
    "run_demo",
]

DATA_DIR = Path(__file__).parent / "data"
SHIPPED_QA = "qa_mix_500"
"""The shipped question set (see ``langchain_automix/data/README.md``)."""
SHIPPED_REPLAY = DATA_DIR / "replay_local_qwen.jsonl"
"""Replay rows collected with the default local pair."""
DEFAULT_QUESTIONS = 12
"""Live questions by default: about 5 minutes on 2 CPU cores."""
COSTS = (1.0, 50.0)
MIN_CALIBRATION_ROWS = 10
FREE_LABEL = "AutoMix, no verifier"
"""The row of a Threshold on the answer's free signals: it never calls the verifier."""


@dataclass
class DemoReport:
    """What the demo measured."""

    live: ReplayDataset
    """The live questions as replay rows (small and large scores, live confidence)."""
    results: list[AutoMixResult]
    """``AutoMixRunnable``'s result for each live question."""
    methods: list[MethodResult]
    """Threshold and POMDP on the live rows."""
    baselines: dict[str, dict[str, float | None]]
    """Always-small, always-large, random mixing, oracle on the live rows."""
    calibration_rows: int
    """Replay rows the meta-verifiers were fitted on."""
    seconds: float
    """Wall time of the live part."""
    notes: list[str] = field(default_factory=list)
    """Caveats worth printing (small calibration set, ...)."""
    median_seconds: dict[str, float] = field(default_factory=dict)
    """Median wall time per query of each table row on these questions: the small answer,
    its verification (for the rows that read it) and (when escalated) the large answer,
    as measured live."""
    kept_free_seconds: list[float] = field(default_factory=list)
    """Seconds of the queries the no-verifier row keeps at the small model (its answer
    call alone)."""

    def quality_line(self, draws: int = 2000) -> str:
        """AutoMix's live quality and cost against always-large's, with paired intervals.

        The interval is a 95% bootstrap over the live questions of the difference in
        quality (AutoMix minus always-large, on the same questions).
        """
        scores = self.live.scores
        automix = np.array(
            [scores[i, -1] if r.escalated else scores[i, 0] for i, r in enumerate(self.results)]
        )
        diff = automix - scores[:, -1]
        lo, hi = paired_interval(diff, draws, np.random.default_rng(0))
        cost = float(np.mean([r.total_cost for r in self.results]))
        large_cost = float(self.baselines["always_large"]["avg_cost"] or 1.0)
        within = "within" if lo <= 0.0 <= hi else ("above" if lo > 0 else "below")
        return (
            f"AutoMix live: quality {automix.mean():.3f} vs always-large {scores[:, -1].mean():.3f}"
            f" (difference {diff.mean():+.3f}, 95% CI [{lo:+.3f}, {hi:+.3f}] over "
            f"{diff.size} questions: {within} always-large's), at cost {cost:.1f} vs "
            f"{large_cost:.0f} ({cost / large_cost - 1:+.0%})"
        )

    def latency_line(self) -> str:
        """Median seconds of the queries AutoMix accepted against always-large's."""
        kept = [
            r.attempts[0].latency_s + r.attempts[0].verify_latency_s
            for r in self.results
            if not r.escalated
        ]
        large = self.median_seconds.get("always large")
        if not kept:
            line = f"AutoMix accepted no answer here; always-large: median {large:.2f} s"
        else:
            line = (
                f"median latency: queries AutoMix kept at the small model {median(kept):.2f} s "
                f"({len(kept)} of {len(self.results)}), always-large {large:.2f} s"
            )
        if self.kept_free_seconds:
            line += (
                f"; kept by {FREE_LABEL!r} (answer call only) "
                f"{median(self.kept_free_seconds):.2f} s ({len(self.kept_free_seconds)} of "
                f"{len(self.results)})"
            )
        return line

    def table(self) -> str:
        """The paper-style table."""
        rows: list[tuple[str, float, float, float, float | None]] = []
        for key, label in (("always_small", "always small"), ("always_large", "always large")):
            b = self.baselines[key]
            rows.append(
                (
                    label,
                    float(b["avg_performance"] or 0.0),
                    float(b["avg_cost"] or 0.0),
                    float(b["llm_call_share"] or 0.0),
                    b["delta_ibc"],
                )
            )
        for m in self.methods:
            rows.append((m.name, m.avg_performance, m.avg_cost, m.llm_call_share, m.delta_ibc))
        head = (
            f"{'method':<22}{'quality (F1)':>13}{'cost/query':>12}{'to large':>10}{'ΔIBC':>9}"
            f"{'median s':>10}"
        )
        lines = [head, "-" * len(head)]
        for name, q, c, share, d in rows:
            dibc = "n/a" if d is None else f"{d:+.1f}"
            secs = self.median_seconds.get(name)
            sec = "" if secs is None else f"{secs:.2f}"
            lines.append(f"{name:<22}{q:>13.3f}{c:>12.2f}{share:>9.0%}{dibc:>9}{sec:>10}")
        return "\n".join(lines)


def pick_live_questions(items: Sequence[QAItem], n: int, *, seed: int = 0) -> list[QAItem]:
    """``n`` questions drawn with ``seed``, in a stable order.

    Example:
        >>> from langchain_automix.collection.datasets import load_qa
        >>> qs = pick_live_questions(load_qa("qa_mix_500"), 3, seed=1)
        >>> len(qs), len({q.id for q in qs})
        (3, 3)
    """
    if n < 1:
        raise ValueError(f"the number of live questions must be >= 1, got {n}")
    if n > len(items):
        raise ValueError(f"asked for {n} live questions but only {len(items)} are shipped")
    return random.Random(seed).sample(list(items), n)  # noqa: S311 - not for security


def calibrate(
    replay: ReplayDataset, exclude_ids: set[str]
) -> tuple[list[tuple[str, MetaVerifier]], int, list[str]]:
    """Fit Threshold and POMDP on the replay rows whose ids are not in ``exclude_ids``.

    Both are fitted the default way (:class:`~langchain_automix.meta_verifiers.Calibrated`:
    cross-validated, falling back to always-escalate when routing does not pay) on the
    ``combined`` signal when the rows carry more than the verifier's, else on the verifier.
    """
    keep = [i for i, qid in enumerate(replay.ids) if str(qid) not in exclude_ids]
    train = replay.subset(keep)
    notes: list[str] = []
    signal = resolve_auto(train.signal_names)
    if train.n_rows < MIN_CALIBRATION_ROWS:
        notes.append(
            f"only {train.n_rows} shipped replay rows to calibrate on (fewer than "
            f"{MIN_CALIBRATION_ROWS}): using the unfitted default threshold 0.5 and a POMDP "
            "fitted on what there is"
        )
        threshold: MetaVerifier = Threshold(0.5)
    else:
        threshold = Calibrated(Threshold(), signal=signal).fit(train, costs=COSTS)
    pomdp = (
        Calibrated(POMDP(), signal=signal, robust=train.n_rows >= MIN_CALIBRATION_ROWS).fit(
            train, costs=COSTS
        )
        if train.n_rows >= 2
        else None
    )
    for name, mv in (("Threshold", threshold), ("POMDP", pomdp)):
        if isinstance(mv, Calibrated) and mv.fallback is not None:
            notes.append(f"{name}: {mv.report['fallback_reason']}")
    policies: list[tuple[str, MetaVerifier]] = [("AutoMix + Threshold", threshold)]
    if has_answer_probs(train.signal_names) and train.n_rows >= MIN_CALIBRATION_ROWS:
        free = Calibrated(Threshold(), signal=FREE).fit(train, costs=COSTS)
        if free.fallback is not None:
            notes.append(f"{FREE_LABEL}: {free.report['fallback_reason']}")
        policies.append((FREE_LABEL, free))
    if pomdp is not None:
        policies.append(("AutoMix + POMDP", pomdp))
    else:
        notes.append("no replay rows to fit the POMDP on; it is left out")
    return policies, train.n_rows, notes


def _live_row(
    item: QAItem, result: AutoMixResult, large_answer: str, large_latency: float
) -> dict[str, Any]:
    small = result.attempts[0]
    small_score = score(small.answer or "", item.answers)
    large_score = score(large_answer, item.answers)
    return {
        "id": item.id,
        "dataset": item.dataset,
        "question": item.question,
        "answers": list(item.answers),
        "tiers": [
            {
                "model": small.model,
                "answer": small.answer,
                "score": small_score.f1,
                "exact_match": small_score.exact_match,
                "verifier_confidence": small.verifier_confidence or 0.0,
                "verifier_samples": small.verifier_samples,
                "signals": {k: v for k, v in small.signals.items() if k != "verifier"},
                "latency_s": small.latency_s,
                "verify_latency_s": small.verify_latency_s,
            },
            {
                "model": result.attempts[-1].model if result.escalated else "large",
                "answer": large_answer,
                "score": large_score.f1,
                "exact_match": large_score.exact_match,
                "latency_s": large_latency,
            },
        ],
        "automix": {"escalated": result.escalated, "total_cost": result.total_cost},
    }


def run_demo(
    models: Sequence[Any],
    *,
    n_questions: int = DEFAULT_QUESTIONS,
    k: int = 8,
    seed: int = 0,
    out_dir: str | Path = "automix-demo",
    replay_path: str | Path = SHIPPED_REPLAY,
    plot: bool = True,
    request_n: bool | None = None,
    max_concurrency: int | None = None,
    stream: TextIO = sys.stderr,
    clock: Callable[[], float] = time.perf_counter,
) -> DemoReport:
    """Run the demo on two chat models (small, large); see the module docstring.

    ``max_concurrency`` bounds the calls in flight per query (1 for llama.cpp's server,
    which serves one request at a time); ``None`` sends the verifier samples at once.
    """
    from langchain_automix.runtime.runnable import AutoMixRunnable

    if len(models) != 2:
        raise ValueError(f"the demo compares two tiers; got {len(models)} models")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    items = pick_live_questions(load_qa(SHIPPED_QA), n_questions, seed=seed)
    replay = load_replay(replay_path)
    policies, n_cal, notes = calibrate(replay, {i.id for i in items})
    for name, policy in policies:
        print(f"calibrated {name} on {n_cal} shipped replay rows: {policy.describe()}", file=stream)
    live_policy = policies[-1][1]
    small, large = models
    automix = AutoMixRunnable(
        models=[small, large],
        meta_verifier=live_policy,
        num_verifications=k,
        verifier_seed=seed,
        request_n=request_n,
    )
    rows: list[dict[str, Any]] = []
    results: list[AutoMixResult] = []
    started = clock()
    for i, item in enumerate(items, 1):
        t0 = clock()
        result = automix.invoke_result(
            {"question": item.question, "context": item.context},
            config={"max_concurrency": max_concurrency} if max_concurrency else None,
        )
        if result.escalated:
            large_answer = result.answer
            large_latency = result.attempts[-1].latency_s
        else:  # measure always-large too (not part of AutoMix's cost)
            t1 = clock()
            reply = large.invoke(format_solve_messages(item.question, item.context))
            large_latency = clock() - t1
            large_answer = str(reply.content).strip()
        results.append(result)
        rows.append(_live_row(item, result, large_answer, large_latency))
        first = result.attempts[0]
        conf = first.verifier_confidence
        seen = (
            "small model skipped"
            if first.skipped
            else ("no verifier call" if conf is None else f"confidence {conf:.2f}")
        )
        print(
            f"[{i}/{len(items)}] {clock() - t0:5.1f}s  {seen} "
            f"-> {'escalated' if result.escalated else 'kept small'}: {result.answer[:50]!r} "
            f"(gold {item.answers[0][:30] if item.answers else 'unanswerable'!r})",
            file=stream,
        )
    seconds = clock() - started
    (out / "live_replay.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    live = ReplayDataset.from_records(rows, source="live row")
    spec = CostSpec.make(COSTS, None, n_tiers=2)
    methods = [evaluate_policy(p, live, costs=COSTS, name=name) for name, p in policies]
    small_s = np.array([r["tiers"][0]["latency_s"] for r in rows], float)
    verify_s = np.array([r["tiers"][0]["verify_latency_s"] for r in rows], float)
    large_s = np.array([r["tiers"][1]["latency_s"] for r in rows], float)
    seconds_by_row = {"always small": small_s, "always large": large_s}
    for name, policy in policies:
        checked = small_s + (verify_s if policy.reads_verifier() else 0.0)
        seconds_by_row[name] = checked + np.where(policy.route(live) == 1, large_s, 0)
    free_policy = dict(policies).get(FREE_LABEL)
    kept_free = small_s[free_policy.route(live) == 0] if free_policy is not None else np.array([])
    report = DemoReport(
        live=live,
        results=results,
        methods=methods,
        baselines=baselines(live.scores, spec),
        calibration_rows=n_cal,
        seconds=seconds,
        notes=notes,
        median_seconds={k: float(np.median(v)) for k, v in seconds_by_row.items()},
        kept_free_seconds=[float(x) for x in kept_free],
    )
    if plot:
        try:
            from langchain_automix.calibration.plotting import plot_cost_quality

            path = plot_cost_quality(
                methods,
                report.baselines,
                out / "cost_quality.png",
                title="AutoMix live on the embedded local models",
            )
            report.notes.append(f"cost-quality plot written to {path}")
        except ImportError as exc:
            report.notes.append(f"no plot ({exc}); pip install 'langchain-automix[plot]'")
    return report
