"""``automix evaluate``: score a policy on test rows, or fit and compare every method."""

from __future__ import annotations

import argparse
import json
from typing import Any

from langchain_automix.cli._common import (
    add_cost_options,
    add_objective_options,
    add_signal_options,
    fail,
    resolve_signal,
)
from langchain_automix.evaluation import (
    DEFAULT_METHODS,
    Comparison,
    compare_methods,
    evaluate_policy,
    verifier_report,
)
from langchain_automix.meta_verifiers.base import MetaVerifier, PolicyError
from langchain_automix.meta_verifiers.registry import get_meta_verifier_class
from langchain_automix.metrics import CostSpec, baselines
from langchain_automix.replay import ReplayDataset, ReplayError

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``evaluate`` sub-command."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "evaluate",
        help="evaluate a policy, or fit and compare every method",
        description="With --policy: evaluate it on --test. Without: fit every method on "
        "--train and print a paper-style table (mean ± std over seeds).",
    )
    p.add_argument("--policy", help="policy file written by `automix fit`")
    p.add_argument("--train", help="replay file to fit on (without --policy)")
    p.add_argument("--test", help="replay file to evaluate on")
    add_cost_options(p)
    p.add_argument(
        "--methods",
        default=",".join(DEFAULT_METHODS),
        help="comma-separated methods to compare (default: all)",
    )
    p.add_argument("--seeds", type=int, default=10, help="number of seeds (default 10)")
    p.add_argument(
        "--train-size",
        type=int,
        default=None,
        help="training rows drawn per seed (default: all; down to 50)",
    )
    p.add_argument(
        "--test-fraction",
        type=float,
        default=0.5,
        help="share held out for testing when --test is not given (default 0.5)",
    )
    add_objective_options(p)
    add_signal_options(p)
    p.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        help="bootstrap resamples of the test rows for 95%% intervals (0: none; default 1000)",
    )
    p.add_argument(
        "--correct-at",
        type=float,
        default=0.5,
        help="score from which an answer counts as correct in the verifier-signal "
        "report (default 0.5)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--plot", help="write a PNG of the cost-quality plane here")
    p.set_defaults(func=run)


def _load(path: str, flag: str) -> ReplayDataset:
    try:
        return ReplayDataset.from_jsonl(path)
    except (OSError, ReplayError) as exc:
        raise _Fail(f"cannot read {flag}: {exc}") from None


class _Fail(Exception):
    pass


def run(args: argparse.Namespace) -> int:
    """Run ``automix evaluate``."""
    try:
        return _run(args)
    except _Fail as exc:
        return fail(str(exc))


def _run(args: argparse.Namespace) -> int:
    if not 0.0 < args.correct_at <= 1.0:
        raise _Fail(f"--correct-at must be in (0, 1], got {args.correct_at}")
    if args.bootstrap < 0:
        raise _Fail(f"--bootstrap must be >= 0, got {args.bootstrap}")
    if args.policy:
        if not args.test:
            raise _Fail("--policy needs --test (the rows to evaluate on)")
        try:
            policy = MetaVerifier.load(args.policy)
        except (OSError, PolicyError) as exc:
            raise _Fail(f"cannot read --policy: {exc}") from None
        test = _load(args.test, "--test")
        try:
            result = evaluate_policy(
                policy,
                test,
                costs=args.costs,
                verify_costs=args.verify_costs,
                bootstrap=args.bootstrap,
            )
            spec = CostSpec.make(args.costs, args.verify_costs, n_tiers=test.n_tiers)
        except (ValueError, NotImplementedError, RuntimeError) as exc:
            raise _Fail(str(exc)) from None
        comp = Comparison({result.name: [result]}, baselines(test.scores, spec), 0, test.n_rows)
        measured = test
    else:
        if not args.train:
            raise _Fail("give --policy (and --test), or --train to fit and compare every method")
        if args.seeds < 1:
            raise _Fail(f"--seeds must be >= 1, got {args.seeds}")
        if args.train_size is not None and args.train_size < 2:
            raise _Fail(f"--train-size must be >= 2, got {args.train_size}")
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        for m in methods:
            try:
                get_meta_verifier_class(m)
            except KeyError as exc:
                raise _Fail(str(exc.args[0])) from None
        train = _load(args.train, "--train")
        test_opt = _load(args.test, "--test") if args.test else None
        try:
            comp = compare_methods(
                train,
                test_opt,
                methods=methods,
                costs=args.costs,
                verify_costs=args.verify_costs,
                seeds=range(args.seeds),
                train_size=args.train_size,
                test_fraction=args.test_fraction,
                target_llm_share=args.target_llm_share,
                budget=args.budget,
                lam=args.lam,
                signal=resolve_signal(args.signal, train),
                robust=args.robust,
                bootstrap=args.bootstrap,
            )
        except (ValueError, NotImplementedError) as exc:
            raise _Fail(str(exc)) from None
        measured = test_opt or train
    signal = verifier_report(measured, correct_at=args.correct_at)
    if args.json:
        out = comp.to_json_dict()
        out["verifier"] = [r.to_json_dict() for r in signal]
        print(json.dumps(out, indent=2, allow_nan=False))
    else:
        print(comp.format_table())
        for report in signal:
            print()
            print(report.format())
    if args.plot:
        from langchain_automix.plotting import plot_cost_quality

        try:
            plot_cost_quality(comp.results, comp.baselines, args.plot)
        except ImportError as exc:
            raise _Fail(str(exc)) from None
    return 0
