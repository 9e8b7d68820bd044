"""Model options shared by ``collect``, ``serve`` and ``demo``: embedded models or endpoints."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["TierFactory", "add_model_options", "tier_factories"]


@dataclass(frozen=True)
class TierFactory:
    """A named tier that builds chat models (``make(temperature=..., max_tokens=...)``)."""

    name: str
    make: Callable[..., Any]
    request_n: bool | None = None
    """False for llama.cpp's server, which ignores ``n``; None: decide from the model."""
    max_concurrency: int | None = None
    """Calls in flight per query: 1 for llama.cpp's server, which serves one request at a
    time (k = 8 async samples took 16.8 s concurrent against 13.2 s sequential in
    ``benchmarks/results/``; the sync demo was unchanged); None: no limit."""


def add_model_options(p: argparse.ArgumentParser, *, default_local: bool = False) -> None:
    """Add ``--local`` / ``--tier`` / ``--tiers``; one is required unless ``default_local``."""
    src = p.add_mutually_exclusive_group(required=not default_local)
    src.add_argument(
        "--local",
        nargs="?",
        const="pair",
        default="pair" if default_local else None,
        metavar="pair|three|ID,ID",
        help="embedded llama.cpp models: 'pair' (Qwen2.5-Coder 0.5B then 1.5B, default), "
        "'three' (SmolLM2-135M first), or comma-separated model ids (extra [local])",
    )
    src.add_argument(
        "--tier",
        action="append",
        metavar="[NAME=]MODEL[@BASE_URL][,key_env=VAR]",
        help="an OpenAI-compatible tier, cheapest first; repeat for each tier. The key is "
        "read from the environment variable named by key_env, never from the command line",
    )
    src.add_argument("--tiers", metavar="FILE", help="JSON or TOML file with a 'tiers' list")
    p.add_argument("--n-ctx", type=int, default=4096, help="--local: context window")
    p.add_argument("--threads", type=int, default=2, help="--local: CPU threads per model")
    p.add_argument(
        "--shared-process",
        action="store_true",
        help="--local: serve all models from one llama.cpp process (swaps models; less RAM)",
    )


def _local_ids(value: str) -> tuple[str, ...]:
    from langchain_automix.local.models import DEFAULT_PAIR, THREE_TIERS

    if value == "pair":
        return DEFAULT_PAIR
    if value == "three":
        return THREE_TIERS
    return tuple(v.strip() for v in value.split(",") if v.strip())


@contextlib.contextmanager
def tier_factories(args: argparse.Namespace) -> Iterator[list[TierFactory]]:
    """Start the embedded models (if ``--local``) and yield one factory per tier.

    Embedded servers stop when the ``with`` block ends, also on errors and Ctrl-C.
    """
    if args.tier or args.tiers:
        from langchain_automix.tiers import load_tier_config, parse_tier

        specs = load_tier_config(args.tiers) if args.tiers else [parse_tier(t) for t in args.tier]
        yield [TierFactory(spec.name, spec.chat_model) for spec in specs]
        return
    try:
        from langchain_automix.local import LocalModelServer
    except ImportError as exc:
        raise SystemExit(
            "automix: error: --local needs the embedded models: "
            f"pip install 'langchain-automix[local]' ({exc})"
        ) from None
    ids = _local_ids(args.local)
    # logits_all for the verified tiers: llama.cpp returns token logprobs only then; they
    # are the free answer signals (answer_min_prob, ...) and the logprob verifier's input.
    with LocalModelServer(
        ids,
        n_ctx=args.n_ctx,
        n_threads=args.threads,
        process_per_model=not args.shared_process,
        logits_all=ids[:-1],
    ) as server:
        yield [
            TierFactory(
                mid,
                lambda mid=mid, **kw: server.chat_model(mid, **kw),
                request_n=False,
                max_concurrency=1,
            )
            for mid in ids
        ]
