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
    make_completion: Callable[..., Any] | None = None
    """Builds the tier's text-completion model (``/v1/completions``) the same way: the
    verifier of ``--verify-mode completion``."""
    request_n: bool | None = None
    """False for llama-cpp-python's server, which ignores ``n``; None: decide from the
    model (``llama-server`` honours it)."""
    max_concurrency: int | None = None
    """Calls in flight per query: 1 for llama-cpp-python's server, which serves one
    request at a time (k = 8 async samples took 16.8 s concurrent against 13.2 s
    sequential in ``benchmarks/results/``); None: no limit."""
    prompt_cache: bool = False
    """True for the embedded ``llama-server``, whose prompt cache a request can turn off
    (``cache_prompt``); an endpoint's server is unknown."""


def add_model_options(p: argparse.ArgumentParser, *, default_local: bool = False) -> None:
    """Add ``--local`` / ``--tier`` / ``--tiers``; one is required unless ``default_local``."""
    from langchain_automix.cli._common import int_at_least
    from langchain_automix.local.server import BACKENDS

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
    positive = int_at_least(1)
    p.add_argument("--n-ctx", type=positive, default=4096, help="--local: context window")
    p.add_argument("--threads", type=positive, default=2, help="--local: CPU threads per model")
    p.add_argument(
        "--shared-process",
        action="store_true",
        help="--local, llama-cpp-python backend: serve all models from one process (swaps "
        "models; less RAM)",
    )
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="--local: llama.cpp server to run: llama-server (parallel slots, n > 1, free "
        "logprobs; default when installed) or llama-cpp-python's",
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
        yield [TierFactory(spec.name, spec.chat_model, spec.completion_model) for spec in specs]
        return
    try:
        from langchain_automix.local import LocalModelServer
        from langchain_automix.local.llama_server import DEFAULT_PARALLEL
        from langchain_automix.local.server import Backend
    except ImportError as exc:
        raise SystemExit(
            "automix: error: --local needs the embedded models: "
            f"pip install 'langchain-automix[local]' ({exc})"
        ) from None
    ids = _local_ids(args.local)
    k = getattr(args, "k", None) or 0
    backend: Backend = getattr(args, "backend", "auto")
    # logits_all (llama-cpp-python only) for the verified tiers: that server returns token
    # logprobs only then; they are the free answer signals and the logprob verifier's input.
    # llama-server returns them anyway and samples the k verifications as one batch.
    with LocalModelServer(
        ids,
        n_ctx=args.n_ctx,
        n_threads=args.threads,
        process_per_model=not args.shared_process,
        logits_all=ids[:-1],
        backend=backend,
        parallel=max(DEFAULT_PARALLEL, k),
        build_missing=True,  # no llama-server yet: compile it (automix setup), once
    ) as server:
        native = server.supports_n
        yield [
            TierFactory(
                mid,
                lambda mid=mid, **kw: server.chat_model(mid, **kw),
                lambda mid=mid, **kw: server.completion_model(mid, **kw),
                request_n=None if native else False,
                max_concurrency=None if native else 1,
                prompt_cache=native,
            )
            for mid in ids
        ]
