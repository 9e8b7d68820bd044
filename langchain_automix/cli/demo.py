r"""``automix demo``: AutoMix live on the embedded local models, with a paper-style table.

Examples::

    automix demo                       # 20 shipped questions, about a minute on 2 cores
    automix demo --questions 40        # more questions
    automix demo --tier small=gpt-4o-mini,key_env=OPENAI_API_KEY \
                 --tier large=gpt-4o,key_env=OPENAI_API_KEY \
                 --replay my_replay.jsonl   # your own endpoints, calibrated on their rows
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from langchain_automix.cli._common import VERIFY_GRAMMARS, VERIFY_PROMPTS
from langchain_automix.cli._models import add_model_options, tier_factories

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``demo`` sub-command."""
    from langchain_automix.demo import DEFAULT_QUESTIONS

    p = subparsers.add_parser(
        "demo",
        help="run AutoMix live on the embedded local models and show what it saves",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_options(p, default_local=True)
    p.add_argument(
        "--questions",
        type=int,
        default=DEFAULT_QUESTIONS,
        help=f"live questions (default {DEFAULT_QUESTIONS})",
    )
    p.add_argument("--k", type=int, default=8, help="verifier samples (default 8)")
    p.add_argument("--seed", type=int, default=0, help="which questions, and sampling seeds")
    p.add_argument("--out", default="automix-demo", help="folder for the plot and live rows")
    p.add_argument("--replay", default=None, help="replay file to calibrate on (default: shipped)")
    p.add_argument("--no-plot", action="store_true", help="skip the cost-quality plot")
    p.add_argument(
        "--verify-prompt",
        choices=VERIFY_PROMPTS,
        default=None,
        help="verification prompt live (default: the one the replay rows were verified with; "
        "the shipped rows: shared)",
    )
    p.add_argument(
        "--verify-grammar",
        choices=VERIFY_GRAMMARS,
        default=None,
        help="verifier grammar live (default: the replay rows'; the shipped rows: verdict)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo and print the table."""
    from langchain_automix.demo import SHIPPED_REPLAY, run_demo

    if args.questions < 1:
        print("automix: error: --questions must be >= 1", file=sys.stderr)
        return 2
    if (args.verify_prompt is None) != (args.verify_grammar is None):
        print(
            "automix: error: give --verify-prompt and --verify-grammar together (or neither, "
            "to verify as the replay rows were verified)",
            file=sys.stderr,
        )
        return 2
    if (args.tier or args.tiers) and not args.replay:
        # the shipped rows are the embedded Qwen pair's: a policy fitted on them would
        # route other models on another model's verifier and signals
        print(
            "automix: error: with your own endpoints, give --replay FILE: rows collected from "
            "them (automix collect --tier ... --data qa_mix_500 --out FILE); the shipped "
            "replay holds the embedded Qwen models' answers and verifier signals, and policies "
            "calibrated on it do not carry over to other models",
            file=sys.stderr,
        )
        return 2
    print(
        "automix demo: starting the models (the first run assembles and checks the weights)...",
        file=sys.stderr,
    )
    try:
        with tier_factories(args) as factories:
            if len(factories) != 2:
                print("automix: error: the demo compares exactly two tiers", file=sys.stderr)
                return 2
            models = [f.make(temperature=0.0, max_tokens=64) for f in factories]
            report = run_demo(
                models,
                n_questions=args.questions,
                k=args.k,
                seed=args.seed,
                out_dir=args.out,
                replay_path=args.replay or SHIPPED_REPLAY,
                plot=not args.no_plot,
                request_n=factories[0].request_n,
                max_concurrency=factories[0].max_concurrency,
                layout=(
                    None
                    if args.verify_prompt is None
                    else (args.verify_prompt, args.verify_grammar)
                ),
            )
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"automix: error: {exc}", file=sys.stderr)
        return 2
    n = report.live.n_rows
    print()
    print(
        f"AutoMix live on {n} shipped questions ({report.seconds:.0f} s); meta-verifiers "
        f"calibrated on {report.calibration_rows} other shipped replay rows."
    )
    print("Cost in the paper's units: small answer 1, self-verification 1, large answer 50.")
    print()
    print(report.table())
    print()
    print(report.headline())
    print(report.latency_line())
    print(report.kept_line())
    for note in report.notes:
        print(f"note: {note}")
    print(f"live rows written to {args.out}/live_replay.jsonl")
    return 0
