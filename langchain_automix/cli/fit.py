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
    p.add_argument("--train", required=True, help="replay file (JSON Lines)")
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
    try:
        train = ReplayDataset.from_jsonl(args.train)
    except (OSError, ReplayError) as exc:
        return fail(f"cannot read --train: {exc}")
    signal = resolve_signal(args.signal, train)
    if args.robust or signal != "verifier":
        if isinstance(policy, Calibrated):
            return fail("--method calibrated is what --signal/--robust build; name the policy")
        policy = Calibrated(policy, signal=signal, robust=args.robust, risk=args.risk)
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
        print(
            f"  {share}{1 - rep['cv_confidence']:.0%} bootstrap bound of the held-out gain over "
            f"always-{rep['best_fixed']}: {rep['cv_margin_lower']:+.4g}"
        )
    if rep.get("cv_routes_because"):
        print(f"  routes: {rep['cv_routes_because']}")
    if policy.fallback is not None:
        print(f"  FALLBACK to always-{policy.fallback}: {rep['fallback_reason']}")
