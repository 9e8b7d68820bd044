r"""``automix serve``: run the AutoMix HTTP server (LangServe + OpenAI-compatible API).

Example:
    .. code-block:: bash

        automix serve --tier small=qwen@http://127.0.0.1:8080/v1 \
                      --tier big=gpt-4o,key_env=OPENAI_API_KEY \
                      --costs 1,50 --threshold 0.6 --port 8000
        automix serve --local            # the embedded llama.cpp models (extra [local])
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import pickle
import secrets
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_automix.cli._common import (
    add_verify_grammar_option,
    add_verify_prompt_option,
    float_in,
    int_at_least,
    parse_costs,
    verify_grammar,
    verify_prompt,
)
from langchain_automix.cli._models import add_model_options, tier_factories

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's; not imported here
OTEL_EXPORTER_ENV = "AUTOMIX_OTEL_EXPORTER"  # observability.tracing.EXPORTER_ENV

__all__ = ["SERVE_ARGS_ENV", "app_from_env", "build_app", "register", "run"]

SERVE_ARGS_ENV = "AUTOMIX_SERVE_ARGS"
"""Environment variable through which ``automix serve --workers N`` hands its parsed
options to each uvicorn worker (which calls :func:`app_from_env`)."""


def _threshold(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"threshold must be in [0, 1], got {value}")
    return value


def _bounds(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO,HI (e.g. 0.3,0.8), got {text!r}") from None
    if not 0.0 <= lo <= hi <= 1.0:
        raise argparse.ArgumentTypeError(
            f"threshold bounds must satisfy 0 <= LO <= HI <= 1, got {text}"
        )
    return lo, hi


DEFAULT_TIER_TIMEOUT = 300.0
"""``--tier-timeout``: generous for CPU-bound local models (k = 8 samples of the 0.5B
model take about 12 s alone on 2 cores, minutes under load), short of "forever"."""


def _positive(kind: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def _limit_or_off(text: str) -> float | None:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be positive (0 for no limit), got {text}")
    return value or None


DEFAULT_RATE_LIMIT = 60.0
"""``automix serve``'s default request rate per client, per minute (``--rate-limit 0``: off)."""


def register(subparsers: Any) -> None:
    """Add the ``serve`` sub-command."""
    from langchain_automix.server.quotas import DEFAULT_BODY_TIMEOUT_S

    p = subparsers.add_parser(
        "serve",
        help="serve AutoMix over HTTP (LangServe, OpenAI-compatible API)",
        description=(
            "Serve AutoMix with uvicorn: LangServe at /automix (with playground), "
            "OpenAI-compatible /v1/chat/completions and /v1/models, and /health. "
            "Set $AUTOMIX_API_KEY to require 'Authorization: Bearer <key>'."
        ),
    )
    add_model_options(p)
    p.add_argument("--costs", type=parse_costs, default=None, help="unit cost per tier, e.g. 1,50")
    p.add_argument("--threshold", type=_threshold, default=None, help="default threshold")
    p.add_argument("--num-verifications", type=int, default=8, help="verifier samples k")
    p.add_argument(
        "--policy",
        default=None,
        metavar="FILE",
        help="meta-verifier policy file written by 'automix fit' (default: a Threshold); "
        "a policy on the free answer signals serves without any verification call",
    )
    add_verify_grammar_option(p, "fit the --policy on rows collected the same way")
    add_verify_prompt_option(p, "fit the --policy on rows collected the same way")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1)")
    p.add_argument("--port", type=int_at_least(1, 65535), default=8000, help="port (default: 8000)")
    p.add_argument("--api-key-env", default="AUTOMIX_API_KEY", help="variable holding the API key")
    p.add_argument(
        "--max-body-bytes", type=int_at_least(1), default=1_000_000, help="request body limit"
    )
    p.add_argument(
        "--max-context-chars", type=int_at_least(1), default=50_000, help="context length limit"
    )
    p.add_argument("--log-level", default="info", help="uvicorn log level")
    p.add_argument(
        "--workers",
        type=_positive(int),
        default=1,
        help="uvicorn worker processes, each with its own copy of the app (default: 1); "
        "needs --tier/--tiers endpoints; rate limits and budgets are per worker",
    )
    p.add_argument(
        "--checkpoint-url",
        default=None,
        metavar="URL",
        help="durable execution: checkpoint every node to sqlite:///PATH or "
        "postgresql://user:pass@host/db (shared by all workers and hosts; extra [durable])",
    )
    p.add_argument(
        "--cache-url",
        default=None,
        metavar="URL",
        help="cache every model call (answers and verifications) in redis://host:port/db, "
        "shared by all workers and hosts: a repeated question costs no model call "
        "(extra [cache]); memory:// caches in each process",
    )
    p.add_argument(
        "--cache-ttl",
        type=_positive(int),
        default=None,
        metavar="SECONDS",
        help="expire cached model calls after this many seconds (default: never)",
    )
    p.add_argument(
        "--cache-prefix",
        default="automix",
        metavar="PREFIX",
        help="key prefix of the cached calls in Redis (default: automix)",
    )
    watch = p.add_argument_group(
        "observability", "metrics, traces, drift alarms, trace logs (docs/observability.md)"
    )
    watch.add_argument(
        "--metrics",
        action="store_true",
        help="serve Prometheus metrics at /metrics (behind the API key when one is set; "
        f"with --workers, every worker's, merged through ${MULTIPROC_DIR_ENV})",
    )
    watch.add_argument(
        "--log-traces",
        default=None,
        metavar="FILE",
        help="append every served query to FILE as a replay row (JSON Lines, rotated) and "
        "take user feedback at POST /automix/feedback; no question or context text "
        "unless --log-text",
    )
    watch.add_argument(
        "--explore",
        type=float_in(0, 1, high_open=True),
        default=0.0,
        metavar="RATE",
        help="escalate this share of the answers the policy accepts anyway, so the trace "
        "log observes the large model's answer on an unbiased sample for 'automix fit "
        "--from-traces' (e.g. 0.05; costs RATE x the large call per accepted query)",
    )
    watch.add_argument(
        "--explore-seed",
        type=int,
        default=None,
        metavar="N",
        help="salt of the --explore draws, for reproducible runs (default: a random salt "
        "per server process, so replicas and --workers do not explore the same repeats "
        "of a question; with --workers, each worker adds its pid to N)",
    )
    watch.add_argument(
        "--log-text",
        action="store_true",
        help="keep each query's question and context in --log-traces (user text: opt in)",
    )
    watch.add_argument(
        "--log-max-mb",
        type=_positive(float),
        default=100.0,
        metavar="MB",
        help="rotate --log-traces at this size (default: 100)",
    )
    watch.add_argument(
        "--drift-window",
        type=int_at_least(2),
        default=None,
        metavar="N",
        help="drift alarm: compare the last N live values of each routing signal with the "
        "--policy's training values (default: 200; on whenever the policy file recorded "
        "them)",
    )
    watch.add_argument(
        "--drift-alpha",
        type=float_in(0, 1, low_open=True, high_open=True),
        default=None,
        help="drift alarm: chance that unchanged traffic raises it, per window (default 0.01)",
    )
    watch.add_argument(
        "--no-drift", action="store_true", help="no drift alarm even when the policy allows one"
    )
    watch.add_argument(
        "--otel",
        choices=("none", "console", "otlp"),
        default=None,
        help="OpenTelemetry spans of every query and graph node: to an OTLP/HTTP collector "
        "or printed (default: $AUTOMIX_OTEL_EXPORTER, else none; extra [otel])",
    )
    watch.add_argument(
        "--otel-endpoint",
        default=None,
        metavar="URL",
        help="the OTLP collector (default: $OTEL_EXPORTER_OTLP_ENDPOINT, else "
        "http://localhost:4318)",
    )
    limits = p.add_argument_group(
        "limits", "what one request or client may ask (docs/serving.md, 'Operator limits')"
    )
    limits.add_argument(
        "--max-batch-size", type=_positive(int), default=32, help="inputs per batch (default: 32)"
    )
    limits.add_argument(
        "--max-model-calls",
        type=_positive(int),
        default=512,
        help="worst-case model calls per request (default: 512)",
    )
    limits.add_argument(
        "--max-concurrency",
        type=_positive(int),
        default=8,
        help="batch items answered at once (default: 8)",
    )
    limits.add_argument(
        "--max-num-verifications",
        type=_positive(int),
        default=None,
        help="per-request cap on num_verifications (default: the larger of k and 16)",
    )
    limits.add_argument(
        "--lock-threshold",
        action="store_true",
        help="the threshold is not tunable per request (asking for one: 403)",
    )
    limits.add_argument(
        "--threshold-bounds",
        type=_bounds,
        default=(0.0, 1.0),
        metavar="LO,HI",
        help="range of a per-request threshold (default: 0,1)",
    )
    limits.add_argument(
        "--budget-per-minute",
        type=_limit_or_off,
        default=None,
        help="cost units per client per minute (default: none)",
    )
    limits.add_argument(
        "--budget-per-day",
        type=_limit_or_off,
        default=None,
        help="cost units per client per day (default: none)",
    )
    limits.add_argument(
        "--rate-limit",
        type=_limit_or_off,
        default=DEFAULT_RATE_LIMIT,
        help=f"POST requests per client per minute (default: {DEFAULT_RATE_LIMIT:g}; 0: off)",
    )
    limits.add_argument(
        "--body-timeout",
        type=_limit_or_off,
        default=DEFAULT_BODY_TIMEOUT_S,
        metavar="SECONDS",
        help="seconds a client may take to send a request body; slower (a short "
        f"Content-Length, a trickle): 408 (default: {DEFAULT_BODY_TIMEOUT_S:g}; 0: off)",
    )
    limits.add_argument(
        "--tier-timeout",
        type=_limit_or_off,
        default=DEFAULT_TIER_TIMEOUT,
        metavar="SECONDS",
        help="seconds a tier may take to answer, and again to verify; a non-final tier that "
        "runs out escalates, a final one answers 502 with the partial trace "
        f"(default: {DEFAULT_TIER_TIMEOUT:g}; 0: no limit)",
    )
    limits.add_argument(
        "--allowed-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="browser origin allowed to POST when auth is off (repeatable; default: same host)",
    )
    limits.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="HOST",
        help="Host name a POST may be addressed to when auth is off, besides the loopback "
        "names (repeatable; e.g. the machine's LAN name when binding to 0.0.0.0)",
    )
    p.set_defaults(func=run)


@contextlib.contextmanager
def _models(args: argparse.Namespace) -> Iterator[list[Any]]:
    with tier_factories(args) as factories:
        yield [f.make() for f in factories]


def _meta_verifier(args: argparse.Namespace) -> Any:
    """The ``--policy`` file's meta-verifier, or None (checked before any model starts).

    Raises:
        ValueError: naming the file, when it cannot be read or is not a policy, or when
            ``--threshold`` is given for a policy that is not a Threshold.
    """
    path = getattr(args, "policy", None)
    if not path:
        return None
    from langchain_automix.meta_verifiers import MetaVerifier, Threshold

    try:
        policy = MetaVerifier.load(path)
    except OSError as exc:
        raise ValueError(f"--policy {path}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise ValueError(f"--policy {path}: not a policy file ({exc})") from None
    if args.threshold is not None and not isinstance(policy, Threshold):
        raise ValueError(
            f"--threshold applies to a Threshold policy; --policy {path} is "
            f"{policy.describe()} (drop --threshold)"
        )
    return policy


def explore_salt(seed: int | None) -> int:
    """The salt of a server process's ``--explore`` draws: ``seed``, else a random one.

    Each process counts its own repeats of a question, and the n-th repeat draws from a
    hash of the question, that count and the salt. With one fixed salt, every replica
    behind a load balancer (and every worker) would explore the same repeats, so a
    question's repeats would be explored together or not at all, fleet-wide.
    """
    return secrets.randbits(31) if seed is None else int(seed)


def build_app(args: argparse.Namespace, models: list[Any]) -> Any:
    """The FastAPI app that ``automix serve`` runs for these options and models."""
    from langchain_automix.runtime.runnable import AutoMixRunnable
    from langchain_automix.server import ServerLimits, create_app

    options: dict[str, Any] = {
        "num_verifications": args.num_verifications,
        "threshold": args.threshold,
        "max_context_chars": args.max_context_chars,
        "tier_timeout": args.tier_timeout,
        "meta_verifier": _meta_verifier(args),
        "verifier_grammar": verify_grammar(getattr(args, "verify_grammar", "none")),
        "verify_prompt": verify_prompt(getattr(args, "verify_prompt", "default")),
        "explore": float(getattr(args, "explore", 0.0) or 0.0),
        "explore_seed": explore_salt(getattr(args, "explore_seed", None)),
    }
    if args.costs is not None:
        options["costs"] = args.costs
    if getattr(args, "checkpoint_url", None):
        from langchain_automix.runtime.durable import checkpointer_from_url

        options["checkpointer"] = checkpointer_from_url(args.checkpoint_url)
    if getattr(args, "cache_url", None):
        from langchain_automix.runtime.cache import install_cache

        install_cache(
            args.cache_url,
            ttl=getattr(args, "cache_ttl", None),
            prefix=getattr(args, "cache_prefix", None) or "automix",
        )
    automix = AutoMixRunnable(models=models, **options)
    trace_log = None
    if getattr(args, "log_traces", None):
        from langchain_automix.observability.trace_log import TraceLog

        trace_log = TraceLog(
            args.log_traces,
            store_text=bool(getattr(args, "log_text", False)),
            max_bytes=int(getattr(args, "log_max_mb", 100.0) * 1024 * 1024),
        )
    return create_app(
        automix,
        api_key_env=args.api_key_env,
        max_body_bytes=args.max_body_bytes,
        metrics=bool(getattr(args, "metrics", False)),
        trace_log=trace_log,
        drift=_drift_monitor(args, options["meta_verifier"]),
        callbacks=_tracing_callbacks(args),
        limits=ServerLimits(
            max_batch_size=args.max_batch_size,
            max_model_calls=args.max_model_calls,
            max_concurrency=args.max_concurrency,
            max_num_verifications=args.max_num_verifications,
            lock_threshold=args.lock_threshold,
            threshold_bounds=args.threshold_bounds,
            budget_per_minute=args.budget_per_minute,
            budget_per_day=args.budget_per_day,
            rate_limit=args.rate_limit,
            allowed_origins=tuple(args.allowed_origin),
            allowed_hosts=tuple(args.allowed_host),
            body_timeout_s=args.body_timeout,
        ),
    )


def _pack(args: argparse.Namespace) -> str:
    options = {k: v for k, v in vars(args).items() if k != "func"}
    return base64.b64encode(pickle.dumps(options)).decode("ascii")


def app_from_env() -> Any:
    """Uvicorn factory of each ``--workers`` process: the app of the parent's options.

    The parent ``automix serve`` puts its parsed options in ``$AUTOMIX_SERVE_ARGS``
    (its own process environment, inherited by its workers); each worker builds its
    models, checkpointer and app from them.

    Raises:
        RuntimeError: when ``$AUTOMIX_SERVE_ARGS`` is unset.
    """
    packed = os.environ.get(SERVE_ARGS_ENV)
    if not packed:
        raise RuntimeError(f"${SERVE_ARGS_ENV} is unset: start workers with automix serve")
    # Written by the parent process (same user, same machine) just before it forks us.
    options = pickle.loads(base64.b64decode(packed))  # noqa: S301
    args = argparse.Namespace(**options)
    # each worker counts its own repeats of a question: salt its exploration draws so
    # that the workers' n-th repeats are not all explored or all accepted together (a
    # random salt of its own without --explore-seed, see explore_salt)
    if getattr(args, "explore_seed", None) is not None:
        args.explore_seed += os.getpid()
    from langchain_automix.tiers import load_tier_config, parse_tier

    specs = load_tier_config(args.tiers) if args.tiers else [parse_tier(t) for t in args.tier]
    return build_app(args, [spec.chat_model() for spec in specs])


def run(args: argparse.Namespace) -> int:
    """Build the runnable from the options and serve it until interrupted."""
    try:
        import uvicorn

        from langchain_automix.server import create_app  # noqa: F401 - fail early
    except ImportError as exc:
        print(
            f"automix: error: serving needs pip install 'langchain-automix[server]' ({exc})",
            file=sys.stderr,
        )
        return 2
    workers = getattr(args, "workers", 1) or 1
    try:
        _meta_verifier(args)  # a bad policy file fails before any model starts
        if getattr(args, "checkpoint_url", None):
            from langchain_automix.runtime.durable import checkpointer_from_url

            saver = checkpointer_from_url(args.checkpoint_url)
            saver.setup()  # tables created once, here, and a bad URL fails before serving
            saver.close()
        if workers > 1:
            if not (args.tier or args.tiers):
                print(
                    "automix: error: --workers needs --tier/--tiers endpoints (each worker "
                    "connects to them); serve --local models with one worker, or start "
                    "llama-server yourself and pass its URL as a --tier",
                    file=sys.stderr,
                )
                return 2
            os.environ[SERVE_ARGS_ENV] = _pack(args)
            if getattr(args, "metrics", False):
                _multiprocess_metrics_dir()
            build_app(args, [f.make() for f in _tier_specs_factories(args)])  # fail early
            uvicorn.run(
                f"{__name__}:app_from_env",
                factory=True,
                workers=workers,
                host=args.host,
                port=args.port,
                log_level=args.log_level,
            )
            return 0
        with _models(args) as models:
            app = build_app(args, models)
            uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    except (ValueError, ImportError) as exc:
        print(f"automix: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _drift_monitor(args: argparse.Namespace, policy: Any) -> Any:
    """The drift alarm for the ``--policy``'s recorded training signals, or None.

    Raises:
        ValueError: when drift options are given but the policy recorded no signals.
    """
    asked = getattr(args, "drift_window", None) is not None or (
        getattr(args, "drift_alpha", None) is not None
    )
    if getattr(args, "no_drift", False):
        return None
    reference = None
    if policy is not None and policy.provenance is not None:
        reference = policy.provenance.signal_reference
    if reference is None:
        if asked:
            raise ValueError(
                "--drift-window/--drift-alpha need a --policy file that recorded its training "
                "signals (fitted by this version of 'automix fit'; refit older ones)"
            )
        return None
    from langchain_automix.calibration.drift import DEFAULT_ALPHA, DEFAULT_WINDOW, DriftMonitor

    return DriftMonitor(
        reference,
        window=args.drift_window or DEFAULT_WINDOW,
        alpha=args.drift_alpha or DEFAULT_ALPHA,
        check_every=10,  # a tenth of the cost on the request path; alarms <= 9 queries later
    )


def _tracing_callbacks(args: argparse.Namespace) -> Any:
    """``--otel``'s handler, shared by every query (None: tracing off)."""
    exporter = getattr(args, "otel", None)
    endpoint = getattr(args, "otel_endpoint", None)
    if exporter is None and endpoint is None and not os.environ.get(OTEL_EXPORTER_ENV):
        return None  # off: OpenTelemetry is not even imported
    from langchain_automix.observability.tracing import configure_tracing, tracing_from_env

    if exporter is None and endpoint is None:
        handler = tracing_from_env()
    else:
        handler = configure_tracing(exporter or "otlp", endpoint=endpoint)
    if handler is None:
        return None
    return lambda: [handler]


def _multiprocess_metrics_dir() -> None:
    """Point ``prometheus-client`` at a metrics folder the workers share (before import).

    An operator's ``$PROMETHEUS_MULTIPROC_DIR`` is used as is (emptied first: files of
    a previous run would be counted again); otherwise a fresh temporary folder.
    """
    folder = os.environ.get(MULTIPROC_DIR_ENV)
    if folder:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
    else:
        os.environ[MULTIPROC_DIR_ENV] = tempfile.mkdtemp(prefix="automix-metrics-")


def _tier_specs_factories(args: argparse.Namespace) -> list[Any]:
    with tier_factories(args) as factories:
        return list(factories)
