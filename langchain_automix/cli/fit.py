"""``automix fit``: fit a meta-verifier on replay data and write a policy file."""

from __future__ import annotations

import argparse
from typing import Any

from langchain_automix.cli._common import add_cost_options, add_objective_options, fail
from langchain_automix.meta_verifiers.registry import available_meta_verifiers, get_meta_verifier
from langchain_automix.replay import ReplayDataset, ReplayError

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
    verify = None
    if args.verify_costs is not None:
        verify = args.verify_costs
    try:
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
    return 0
