"""``automix demo``: AutoMix live on the embedded local models, with a paper-style table.

What it does, in order:

1. loads the shipped QA questions and the shipped replay rows (collected with the same
   local pair by ``automix collect``);
2. picks ``n`` live questions (seeded) and calibrates ``Threshold`` and ``POMDP`` on the
   shipped replay rows that are *not* among them;
3. starts the embedded llama.cpp models and runs ``AutoMixRunnable`` live on every
   question (small answer, ``k`` self-verifications, the policy's decision, large answer
   when escalated), verifying the way the replay rows were verified (their
   ``prompt_version`` names the layout: the shipped rows use the shared-prefix layout,
   ``--verify-prompt shared --verify-grammar verdict``, see docs/verification.md);
4. asks the large model too where AutoMix did not (only to measure the always-large
   baseline; that call is not part of AutoMix's cost);
5. prints always-small, always-large, AutoMix + Threshold and AutoMix + POMDP on the live
   questions: quality (token F1), cost per query (paper units: small 1, verification 1,
   large 50), share sent to the large model, ΔIBC, the median latency per query and the
   median latency of the queries each row keeps at the small model; writes the live rows
   as a replay file and the cost-quality plot.

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
from langchain_core.runnables import RunnableConfig

from langchain_automix._model_utils import model_name
from langchain_automix.calibration.metrics import CostSpec, baselines
from langchain_automix.calibration.replay import ReplayDataset, load_replay
from langchain_automix.collection.datasets import QAItem, load_qa
from langchain_automix.collection.scoring import score
from langchain_automix.evaluation import (
    MethodResult,
    evaluate_policy,
    paired_interval,
)
from langchain_automix.meta_verifiers import POMDP, Calibrated, MetaVerifier, Threshold
from langchain_automix.meta_verifiers.provenance import replay_prompt_version
from langchain_automix.prompts import VERIFY_GRAMMARS, VERIFY_PROMPTS, verification_layout
from langchain_automix.runtime.result import AutoMixResult, TierAttempt
from langchain_automix.runtime.tier_step import answer, verified, verify_attempt
from langchain_automix.runtime.verification import (
    VerificationResult,
    VerifierSettings,
    query_seed,
)
from langchain_automix.signals import FREE, has_answer_probs, resolve_auto

__all__ = [
    "DEFAULT_QUESTIONS",
    "SHIPPED_QA",
    "SHIPPED_REPLAY",
    "DemoReport",
    "calibrate",
    "choose_live",
    "pick_live_questions",
    "run_demo",
]

DATA_DIR = Path(__file__).parent / "data"
SHIPPED_QA = "qa_mix_500"
"""The shipped question set (see ``langchain_automix/data/README.md``)."""
SHIPPED_REPLAY = DATA_DIR / "replay_local_qwen_shared.jsonl"
"""Replay rows collected with the default local pair, verified with the shared-prefix
layout (the answers of ``replay_local_qwen.jsonl``; see the data README)."""
DEFAULT_QUESTIONS = 20
"""Live questions by default: about a minute on 2 CPU cores (each is answered by both
models and verified k = 8 times, so that every row of the table is scored on the same
answers)."""
COSTS = (1.0, 50.0)
MIN_CALIBRATION_ROWS = 10
TABLE_DRAWS = 2000
"""Bootstrap resamples of the live questions behind the table's ΔIBC intervals."""
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
    live_policy: str = ""
    """The table row that ran live (see :func:`choose_live`)."""
    kept_seconds: dict[str, tuple[float, int]] = field(default_factory=dict)
    """Per table row that keeps some answers at the small model: the median wall time of
    the queries it kept (the small answer plus, for the rows that read it, its
    verification) and how many it kept."""
    layout: tuple[str, str] = ("default", "none")
    """The verification layout used live: ``(--verify-prompt, --verify-grammar)``."""
    verifier_rows: tuple[str, ...] = ()
    """The table rows whose policy reads the verifier."""

    def headline(self, draws: int = 2000) -> str:
        """AutoMix's live cost saving and quality against always-large, with 95% intervals.

        Both intervals are paired percentile bootstraps over the live questions: of the
        cost saved per query (always-large's cost minus what AutoMix spent, as a share of
        always-large's) and of the quality difference (AutoMix minus always-large).
        """
        scores = self.live.scores
        automix = np.array(
            [scores[i, -1] if r.escalated else scores[i, 0] for i, r in enumerate(self.results)]
        )
        diff = automix - scores[:, -1]
        rng = np.random.default_rng(0)
        lo, hi = paired_interval(diff, draws, rng)
        large_cost = float(self.baselines["always_large"]["avg_cost"] or 1.0)
        spent = np.array([r.total_cost for r in self.results], float)
        saved = (large_cost - spent) / large_cost
        s_lo, s_hi = paired_interval(saved, draws, rng)
        n = diff.size
        if s_lo > 0:
            verdict = "a saving: the interval excludes 0"
        elif s_hi < 0:
            verdict = "a loss: AutoMix cost more than always-large here"
        else:
            verdict = f"no saving that {n} questions can show: the interval includes 0"
        if not diff.any():
            same = "the same as always-large's on every question"
        elif hi < 0:
            same = "lower than always-large's: the interval excludes 0"
        elif lo > 0:
            same = "higher than always-large's: the interval excludes 0"
        else:
            same = f"the interval includes 0: {n} questions cannot tell it from always-large's"
        return (
            f"AutoMix live ({self.live_policy}): cost {spent.mean():.1f} vs always-large "
            f"{large_cost:.0f} per query, saved {saved.mean():.0%} (95% CI [{s_lo:.0%}, "
            f"{s_hi:.0%}] over {n} questions: {verdict});\n"
            f"quality {automix.mean():.3f} vs always-large {scores[:, -1].mean():.3f} "
            f"(difference {diff.mean():+.3f}, 95% CI [{lo:+.3f}, {hi:+.3f}]: {same})"
        )

    def latency_line(self) -> str:
        """Median seconds of the queries AutoMix kept at the small model, and of always-large."""
        kept = [
            r.attempts[0].latency_s + r.attempts[0].verify_latency_s
            for r in self.results
            if not r.escalated
        ]
        large = self.median_seconds.get("always large", float("nan"))
        if not kept:
            return (
                "AutoMix kept no answer at the small model here; always-large: median "
                f"{large:.2f} s"
            )
        return (
            f"median latency: queries AutoMix kept at the small model {median(kept):.2f} s "
            f"({len(kept)} of {len(self.results)}), always-large {large:.2f} s"
        )

    def table(self) -> str:
        """The paper-style table; each policy's ΔIBC with its 95% interval over the questions.

        The interval is a percentile bootstrap over the live questions (the policy's
        decisions kept, always-small and always-large recomputed on each resample): on
        20 questions it is wide, and the table says so instead of a bare number.
        """
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
        intervals: dict[str, str] = {}
        for m in self.methods:
            rows.append((m.name, m.avg_performance, m.avg_cost, m.llm_call_share, m.delta_ibc))
            draws = np.asarray(m.bootstrap.get("delta_ibc", []), float)
            draws = draws[np.isfinite(draws)]
            if draws.size:
                lo, hi = np.quantile(draws, [0.025, 0.975])
                intervals[m.name] = f" [{lo:+.0f}, {hi:+.0f}]"
        head = (
            f"{'method':<23}{'quality (F1)':>13}{'cost/query':>12}{'to large':>10}"
            f"{'ΔIBC [95% CI]':>22}{'median s':>10}{'kept s':>9}"
        )
        lines = [head, "-" * len(head)]
        for name, q, c, share, d in rows:
            dibc = "n/a" if d is None else f"{d:+.1f}{intervals.get(name, '')}"
            secs = self.median_seconds.get(name)
            sec = "" if secs is None else f"{secs:.2f}"
            kept = self.kept_seconds.get(name)
            kept_s = "" if kept is None else f"{kept[0]:.2f}"
            label = f"{name} *" if name == self.live_policy else name
            lines.append(
                f"{label:<23}{q:>13.3f}{c:>12.2f}{share:>9.0%}{dibc:>22}{sec:>10}{kept_s:>9}"
            )
        if self.live_policy:
            lines.append("* ran live; every row is scored on the same live answers")
        lines.append(
            "ΔIBC [95% CI]: bootstrap over these questions; median s: per query; kept s: per "
            "query the row keeps at the small model (its answer, plus its verification where "
            "the row reads it)"
        )
        return "\n".join(lines)

    def kept_line(self) -> str:
        """The verifying rows' median latency of a kept query against always-large's."""
        large = self.median_seconds.get("always large", float("nan"))
        parts = [
            f"{name} {secs:.2f} s ({n} kept)"
            for name, (secs, n) in self.kept_seconds.items()
            if name in self.verifier_rows
        ]
        if not parts:
            return f"no verifying policy kept an answer here; always-large: median {large:.2f} s"
        prompt, grammar = self.layout
        return (
            f"median latency of a query kept after verification (--verify-prompt {prompt} "
            f"--verify-grammar {grammar}, k samples): "
            + ", ".join(parts)
            + f"; always-large {large:.2f} s"
        )


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


def choose_live(
    policies: Sequence[tuple[str, MetaVerifier]],
) -> tuple[str, MetaVerifier, str]:
    """The policy the demo runs live: the best cross-validated gain among the safe ones.

    Every calibrated policy has passed (or failed) its own safety check on the shipped
    rows (``Calibrated``'s ``check``: by default the smoothed gain model and the held-out
    gain of the same share must agree, else the held-out bound alone decides, and a
    policy that fails falls back to the best fixed choice). Among those that passed, the one with
    the highest mean held-out ΔIBC (``report["cv_delta_ibc"]``, repeated k-fold on the
    shipped rows) runs live: the most a user can expect to save, with the downside already
    bounded. When every policy fell back, the last one (its fixed choice).

    Returns:
        ``(name, policy, why)``.
    """
    scored = [
        (float(p.report.get("cv_delta_ibc") or float("-inf")), name, p)
        for name, p in policies
        if isinstance(p, Calibrated) and p.fallback is None
    ]
    if not scored:
        name, policy = policies[-1]
        return name, policy, "every calibrated policy fell back to a fixed choice"
    gain, name, policy = max(scored, key=lambda t: t[0])
    lower = float(policy.report.get("cv_margin_lower", float("nan")))
    return (
        name,
        policy,
        f"the best held-out ΔIBC on the shipped rows among the policies that passed the "
        f"safety check: {gain:+.1f} (lower 5% bound of the gain {lower:+.1f})",
    )


def _live_row(
    item: QAItem, *, small: TierAttempt, large: TierAttempt, result: AutoMixResult
) -> dict[str, Any]:
    """The replay row of one live question: both tiers' attempts, scored."""
    return {
        "id": item.id,
        "dataset": item.dataset,
        "question": item.question,
        "answers": list(item.answers or ()),
        "tiers": [
            attempt.to_replay(score(attempt.answer or "", item.answers or ()))
            for attempt in (small, large)
        ],
        "automix": {"escalated": result.escalated, "total_cost": result.total_cost},
    }


def _layout(
    replay: ReplayDataset, chosen: tuple[str, str] | None
) -> tuple[tuple[str, str], str | None]:
    """The verification layout to run live, and a note when it is not the replay's."""
    version = replay_prompt_version(replay)
    found = verification_layout(version)
    if chosen is not None:
        if found is not None and found != chosen:
            return chosen, (
                f"verifying live with --verify-prompt {chosen[0]} --verify-grammar {chosen[1]}, "
                f"but the replay rows were verified with --verify-prompt {found[0]} "
                f"--verify-grammar {found[1]}: the policies read confidences of another "
                "measurement"
            )
        return chosen, None
    if found is not None:
        return found, None
    if version is None:
        return ("default", "none"), None
    return ("default", "none"), (
        f"the replay rows were verified with prompts this version does not name "
        f"(prompt_version {version}); verifying live with the paper's prompt"
    )


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
    layout: tuple[str, str] | None = None,
    stream: TextIO = sys.stderr,
    clock: Callable[[], float] = time.perf_counter,
) -> DemoReport:
    """Run the demo on two chat models (small, large); see the module docstring.

    ``max_concurrency`` bounds the calls in flight per query (1 for llama-cpp-python's
    server, which serves one request at a time; ``llama-server`` has parallel slots and
    takes the k samples in one ``n = k`` request); ``None`` sends the verifier samples at
    once.
    ``layout`` names the verification prompt and grammar (``("shared", "verdict")``, the
    keys of :data:`~langchain_automix.prompts.VERIFY_PROMPTS` and ``VERIFY_GRAMMARS``);
    None: the layout the replay rows were verified with (their ``prompt_version``), so
    that live confidences are the ones the policies were calibrated on.
    """
    from langchain_automix.runtime.runnable import AutoMixRunnable

    if len(models) != 2:
        raise ValueError(f"the demo compares two tiers; got {len(models)} models")
    if layout is not None and (layout[0] not in VERIFY_PROMPTS or layout[1] not in VERIFY_GRAMMARS):
        raise ValueError(
            f"unknown verification layout {layout!r}: the prompt is one of "
            f"{', '.join(VERIFY_PROMPTS)} and the grammar one of {', '.join(VERIFY_GRAMMARS)}"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    items = pick_live_questions(load_qa(SHIPPED_QA), n_questions, seed=seed)
    replay = load_replay(replay_path)
    layout, layout_note = _layout(replay, layout)
    verify_prompt, grammar = VERIFY_PROMPTS[layout[0]], VERIFY_GRAMMARS[layout[1]]
    policies, n_cal, notes = calibrate(replay, {i.id for i in items})
    if layout_note:
        notes.append(layout_note)
    for name, policy in policies:
        print(f"calibrated {name} on {n_cal} shipped replay rows: {policy.describe()}", file=stream)
    live_name, live_policy, why = choose_live(policies)
    print(f"running {live_name!r} live: {why}", file=stream)
    small, large = models
    automix = AutoMixRunnable(
        models=[small, large],
        meta_verifier=live_policy,
        num_verifications=k,
        verifier_seed=seed,  # each query verifies with its own seed (query_seed)
        request_n=request_n,
        verify_prompt=verify_prompt,
        verifier_grammar=grammar,
    )
    # the table's verifier rows read a verification of every small answer, also where the
    # live policy needs none (that call is measured, not charged to AutoMix)
    table_reads_verifier = any(p.reads_verifier() for _, p in policies)
    config = RunnableConfig(max_concurrency=max_concurrency) if max_concurrency else None
    rows: list[dict[str, Any]] = []
    results: list[AutoMixResult] = []
    started = clock()
    for i, item in enumerate(items, 1):
        t0 = clock()
        question = {"question": item.question, "context": item.context}
        settings = VerifierSettings(
            k=k,
            seed=query_seed(seed, item.question, item.context),  # as the live graph seeds it
            request_n=request_n,
            prompt=verify_prompt,
            grammar=grammar,
        )
        result = automix.invoke_result(question, config=config)
        first = result.attempts[0]
        small_attempt = first
        if first.skipped:  # a policy fixed to always-large: answer with the small model too
            small_attempt = answer(
                small, tier=0, name=first.model, question=item.question, context=item.context
            )
        usable = small_attempt.error is None
        if table_reads_verifier and usable and small_attempt.verifier_confidence is None:
            # verified for the table, also where the live policy needed no verification
            small_attempt = verify_attempt(
                small_attempt,
                small,
                question=item.question,
                context=item.context,
                settings=settings,
                config=config,
            )
        if small_attempt.verifier_confidence is None:  # a failed or empty answer, or no
            # policy reads the verifier: recorded as confidence 0 (escalated), as collect does
            reason = small_attempt.error or "not verified: no policy reads the verifier"
            unverified = VerificationResult.unverified(reason, k)
            small_attempt = verified(small_attempt, unverified, method="sampling")
        if result.escalated:
            large_attempt = result.attempts[-1]
        else:  # measure always-large too (not part of AutoMix's cost)
            large_attempt = answer(
                large,
                tier=1,
                name=model_name(large),
                question=item.question,
                context=item.context,
                final=True,
            )
        results.append(result)
        rows.append(_live_row(item, small=small_attempt, large=large_attempt, result=result))
        seen = (
            "small model skipped"
            if first.skipped
            else (
                "no verifier call"
                if first.verifier_confidence is None
                else f"confidence {first.verifier_confidence:.2f}"
            )
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
    methods = [
        evaluate_policy(p, live, costs=COSTS, name=name, bootstrap=TABLE_DRAWS)
        for name, p in policies
    ]
    small_s = np.array([r["tiers"][0]["latency_s"] for r in rows], float)
    verify_s = np.array([r["tiers"][0]["verify_latency_s"] for r in rows], float)
    large_s = np.array([r["tiers"][1]["latency_s"] for r in rows], float)
    seconds_by_row = {"always small": small_s, "always large": large_s}
    kept_seconds = {"always small": (float(np.median(small_s)), len(rows))}
    for name, policy in policies:
        if policy.start_tier(2) == 1:  # fixed to always-large: the large call alone
            seconds_by_row[name] = large_s
            continue
        checked = small_s + (verify_s if policy.reads_verifier() else 0.0)
        escalated = policy.route(live) == 1
        seconds_by_row[name] = checked + np.where(escalated, large_s, 0)
        if not escalated.all():
            kept_seconds[name] = (float(np.median(checked[~escalated])), int((~escalated).sum()))
    report = DemoReport(
        live=live,
        results=results,
        methods=methods,
        baselines=baselines(live.scores, spec),
        calibration_rows=n_cal,
        seconds=seconds,
        notes=notes,
        median_seconds={k: float(np.median(v)) for k, v in seconds_by_row.items()},
        live_policy=live_name,
        kept_seconds=kept_seconds,
        layout=layout,
        verifier_rows=tuple(name for name, p in policies if p.reads_verifier()),
    )
    if plot:
        try:
            from langchain_automix.plotting import plot_cost_quality

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
