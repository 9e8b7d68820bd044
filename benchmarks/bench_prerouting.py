"""Routing before the small call: can a question-only signal pre-route to the large model?

Issue #27, item 3. Pre-routers (RouteLLM and the like) decide from the question alone.
Here a question-only prediction of "the small answer will be correct" (known before any
model call) feeds the *start* decision: a query predicted below a threshold τ starts at
the large tier (no small call, no verification), the others go through the default
policy (``Calibrated(POMDP())``). Measured on every shipped real replay:

1. **Question-only signals**, each row's prediction from a fit that did not see it
   (10-fold cross-fitting over all rows): ``knn`` (E5 question embeddings; the
   similarity-weighted mean correctness of the ``k`` nearest training questions, ``k``
   chosen by leave-one-out on the training rows only), ``features`` (ridge logistic
   regression on question length, first word, dataset, context length; all known before
   the call) and ``knn+features`` (the same regression with the kNN prediction as one more
   feature, leave-one-out on the training rows). Reported: AUROC for "small answer
   correct" (tier-0 score >= 0.5, as ``verifier_report``) with a 95% bootstrap interval,
   beside the verifier's and the best free answer signal's (in-sample choice of the
   best, for reference only), and the AUROC for "the large answer scores higher".
2. **The pre-router**: 10 half/half splits (``ReplayDataset.split(n - n // 2, seed=s)``).
   On the train half the default policy is fitted; τ is chosen on the train half only,
   by 5-fold cross-validation (policy and predictor refitted per fold, every training row
   routed by fits that did not see it): for each candidate pre-routed share, the gain in
   ΔIBC of the combined routing over the policy alone is bootstrapped over the rows, the
   share with the best lower 5% bound is kept, and τ = "never pre-route" unless that
   bound is above 0 (as ``Calibrated`` falls back). Test ΔIBC, cost and quality are
   computed per query with the policy's charged costs (``policy.charged(CostSpec)``, as
   ``evaluate_policy``; a pre-routed query pays the large tier only).

The three-tier replay is read as SmolLM2 (tier 0) -> the final tier
(``select_tiers([0, 2])``), costs 1/50 like the others. Latency comes from the rows'
recorded ``latency_s`` / ``verify_latency_s``: skipped small call + verification per
pre-routed query (median), and the net change per test query (what the policy's path
would have taken minus the large call). Where the fitted policy falls back to
always-escalate every query already starts at the large tier, so pre-routing is a no-op
and its inner cross-validation is skipped (counted as "no-op" in the table).

About 3-6 minutes on 2 cores (the first run also embeds the questions, about 15 ms each,
cached in ``benchmarks/.cache``). A rerun overwrites ``results/bench_prerouting.txt``,
whose closing interpretation paragraph was written by hand after the run.

Usage:
    python benchmarks/bench_prerouting.py [--splits 10] [--inner-folds 5] [--out PREFIX]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from _results import write_results
from _retrieval import embed_cached

from langchain_automix.calibration.metrics import CostSpec, auroc, delta_ibc, query_costs
from langchain_automix.calibration.replay import ReplayDataset, load_replay
from langchain_automix.evaluation import evaluate_policy, paired_interval
from langchain_automix.meta_verifiers import POMDP, Calibrated
from langchain_automix.signals import FREE_SIGNALS

DATA = Path(__file__).resolve().parents[1] / "langchain_automix" / "data"
REPLAYS = {
    "mix 305 (SQuAD 2.0 + BoolQ)": "replay_local_qwen.jsonl",
    "squad1.1 400": "replay_local_qwen_squad11.jsonl",
    "three tiers 305, SmolLM2 -> final": "replay_local_three.jsonl",
    "mix 305, shared-layout verifier": "replay_local_qwen_shared.jsonl",
    "squad1.1 400, shared-layout verifier": "replay_local_qwen_squad11_shared.jsonl",
    "squad1.1 400, completion-mode verifier": "replay_local_qwen_squad11_completion.jsonl",
}
COSTS = (1.0, 50.0)
CORRECT_AT = 0.5
KS = (5, 10, 15, 20, 25, 40, 60)
"""Candidate ``k`` of the kNN signal (chosen by leave-one-out on the training rows)."""
SHARES = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)
"""Candidate pre-routed shares (τ = that quantile of the held-out predictions)."""
L2 = 1.0
DRAWS = 1000
CONFIDENCE = 0.95
SIGNALS = ("knn", "features", "knn+features")
WH = ("what", "which", "who", "whom", "whose", "when", "where", "why", "how")
AUX = ("is", "are", "was", "were", "do", "does", "did", "can", "could", "has", "have",
       "had", "will", "would", "should", "may", "might", "must", "shall")  # fmt: skip


# ---------------------------------------------------------------------------- data
@dataclass
class Replay:
    """One replay as a two-tier cascade, with what is known before any model call.

    Attributes:
        name: Label of the replay in the tables.
        data: The two-tier rows (small, large).
        questions: Question text per row.
        contexts: Context text per row.
        datasets: Source dataset per row (``""`` when absent).
        lat_small: Small answer's recorded seconds per row.
        ver_small: Small answer's verification seconds per row.
        lat_large: Large answer's recorded seconds per row.
        emb: Unit-norm E5 query vectors of the questions, ``(n, 384)``.
    """

    name: str
    data: ReplayDataset
    questions: list[str]
    contexts: list[str]
    datasets: list[str]
    lat_small: np.ndarray
    ver_small: np.ndarray
    lat_large: np.ndarray
    emb: np.ndarray = field(repr=False)

    @property
    def correct(self) -> np.ndarray:
        """Whether the small answer counts as correct (score >= 0.5)."""
        return np.asarray(self.data.scores[:, 0] >= CORRECT_AT)


def load(name: str, file: str) -> Replay:
    """Load a shipped replay as small -> large, with its raw fields and question vectors.

    Args:
        name: Label of the replay.
        file: File name in ``langchain_automix/data``.

    Returns:
        The replay (tier 0 and the final tier).
    """
    path = DATA / file
    data = load_replay(path)
    raw = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    assert [r["id"] for r in raw] == data.ids.tolist()
    if data.n_tiers > 2:
        data = data.select_tiers([0, data.n_tiers - 1])
    questions = [str(r["question"]) for r in raw]
    emb = embed_cached(questions, role="query").astype(float)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)

    def tier_field(tier: int, key: str) -> np.ndarray:
        return np.array([float(r["tiers"][tier].get(key) or 0.0) for r in raw])

    return Replay(
        name=name,
        data=data,
        questions=questions,
        contexts=[str(r.get("context") or "") for r in raw],
        datasets=[str(r.get("dataset") or "") for r in raw],
        lat_small=tier_field(0, "latency_s"),
        ver_small=tier_field(0, "verify_latency_s"),
        lat_large=tier_field(-1, "latency_s"),
        emb=emb,
    )


# ---------------------------------------------------------------------- predictors
def first_word_kind(question: str) -> str:
    """The question's kind from its first word: a wh-word, a yes/no auxiliary, or other.

    Args:
        question: The question text.

    Returns:
        ``how_many`` (how many/much), the wh-word, ``yes_no``, ``wh_inside`` (a wh-word
        later on, e.g. "In what year ..."), or ``other``.
    """
    words = re.findall(r"[a-z']+", question.lower())
    if not words:
        return "other"
    if words[0] == "how" and len(words) > 1 and words[1] in ("many", "much"):
        return "how_many"
    if words[0] in WH:
        return "who" if words[0] in ("whom", "whose") else words[0]
    if words[0] in AUX:
        return "yes_no"
    return "wh_inside" if any(w in WH for w in words[1:]) else "other"


def features(rp: Replay) -> tuple[np.ndarray, list[str]]:
    """Cheap question-only features of every row (unstandardised) and their names.

    Args:
        rp: The replay.

    Returns:
        ``(n, f)`` matrix: log question words, log context words, one-hot first-word
        kind (seen at least 3 times), one-hot dataset (when there are several).
    """
    qlen = np.log1p([len(q.split()) for q in rp.questions])
    clen = np.log1p([len(c.split()) for c in rp.contexts])
    cols, names = [qlen, clen], ["log_question_words", "log_context_words"]
    kinds = [first_word_kind(q) for q in rp.questions]
    for kind in sorted(set(kinds)):
        if kinds.count(kind) >= 3:
            cols.append(np.array([k == kind for k in kinds], float))
            names.append(f"first={kind}")
    sets = sorted(set(rp.datasets))
    for ds in sets[1:] if len(sets) > 1 else []:
        cols.append(np.array([d == ds for d in rp.datasets], float))
        names.append(f"dataset={ds}")
    return np.column_stack(cols), names


def logreg_fit(x: np.ndarray, y: np.ndarray, l2: float = L2) -> tuple[np.ndarray, ...]:
    """Ridge logistic regression by Newton steps (the intercept is not penalised).

    Args:
        x: ``(n, f)`` features (standardised here with the training mean and sd).
        y: ``(n,)`` 0/1 labels.
        l2: Ridge penalty on the standardised weights.

    Returns:
        ``(mean, sd, weights)``, weights with the intercept first.
    """
    mu, sd = x.mean(axis=0), x.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    z = np.column_stack([np.ones(len(x)), (x - mu) / sd])
    w = np.zeros(z.shape[1])
    pen = np.full(z.shape[1], l2)
    pen[0] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-z @ w))
        grad = z.T @ (p - y) + pen * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(pen) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return mu, sd, w


def logreg_predict(model: tuple[np.ndarray, ...], x: np.ndarray) -> np.ndarray:
    """P(y = 1) of a :func:`logreg_fit` model on rows ``x``."""
    mu, sd, w = model
    z = np.column_stack([np.ones(len(x)), (x - mu) / sd])
    return np.asarray(1.0 / (1.0 + np.exp(-z @ w)))


def knn_predict(sim: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Similarity-weighted mean label of the ``k`` most similar training rows.

    Args:
        sim: ``(m, n_train)`` cosine similarities (a row's own entry set to -inf to leave
            it out).
        y: ``(n_train,)`` 0/1 labels of the training rows.
        k: Number of neighbours.

    Returns:
        ``(m,)`` predictions in ``[0, 1]``.
    """
    k = min(k, sim.shape[1] - 1)
    nn = np.argpartition(-sim, k, axis=1)[:, :k]
    s = np.take_along_axis(sim, nn, axis=1)
    w = np.clip(s, 1e-6, None)
    return np.asarray((w * y[nn]).sum(axis=1) / w.sum(axis=1))


def knn_loo(emb: np.ndarray, y: np.ndarray) -> tuple[int, np.ndarray]:
    """``k`` chosen by leave-one-out Brier score on these rows, and their LOO predictions.

    Args:
        emb: ``(n, d)`` unit-norm vectors of the training rows.
        y: ``(n,)`` 0/1 labels.

    Returns:
        The chosen ``k`` and each row's prediction from the others at that ``k``.
    """
    sim = emb @ emb.T
    np.fill_diagonal(sim, -np.inf)
    best: tuple[float, int, np.ndarray] | None = None
    for k in KS:
        pred = knn_predict(sim, y, k)
        brier = float(np.mean((pred - y) ** 2))
        if best is None or brier < best[0]:
            best = (brier, k, pred)
    assert best is not None
    return best[1], best[2]


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 0.02, 0.98)
    return np.asarray(np.log(q / (1 - q)))


def fit_predict(
    kind: str, rp: Replay, x: np.ndarray, train: np.ndarray, test: np.ndarray
) -> tuple[np.ndarray, dict[str, Any]]:
    """Predict P(small answer correct) of rows ``test`` from a fit on rows ``train`` only.

    Args:
        kind: ``knn``, ``features`` or ``knn+features``.
        rp: The replay (labels and question vectors).
        x: Feature matrix of every row (:func:`features`).
        train: Indices of the fitting rows.
        test: Indices of the rows to predict.

    Returns:
        Predictions for ``test`` and what the fit chose (``k``).
    """
    y = rp.correct.astype(float)
    if kind == "features":
        return logreg_predict(logreg_fit(x[train], y[train]), x[test]), {}
    k, loo = knn_loo(rp.emb[train], y[train])
    knn = knn_predict(rp.emb[test] @ rp.emb[train].T, y[train], k)
    if kind == "knn":
        return knn, {"k": k}
    xs_train = np.column_stack([x[train], _logit(loo)])
    xs_test = np.column_stack([x[test], _logit(knn)])
    return logreg_predict(logreg_fit(xs_train, y[train]), xs_test), {"k": k}


def cross_fit(
    kind: str, rp: Replay, x: np.ndarray, rows: np.ndarray, folds: int, seed: int
) -> np.ndarray:
    """Out-of-fold predictions for ``rows``: each from a fit on the other folds only."""
    out = np.empty(rows.size)
    perm = np.random.default_rng(seed).permutation(rows.size)
    for f in range(folds):
        held = np.sort(perm[f::folds])
        fit = np.setdiff1d(np.arange(rows.size), held)
        out[held] = fit_predict(kind, rp, x, rows[fit], rows[held])[0]
    return out


# ------------------------------------------------------------------------- AUROC
def auroc_ci(values: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """AUROC of ``values`` for ``labels`` with a 95% percentile bootstrap interval."""
    have = np.isfinite(values)
    v, y = values[have], labels[have]
    rng = np.random.default_rng(seed)
    draws = [auroc(v[i], y[i]) for i in rng.integers(0, v.size, size=(DRAWS, v.size))]
    arr = np.array([d for d in draws if d is not None], float)
    lo, hi = np.percentile(arr, [2.5, 97.5])
    return {"auroc": auroc(v, y), "ci": [float(lo), float(hi)], "n_rows": int(v.size)}


def signal_aurocs(rp: Replay, x: np.ndarray) -> list[dict[str, Any]]:
    """AUROC of each question-only signal (10-fold cross-fitted), the verifier and the
    best free answer signal, for "small answer correct" and for "large scores higher".
    """
    rows = np.arange(rp.data.n_rows)
    helps = rp.data.scores[:, -1] > rp.data.scores[:, 0]
    out: list[dict[str, Any]] = []
    for kind in SIGNALS:
        pred = cross_fit(kind, rp, x, rows, 10, seed=0)
        out.append({"signal": kind, "known": "question only", **auroc_ci(pred, rp.correct),
                    "auroc_large_higher": auroc(-pred, helps)})  # fmt: skip
    ver = rp.data.confidences[:, 0]
    out.append({"signal": "verifier", "known": "after small call + verification",
                **auroc_ci(ver, rp.correct), "auroc_large_higher": auroc(-ver, helps)})  # fmt: skip
    free = [
        (name, auroc(v[np.isfinite(v)], rp.correct[np.isfinite(v)]) or 0.5)
        for name in rp.data.signal_names
        if name in FREE_SIGNALS
        for v in [rp.data.signal(name)[:, 0]]
    ]
    if free:
        name = max(free, key=lambda t: t[1])[0]
        v = rp.data.signal(name)[:, 0]
        out.append({"signal": name, "known": "after small call (free)",
                    **auroc_ci(v, rp.correct), "auroc_large_higher": auroc(-v, helps)})  # fmt: skip
    return out


# -------------------------------------------------------------------- pre-routing
@dataclass
class PerRow:
    """Per-query outcome of the base policy on some rows.

    Attributes:
        cost: Cost charged per row (the policy's charged costs).
        perf: Score of the answer kept per row.
        latency: Recorded seconds of the path taken per row.
        final: Tier each row stopped at.
    """

    cost: np.ndarray
    perf: np.ndarray
    latency: np.ndarray
    final: np.ndarray


def fit_base(train: ReplayDataset) -> Calibrated:
    """The default policy, ``Calibrated(POMDP())``, fitted with costs 1/50."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Calibrated(POMDP()).fit(train, costs=COSTS)


def route_base(policy: Calibrated, rp: Replay, rows: np.ndarray) -> PerRow:
    """Cost, score and latency per row of ``policy`` on ``rows``, charged as
    ``evaluate_policy`` charges it (no verification cost when the policy reads none).
    """
    data = rp.data.subset(rows)
    spec = policy.charged(CostSpec.make(COSTS, None, n_tiers=data.n_tiers))
    routing = policy.route_paths(data)
    final, visited = routing.final, routing.visited
    reads = spec.verify_costs[0] > 0
    small_s = rp.lat_small[rows] + (rp.ver_small[rows] if reads else 0.0)
    return PerRow(
        cost=query_costs(final, spec, visited),
        perf=data.scores[np.arange(rows.size), final],
        latency=visited[:, 0] * small_s + visited[:, -1] * rp.lat_large[rows],
        final=final,
    )


def combined(base: PerRow, rp: Replay, rows: np.ndarray, pre: np.ndarray) -> PerRow:
    """The base routing with the rows in mask ``pre`` sent straight to the large tier."""
    return PerRow(
        cost=np.where(pre, COSTS[-1], base.cost),
        perf=np.where(pre, rp.data.scores[rows, -1], base.perf),
        latency=np.where(pre, rp.lat_large[rows], base.latency),
        final=np.where(pre, rp.data.n_tiers - 1, base.final),
    )


def dibc(cost: np.ndarray, perf: np.ndarray, small: np.ndarray, large: np.ndarray) -> Any:
    """ΔIBC (percent) of per-row costs/scores against the rows' own baselines.

    Works over leading axes (bootstrap draws): the last axis is the rows.
    """
    return delta_ibc(
        cost.mean(axis=-1),
        perf.mean(axis=-1),
        small=(COSTS[0], small.mean(axis=-1)),
        large=(COSTS[-1], large.mean(axis=-1)),
    )


def choose_tau(
    rp: Replay, base: PerRow, rows: np.ndarray, pred: np.ndarray, seed: int
) -> dict[str, Any]:
    """τ from held-out routings of the training rows: the candidate share with the best
    lower bootstrap bound of the ΔIBC gain, or "never" unless that bound is above 0.

    Args:
        rp: The replay.
        base: The base policy's held-out routing of ``rows``.
        rows: The training rows.
        pred: Held-out question-only predictions of ``rows``.
        seed: Seed of the bootstrap.

    Returns:
        ``tau`` (None: never pre-route), the chosen ``share``, its ``cv_lower`` bound and
        mean ``cv_gain``.
    """
    s = rp.data.scores[rows]
    boot = np.random.default_rng(seed).integers(0, rows.size, size=(DRAWS, rows.size))
    small, large = s[:, 0][boot], s[:, -1][boot]
    base_d = dibc(base.cost[boot], base.perf[boot], small, large)
    best: dict[str, Any] = {"tau": None, "share": None, "cv_lower": -math.inf, "cv_gain": None}
    for share in SHARES:
        tau = float(np.quantile(pred, share))
        alt = combined(base, rp, rows, pred < tau)
        gain = dibc(alt.cost[boot], alt.perf[boot], small, large) - base_d
        gain = gain[np.isfinite(gain)]
        lower = float(np.quantile(gain, 1.0 - CONFIDENCE)) if gain.size else -math.inf
        if lower > best["cv_lower"]:
            best = {"tau": tau, "share": share, "cv_lower": lower, "cv_gain": float(gain.mean())}
    if not best["cv_lower"] > 0.0:
        best["tau"] = None
    return best


def run_split(rp: Replay, x: np.ndarray, seed: int, inner_folds: int) -> list[dict[str, Any]]:
    """One half/half split: base policy and each pre-routed variant on the test half.

    Args:
        rp: The replay.
        x: Feature matrix of every row.
        seed: Seed of the split (``ReplayDataset.split``) and of the inner folds.
        inner_folds: Folds of the inner cross-validation that chooses τ.

    Returns:
        One record per question-only signal.
    """
    n = rp.data.n_rows
    k = n - n // 2
    perm = np.random.default_rng(seed).permutation(n)
    train, test = np.sort(perm[:k]), np.sort(perm[k:])
    tr_data, te_data = rp.data.split(k, seed=seed)
    assert (tr_data.ids == rp.data.ids[train]).all() and (te_data.ids == rp.data.ids[test]).all()
    policy = fit_base(tr_data)
    base = route_base(policy, rp, test)
    s_test = rp.data.scores[test]
    base_d = float(dibc(base.cost, base.perf, s_test[:, 0], s_test[:, -1]))
    check = evaluate_policy(policy, te_data, costs=COSTS)
    assert (
        abs((check.delta_ibc or 0.0) - base_d) < 1e-9
        and abs(check.avg_cost - base.cost.mean()) < 1e-9
    )
    # A base that falls back to always-escalate already starts every query at the large
    # tier: pre-routing changes nothing, so its inner cross-validation is skipped.
    noop = policy.fallback == "escalate"
    # held-out base routing of every training row (policy refitted per inner fold)
    inner = np.random.default_rng(1000 + seed).permutation(k)
    held = PerRow(np.empty(k), np.empty(k), np.empty(k), np.empty(k, np.intp))
    fold_of = np.empty(k, np.intp)
    for f in range(0 if noop else inner_folds):
        out = np.sort(inner[f::inner_folds])
        fold_of[out] = f
        part = fit_base(rp.data.subset(train[np.setdiff1d(np.arange(k), out)]))
        r = route_base(part, rp, train[out])
        for attr in ("cost", "perf", "latency", "final"):
            getattr(held, attr)[out] = getattr(r, attr)
    records = []
    for kind in SIGNALS:
        choice: dict[str, Any] = {"tau": None, "share": None, "cv_lower": None, "cv_gain": None}
        if not noop:
            pred_tr = np.empty(k)
            for f in range(inner_folds):
                out = np.flatnonzero(fold_of == f)
                fit_rows = train[fold_of != f]
                pred_tr[out] = fit_predict(kind, rp, x, fit_rows, train[out])[0]
            choice = choose_tau(rp, held, train, pred_tr, seed)
        pred_te, info = fit_predict(kind, rp, x, train, test)
        pre = pred_te < choice["tau"] if choice["tau"] is not None else np.zeros(test.size, bool)
        alt = combined(base, rp, test, pre)
        pre_d = float(dibc(alt.cost, alt.perf, s_test[:, 0], s_test[:, -1]))
        skipped = (rp.lat_small + rp.ver_small)[test][pre]
        records.append({
            "replay": rp.name, "split": seed, "signal": kind, "n_train": int(k),
            "n_test": int(test.size), "base_policy": policy.describe(),
            "base_fallback": policy.fallback, "base_delta_ibc": base_d,
            "base_cost": float(base.cost.mean()), "base_quality": float(base.perf.mean()),
            "base_latency_s": float(base.latency.mean()),
            "pre_delta_ibc": pre_d, "pre_cost": float(alt.cost.mean()),
            "pre_quality": float(alt.perf.mean()), "pre_latency_s": float(alt.latency.mean()),
            "diff_delta_ibc": pre_d - base_d, "never": choice["tau"] is None, "noop": noop,
            "tau": choice["tau"], "cv_share": choice["share"], "cv_lower": choice["cv_lower"],
            "cv_gain": choice["cv_gain"], "pre_share": float(pre.mean()),
            "pre_n": int(pre.sum()), "skipped_small_verify_s": skipped.tolist(),
            "base_final_large_on_pre": int((base.final[pre] == rp.data.n_tiers - 1).sum()),
            "test_auroc": auroc(pred_te, rp.correct[test]), **info,
        })  # fmt: skip
    return records


# ----------------------------------------------------------------------- report
def ci(v: np.ndarray, digits: int = 1) -> str:
    """``mean ± sd [95% bootstrap interval of the mean over splits]`` (fixed seed)."""
    lo, hi = paired_interval(v, 2000, np.random.default_rng(0))
    return (
        f"{v.mean():+.{digits}f} ± {v.std(ddof=1):.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"
    )


def fmt(v: float | None) -> str:
    """A signed number with two decimals, ``-`` for None."""
    return "-" if v is None else f"{v:+.2f}"


def summarise(recs: Sequence[dict[str, Any]]) -> list[str]:
    """Table rows (markdown) of one replay's splits, one per signal."""
    rows = []
    for kind in SIGNALS:
        r = [x for x in recs if x["signal"] == kind]

        def get(key: str, r: list[dict[str, Any]] = r) -> np.ndarray:
            return np.array([x[key] for x in r], float)

        skipped = [s for x in r for s in x["skipped_small_verify_s"]]
        med = f"{np.median(skipped):.1f}" if skipped else "-"
        saved = get("base_latency_s") - get("pre_latency_s")
        n_pre = get("pre_n").sum()
        per_pre = f"{(saved * get('n_test')).sum() / n_pre:+.1f}" if n_pre else "-"
        anyway = f"{get('base_final_large_on_pre').sum() / n_pre:.0%}" if n_pre else "-"
        never = f"{sum(x['never'] for x in r)}/{len(r)}"
        noop = sum(x["noop"] for x in r)
        never += f" ({noop} no-op)" if noop else ""
        rows.append(
            f"| {r[0]['replay']} | {kind} | {ci(get('base_delta_ibc'))} "
            f"| {ci(get('pre_delta_ibc'))} | {ci(get('diff_delta_ibc'))} "
            f"| {get('pre_share').mean():.1%} | {anyway} | {never} "
            f"| {get('base_cost').mean():.1f} / {get('pre_cost').mean():.1f} "
            f"| {get('base_quality').mean():.3f} / {get('pre_quality').mean():.3f} "
            f"| {med} | {per_pre} | {saved.mean():+.2f} |"
        )
    return rows


def main() -> None:
    """Run both measurements on every shipped real replay and write the results."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--splits", type=int, default=10)
    p.add_argument("--inner-folds", type=int, default=5)
    p.add_argument("--out", default="benchmarks/results/bench_prerouting")
    args = p.parse_args()
    t0 = time.time()
    records: list[dict[str, Any]] = []
    lines = [f"# bench_prerouting: --splits {args.splits} --inner-folds {args.inner_folds}", ""]
    auroc_rows = [
        "| replay | signal | known | AUROC small correct [95% CI] | AUROC large scores higher |",
        "|---|---|---|---|---|",
    ]
    table = [
        "| replay | pre-router signal | base ΔIBC | pre-routed ΔIBC | pre - base | "
        "pre-routed share | of which the base escalated anyway | splits 'never' "
        "| cost base / pre | quality base / pre | "
        "skipped small+verify s per pre-routed query (median) | net s saved per pre-routed "
        "query | net s saved per test query |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, file in REPLAYS.items():
        rp = load(name, file)
        x, names = features(rp)
        lines.append(f"## {name}: {rp.data.n_rows} rows, models {list(rp.data.models)}, "
                     f"small correct {rp.correct.mean():.1%}; features {names}")  # fmt: skip
        for a in signal_aurocs(rp, x):
            records.append({"replay": name, "kind": "auroc", **a})
            lo, hi = a["ci"]
            helps = a["auroc_large_higher"]
            auroc_rows.append(f"| {name} | {a['signal']} | {a['known']} | {a['auroc']:.3f} "
                              f"[{lo:.3f}, {hi:.3f}] | {helps:.3f} |")  # fmt: skip
            lines.append(f"  AUROC {a['signal']:18s} {a['auroc']:.3f} [{lo:.3f}, {hi:.3f}]")
        recs: list[dict[str, Any]] = []
        for seed in range(args.splits):
            split_recs = run_split(rp, x, seed, args.inner_folds)
            recs += split_recs
            for r in split_recs:
                lines.append(f"  split {seed} {r['signal']:13s} base {r['base_delta_ibc']:+7.1f} "
                             f"({r['base_policy']}) pre {r['pre_delta_ibc']:+7.1f} "
                             f"share {r['pre_share']:.1%} cv-share {r['cv_share']} "
                             f"cv-lower {fmt(r['cv_lower'])} k {r.get('k', '-')}")  # fmt: skip
            print(f"{name} split {seed} done ({time.time() - t0:.0f} s)", flush=True)
        records += [{"kind": "split", **r} for r in recs]
        table += summarise(recs)
        lines.append("")
    lines += [
        "## question-only signals (out-of-fold over all rows, 10 folds) vs answer signals",
        *auroc_rows,
        "",
        "## pre-routing (test halves; ΔIBC % mean ± sd [95% bootstrap interval of the mean "
        f"over {args.splits} splits]; costs 1/50)",
        *table,
        "",
        "splits 'never': splits whose τ was 'never pre-route' (no-op: the base policy fell back "
        "to always-escalate, so every query already starts at the large tier). Latency: "
        "recorded seconds of the rows; net = the base policy's path minus the large call.",
        "",
        f"({time.time() - t0:.0f} s)",
    ]
    text = "\n".join(lines)
    write_results(args.out, text, records)


if __name__ == "__main__":
    main()
