"""``automix fit``: fit a meta-verifier on replay data and write a policy file."""

from __future__ import annotations

import argparse
import warnings
from typing import Any

from langchain_automix.calibration.replay import ReplayDataset, ReplayError
from langchain_automix.cli._common import (
    add_cost_options,
    add_objective_options,
    add_signal_options,
    fail,
    resolve_signal,
)
from langchain_automix.meta_verifiers.calibrated import Calibrated
from langchain_automix.meta_verifiers.registry import available_meta_verifiers, get_meta_verifier

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``fit`` sub-command."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "fit",
        help="fit a meta-verifier on replay data and save the policy",
        description="Fit a meta-verifier on a JSON Lines replay file and write a policy file.",
    )
    p.add_argument(
        "--method",
        default="pomdp",
        help=f"one of: {', '.join(available_meta_verifiers())} (default pomdp)",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--train", help="replay file (JSON Lines)")
    source.add_argument(
        "--from-traces",
        metavar="FILE",
        help="a trace log of served queries ('automix serve --log-traces'): the queries "
        "that reached the final tier, agreement-labelled, explored ones weighted by "
        "1/explore rate (serve with --explore to correct the selection bias)",
    )
    p.add_argument(
        "--policy",
        default=None,
        metavar="FILE",
        help="with --from-traces: the running policy, compared with the new one on the same rows",
    )
    p.add_argument(
        "--labels",
        choices=("gold", "agreement"),
        default=None,
        help="fit on these labels: gold, or agreement (each tier scored against the final "
        "tier's answer: no gold answers needed); default: the rows' own",
    )
    add_cost_options(p)
    add_objective_options(p)
    add_signal_options(p)
    p.add_argument("-o", "--output", required=True, help="policy file to write (JSON)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``automix fit``."""
    try:
        policy = get_meta_verifier(args.method)
    except KeyError as exc:
        return fail(str(exc.args[0]))
    if args.from_traces:
        try:
            train = _from_traces(args.from_traces)
        except (OSError, ValueError, ReplayError) as exc:
            return fail(f"--from-traces {args.from_traces}: {exc}")
    else:
        try:
            train = ReplayDataset.from_jsonl(args.train)
        except (OSError, ReplayError) as exc:
            return fail(f"cannot read --train: {exc}")
    if args.labels is not None:
        from langchain_automix.collection.labels import relabel

        try:
            train = relabel(train, args.labels)
        except (ValueError, ReplayError) as exc:
            return fail(f"--labels {args.labels}: {exc}")
    signal = resolve_signal(args.signal, train)
    if args.robust or signal != "verifier":
        if isinstance(policy, Calibrated):
            return fail("--method calibrated is what --signal/--robust build; name the policy")
        policy = Calibrated(
            policy, signal=signal, robust=args.robust, risk=args.risk, check=args.check
        )
    verify = None
    if args.verify_costs is not None:
        verify = args.verify_costs
    try:
        with warnings.catch_warnings():  # the fit's warnings are printed below, once
            warnings.simplefilter("ignore", UserWarning)
            policy.fit(
                train,
                costs=args.costs,
                verify_costs=verify,
                target_llm_share=args.target_llm_share,
                budget=args.budget,
                lam=args.lam,
            )
    except (ValueError, NotImplementedError) as exc:
        return fail(str(exc))
    try:
        path = policy.save(args.output)
    except OSError as exc:
        return fail(f"cannot write {args.output}: {exc}")
    print(f"fitted {policy.describe()} on {train.n_rows} rows -> {path}")
    if policy.provenance is not None:
        print("  " + policy.provenance.format().replace("  fit warning: ", "  WARNING: "))
    if isinstance(policy, Calibrated):
        _print_report(policy)
    if args.policy:
        return _compare_running(args, policy, train)
    return 0


def _from_traces(path: str) -> ReplayDataset:
    """The agreement-labelled, propensity-weighted rows of a trace log (and a report)."""
    from langchain_automix.observability.trace_log import read_traces, served_replay

    served = served_replay(read_traces(path, feedback=False))
    print(
        f"traces: {served.n_traces} served, {served.n_both} reached the final tier "
        f"({served.n_escalated} escalated by the policy, {served.n_explored} explored), "
        f"{served.n_accepted} kept by a cheaper tier, {served.n_dropped} unusable "
        f"(failed or skipped a tier)"
    )
    if served.n_explored:
        copies = ", ".join(f"rate {r}: x{w}" for r, w in sorted(served.weights.items()))
        print(f"  explored rows weighted by 1/rate ({copies}): {len(served.rows)} rows")
    elif served.n_accepted:
        print(
            "  WARNING: no explored query: these rows are only the queries the policy "
            "escalated, a biased sample (low confidences); serve with --explore 0.05 "
            "to observe the rest"
        )
    if not served.rows:
        raise ValueError("no served query reached the final tier: nothing to label")
    return ReplayDataset.from_records(served.rows, source=f"{path} trace")


def _compare_running(args: argparse.Namespace, new: Any, rows: ReplayDataset) -> int:
    """Running vs new policy on the same (agreement-labelled) rows."""
    from langchain_automix.evaluation import evaluate_policy
    from langchain_automix.meta_verifiers.base import MetaVerifier, PolicyError

    try:
        running = MetaVerifier.load(args.policy)
    except (OSError, PolicyError) as exc:
        return fail(f"cannot read --policy: {exc}")
    print(
        f"on these {rows.n_rows} rows ({rows.n_tiers} tiers, agreement labels; in-sample for "
        "the new policy, so its numbers flatter it: hold out traces to compare fairly):"
    )
    for label, policy in (("running", running), ("new", new)):
        try:
            r = evaluate_policy(policy, rows, costs=args.costs, verify_costs=args.verify_costs)
        except (ValueError, NotImplementedError) as exc:
            return fail(f"cannot evaluate the {label} policy on these rows: {exc}")
        dibc = "n/a" if r.delta_ibc is None else f"{r.delta_ibc:+.1f}"
        print(
            f"  {label:8s} {policy.describe()}: ΔIBC {dibc}%, cost {r.avg_cost:.2f}, "
            f"quality {r.avg_performance:.3f}, escalation {r.llm_call_share:.0%}"
        )
    return 0


def _print_report(policy: Calibrated) -> None:
    rep = policy.report
    if rep.get("combiner_weights"):
        weights = ", ".join(f"{k} {v:+.2f}" for k, v in rep["combiner_weights"].items())
        print(f"  combiner weights (standardised logits): {weights}")
    if "cv_score" in rep:
        what = "ΔIBC %" if rep.get("objective") == "max_delta_ibc" else "utility"
        print(
            f"  held-out {what} ({rep['cv_repeats']} x {rep['cv_folds']}-fold): "
            f"{rep['cv_score']:+.4g} ± {rep['cv_score_std']:.3g}; "
            f"always-{rep['best_fixed']}: {rep['best_fixed_score']:+.4g}"
        )
        share = ""
        if rep.get("cv_share") is not None:
            share = f"escalation share {rep['cv_share']:.0%} chosen; "
        if rep.get("check") == "agree":
            took = "taken" if rep["agree"] else "not taken: the held-out rule decides"
            print(
                f"  smoothed gain model: best share {float(rep['model_share']):.0%}, ΔIBC % "
                f"{rep['model_delta_ibc']:+.4g}, lower {rep['model_quantile']:.0%} posterior "
                f"bound of its gain {rep['model_margin_lower']:+.4g}; the same share held "
                f"out: {1 - rep['cv_confidence']:.0%} bound {rep['agree_cv_lower']:+.4g} "
                f"(tolerance {rep['agree_tolerance']:g}); {took}"
            )
        if rep.get("check") == "model":
            print(
                f"  {share}ΔIBC % under the smoothed gain model {rep['model_delta_ibc']:+.4g}; "
                f"lower {rep['model_quantile']:.0%} posterior bound of its gain over "
                f"always-{rep['best_fixed']}: {rep['model_margin_lower']:+.4g}"
            )
        else:
            print(
                f"  {share}{1 - rep['cv_confidence']:.0%} bootstrap bound of the held-out gain "
                f"over always-{rep['best_fixed']}: {rep['cv_margin_lower']:+.4g}"
            )
    if rep.get("cv_routes_because"):
        print(f"  routes: {rep['cv_routes_because']}")
    if policy.fallback is not None:
        print(f"  FALLBACK to always-{policy.fallback}: {rep['fallback_reason']}")
