"""``automix evaluate``: score a policy on test rows, or fit and compare every method."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from langchain_automix.calibration.metrics import CostSpec, baselines
from langchain_automix.calibration.replay import ReplayDataset, ReplayError
from langchain_automix.cli._common import (
    add_cost_options,
    add_objective_options,
    add_signal_options,
    fail,
    float_in,
    int_at_least,
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
from langchain_automix.meta_verifiers.provenance import replay_k
from langchain_automix.meta_verifiers.registry import get_meta_verifier_class

__all__ = ["MIN_TEST_ROWS", "register", "run"]

MIN_TEST_ROWS = 50
"""Fewer test rows than this and ``automix evaluate`` warns that its numbers mean little.

One row moves the average quality by ``1/n``: at ``n = 50`` by 2 points, which is
already the size of the differences between methods, and the bootstrap interval of
ΔIBC over 50 rows spans tens of points (docs/meta-verifiers.md)."""


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
    p.add_argument(
        "--train-labels",
        choices=("gold", "agreement"),
        default=None,
        help="fit on these labels: gold (scores against gold answers) or agreement (each "
        "tier against the final tier's answer); default: the rows' own",
    )
    p.add_argument(
        "--test-labels",
        choices=("gold", "agreement"),
        default=None,
        help="evaluate on these labels (default: the rows' own); e.g. --train-labels "
        "agreement --test-labels gold: what fitting without gold answers costs",
    )
    p.add_argument(
        "--served",
        metavar="FILE",
        help="a trace log written by 'automix serve --log-traces': summarise what was "
        "served (escalations, cost, feedback) and, with --policy, re-make every served "
        "decision with it",
    )
    add_cost_options(p)
    p.add_argument(
        "--methods",
        default=None,
        help="comma-separated methods to compare (default: "
        + ",".join(DEFAULT_METHODS)
        + ", and chained with three or more tiers)",
    )
    p.add_argument("--seeds", type=int_at_least(1), default=10, help="number of seeds (default 10)")
    p.add_argument(
        "--train-size",
        type=int_at_least(2),
        default=None,
        help="training rows drawn per seed (default: all; down to 50)",
    )
    p.add_argument(
        "--test-fraction",
        type=float_in(0, 1, low_open=True, high_open=True),
        default=0.5,
        help="share held out for testing when --test is not given (default 0.5)",
    )
    add_objective_options(p)
    add_signal_options(p)
    p.add_argument(
        "--bootstrap",
        type=int_at_least(0),
        default=1000,
        help="bootstrap resamples of the test rows for 95%% intervals (0: none; default 1000)",
    )
    p.add_argument(
        "--correct-at",
        type=float_in(0, 1, low_open=True),
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


def _warn(message: str) -> None:
    print(f"automix: warning: {message}", file=sys.stderr)


def _provenance_lines(policy: MetaVerifier, test: ReplayDataset, spec: CostSpec) -> list[str]:
    """What the policy was fitted for, and how the test rows and costs differ from it."""
    prov = policy.provenance
    head = f"policy {policy.describe()}"
    if prov is None:
        return [f"{head}: no provenance recorded (fitted by hand or by an older version)"]
    lines = [head, *("  " + line for line in prov.format().splitlines())]
    reads = policy.reads_verifier()
    for diff in prov.mismatches(
        models=test.models or None,
        costs=spec.unit_costs,
        verify_costs=spec.verify_costs if reads else None,
        k=replay_k(test) if reads else None,
    ):
        lines.append(f"  differs here: {diff}")
    if prov.data_sha256 and prov.data_sha256 == test.fingerprint():
        lines.append("  the test rows are the policy's training rows: in-sample numbers")
    return lines


def _labels_view(kind: str | None, flag: str) -> Any:
    """The rows relabelled as ``kind`` (None: as they are); errors name ``flag``."""
    if kind is None:
        return None
    from langchain_automix.collection.labels import relabel

    def view(data: ReplayDataset) -> ReplayDataset:
        try:
            return relabel(data, kind)
        except (ValueError, ReplayError) as exc:
            raise _Fail(f"{flag} {kind}: {exc}") from None

    return view


def _run_served(args: argparse.Namespace) -> int:
    from langchain_automix.observability.trace_log import read_traces, redecide

    try:
        rows = read_traces(args.served)
    except (OSError, ValueError) as exc:
        raise _Fail(f"cannot read --served: {exc}") from None
    traced = [r for r in rows if isinstance(r.get("automix"), dict)]
    failed = sum(1 for r in rows if "error" in r)
    answered: dict[int, int] = {}
    for r in traced:
        if "error" not in r:
            tier = int(r["automix"].get("answered_by", 0))
            answered[tier] = answered.get(tier, 0) + 1
    ok = sum(answered.values())
    escalated = sum(1 for r in traced if "error" not in r and r["automix"].get("escalated"))
    spent = [float(r["automix"].get("total_cost", 0.0)) for r in traced if "error" not in r]
    scored = [r for r in rows if isinstance(r.get("feedback"), dict)]
    out: dict[str, Any] = {
        "queries": len(rows),
        "failed": failed,
        "escalated": escalated,
        "escalation_share": escalated / ok if ok else None,
        "answered_by": {str(k): v for k, v in sorted(answered.items())},
        "mean_cost": sum(spent) / len(spent) if spent else None,
        "feedback": len(scored),
        "mean_feedback": (
            sum(float(r["feedback"]["score"]) for r in scored) / len(scored) if scored else None
        ),
    }
    if args.costs is not None and spent:
        out["always_final_cost"] = float(args.costs[-1])
        out["saved_per_query"] = float(args.costs[-1]) - out["mean_cost"]
    if args.policy:
        try:
            policy = MetaVerifier.load(args.policy)
        except (OSError, PolicyError) as exc:
            raise _Fail(f"cannot read --policy: {exc}") from None
        try:
            again = redecide(policy, rows)
        except (ValueError, KeyError) as exc:
            raise _Fail(f"--policy cannot decide on these traces: {exc}") from None
        out["policy"] = policy.describe()
        out["decisions"] = again.n_decisions
        out["reproduced"] = again.n_agree
        out["disagreements"] = again.disagreements
    if args.json:
        print(json.dumps(out, indent=2, allow_nan=False))
        return 0
    share = "" if out["escalation_share"] is None else f" ({out['escalation_share']:.1%})"
    print(f"served queries: {len(rows)} ({failed} failed), escalated {escalated}{share}")
    print("answered by tier: " + ", ".join(f"{k}: {v}" for k, v in out["answered_by"].items()))
    if out["mean_cost"] is not None:
        line = f"mean cost per query: {out['mean_cost']:.2f}"
        if "saved_per_query" in out:
            line += (
                f" (always the final tier: {out['always_final_cost']:g}, "
                f"saved {out['saved_per_query']:.2f} per query)"
            )
        print(line)
    if scored:
        print(f"feedback: {len(scored)} scored, mean {out['mean_feedback']:.3f}")
    if args.policy:
        n, agree = out["decisions"], out["reproduced"]
        pct = f"{agree / n:.1%}" if n else "n/a"
        print(f"policy {out['policy']}: {agree}/{n} served decisions reproduced ({pct})")
        for d in again.disagreements[:5]:
            print(f"  {d['id']}: tier {d['tier']} served -> {d['served']}, policy -> {d['policy']}")
    return 0


def _run(args: argparse.Namespace) -> int:
    if getattr(args, "served", None):
        return _run_served(args)
    provenance: list[str] = []
    policy_dict: dict[str, Any] | None = None
    if args.policy:
        if not args.test:
            raise _Fail("--policy needs --test (the rows to evaluate on)")
        try:
            policy = MetaVerifier.load(args.policy)
        except (OSError, PolicyError) as exc:
            raise _Fail(f"cannot read --policy: {exc}") from None
        test = _load(args.test, "--test")
        relabelled = _labels_view(args.test_labels, "--test-labels")
        if relabelled is not None:
            test = relabelled(test)
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
        provenance = _provenance_lines(policy, test, spec)
        policy_dict = None if policy.provenance is None else policy.provenance.to_dict()
    else:
        if not args.train:
            raise _Fail("give --policy (and --test), or --train to fit and compare every method")
        methods = (
            None
            if args.methods is None
            else [m.strip() for m in args.methods.split(",") if m.strip()]
        )
        for m in methods or ():
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
                train_view=_labels_view(args.train_labels, "--train-labels"),
                test_view=_labels_view(args.test_labels, "--test-labels"),
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
                risk=args.risk,
                check=args.check,
                bootstrap=args.bootstrap,
            )
        except (ValueError, NotImplementedError) as exc:
            raise _Fail(str(exc)) from None
        measured = test_opt or train
    signal = verifier_report(measured, correct_at=args.correct_at)
    notes = []
    if comp.test_size < MIN_TEST_ROWS:
        step = 100 / max(comp.test_size, 1)
        notes.append(
            f"only {comp.test_size} test rows (fewer than {MIN_TEST_ROWS}): one row moves the "
            f"average quality by up to {step:.0f} points, so these numbers and their "
            "intervals say little; evaluate on more rows"
        )
    for note in notes:
        _warn(note)
    if args.json:
        out = comp.to_json_dict()
        out["verifier"] = [r.to_json_dict() for r in signal]
        out["warnings"] = notes
        if args.policy:
            out["policy_provenance"] = policy_dict
        print(json.dumps(out, indent=2, allow_nan=False))
    else:
        for line in provenance:
            print(line)
        if provenance:
            print()
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
