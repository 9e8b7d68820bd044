"""The AutoMix state machine: ``solve_small -> self_verify -> meta_decide -> solve_large``.

```mermaid
graph TD
    START -- first tier --> solve_small
    START -- policy fixed to always escalate --> solve_large
    solve_small --> self_verify --> meta_decide
    meta_decide -- accept --> END
    meta_decide -- escalate / skip --> solve_large
    solve_large -- non-final tier --> self_verify
    solve_large -- final tier --> END
```

``solve_large`` calls the tier ``meta_decide`` chose: the next one, or with three or
more tiers a higher one when the meta-verifier skips (e.g. a POMDP that learnt the
medium model rarely helps); skipped tiers appear in the trace with ``skipped=True`` and
cost 0. A meta-verifier fixed to always escalate (``Calibrated`` fallen back to
``"escalate"``) starts at the last tier (:meth:`MetaVerifier.start_tier`): the small
tier is recorded as skipped and never called.

A failed answer call of a non-final tier skips verification and escalates; a
failed final tier raises :class:`~langchain_automix.errors.AutoMixModelError`
carrying the partial result.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import threading
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import lru_cache
from typing import Any, Literal, cast, get_args, get_type_hints

from langchain_core.messages import AIMessageChunk
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.constants import TAG_HIDDEN, TAG_NOSTREAM
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime, get_runtime

from langchain_automix._model_utils import sum_usage
from langchain_automix.errors import AutoMixModelError, TierTimeoutError
from langchain_automix.meta_verifiers.base import Observation
from langchain_automix.runtime.context import AutoMixContext, RunKnobs
from langchain_automix.runtime.result import AutoMixResult, TierAttempt, observation_of
from langchain_automix.runtime.solving import SolveResult, asolve, solve
from langchain_automix.runtime.state import AutoMixState, InputState, OutputState, PublishedState
from langchain_automix.runtime.tier_step import (
    EMPTY_ANSWER_ERROR,
    answered,
    averify_attempt,
    verified,
    verify_attempt,
)
from langchain_automix.runtime.verification import (
    VerificationResult,
    VerifierSettings,
    query_seed,
)

__all__ = [
    "EMPTY_ANSWER_ERROR",
    "GRAPH_NAME",
    "NODES",
    "RESOLVER_KEY",
    "ContextResolver",
    "build_automix_graph",
    "compile_automix_graph",
    "result_from_state",
    "route_after_meta_decide",
    "route_after_solve_large",
    "route_after_solve_small",
    "route_at_start",
]

GRAPH_NAME = "AutoMix"
"""Name of the compiled graph (and of its run in traces)."""

NODES = ("solve_small", "self_verify", "meta_decide", "solve_large")
"""The graph's nodes, in the order a query meets them."""

_NodeRunnable: Any
try:  # LangGraph's own node wrapper: sync and async bodies, no extra trace level
    from langgraph._internal._runnable import RunnableCallable as _NodeRunnable
except ImportError:  # pragma: no cover - layout of a future LangGraph
    _NodeRunnable = None


def _node(
    name: str,
    func: Callable[..., Any],
    afunc: Callable[..., Awaitable[Any]],
    *,
    trace: bool = False,
) -> Any:
    """Wrap a node's sync and async bodies so that LangGraph runs the right one.

    LangGraph's own wrapper injects ``config`` and ``runtime`` and adds no trace level.
    Should a future LangGraph move it, the public fallback (``RunnableLambda`` plus
    :func:`langgraph.runtime.get_runtime`) runs the same bodies, with one more trace
    level per node.
    """
    if _NodeRunnable is not None:
        return _NodeRunnable(func, afunc, name=name, trace=trace)
    return _public_node(name, func, afunc)


def _public_node(
    name: str,
    func: Callable[..., Any],
    afunc: Callable[..., Awaitable[Any]],
) -> RunnableLambda[Any, Any]:
    """:func:`_node` on public APIs only: ``runtime`` comes from ``get_runtime()``."""
    params = inspect.signature(func).parameters

    def injected(config: RunnableConfig) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"config": config} if "config" in params else {}
        if "runtime" in params:
            kwargs["runtime"] = get_runtime()
        return kwargs

    def call(state: Any, config: RunnableConfig) -> Any:
        return func(state, **injected(config))

    async def acall(state: Any, config: RunnableConfig) -> Any:
        return await afunc(state, **injected(config))

    return RunnableLambda(call, afunc=acall, name=name)


def _router(func: Callable[..., str]) -> tuple[Any, list[str]]:
    """A router runnable with an async twin (no thread hop under ``ainvoke``) and its ends.

    The ends come from the router's ``Literal`` return type, so the drawn graph and the
    routing cannot drift apart.
    """
    ends = list(get_args(get_type_hints(func)["return"]))

    async def afunc(*args: Any, **kwargs: Any) -> str:
        return func(*args, **kwargs)

    return _node(func.__name__, func, afunc), ends


ContextResolver = Callable[[Any], AutoMixContext]
"""Turns a run's LangGraph ``context`` (None, or a JSON mapping of per-run knobs such as
``{"threshold": 0.7}``) into the :class:`AutoMixContext` of a graph built with its models
(:func:`compile_automix_graph`)."""


RESOLVER_KEY = "__automix_resolver"
"""Key of the :data:`ContextResolver` in the config of a graph built with its models (keys
that start with ``__`` stay out of run metadata and checkpoints)."""


def _context(runtime: Runtime[Any] | None, config: RunnableConfig) -> AutoMixContext:
    """The run's :class:`AutoMixContext`, from the ``runtime`` LangGraph injects into nodes.

    A run given an ``AutoMixContext`` uses it; a graph built with its models resolves
    anything else (None, or a mapping of per-run knobs) with its resolver, kept in the
    compiled graph's config under :data:`RESOLVER_KEY`.
    """
    ctx = getattr(runtime, "context", None)
    if isinstance(ctx, AutoMixContext):
        return ctx
    resolve = (config.get("configurable") or {}).get(RESOLVER_KEY)
    if resolve is not None:
        return cast(ContextResolver, resolve)(ctx)
    raise TypeError(
        "the AutoMix graph needs an AutoMixContext: call it through AutoMixRunnable, build "
        "it with create_automix_graph(models, ...), or pass "
        "graph.invoke(input, context=AutoMixContext(...))"
    )


def _tagged(
    config: RunnableConfig, node: str, *, hidden: bool, publish: bool = False
) -> RunnableConfig:
    """The config of a tier call, tagged with its node.

    ``hidden`` calls (a non-final tier's answer, every verification) also carry
    LangGraph's ``nostream`` tag, so no LangGraph ``messages`` stream (an agent's, the
    LangGraph server's) shows their tokens before the answer is accepted. In a graph built
    with its models (``publish``) they are also ``langsmith:hidden``, which the LangGraph
    server's ``events`` stream mode leaves out.
    """
    cfg: RunnableConfig = dict(config)  # type: ignore[assignment]
    tags = [*(config.get("tags") or []), f"automix:{node}"]
    if hidden:
        tags = [*tags, TAG_NOSTREAM, *([TAG_HIDDEN] if publish else [])]
    cfg["tags"] = tags
    return cfg


def _timed_out(ctx: AutoMixContext, tier: int, what: str) -> TierTimeoutError:
    return TierTimeoutError(
        f"tier {ctx.model_names[tier]!r} did not {what} within {ctx.timeout(tier):g} s "
        "(tier_timeout)"
    )


def _call_with_timeout(func: Callable[[], Any], seconds: float | None) -> Any:
    """``func()``, or TimeoutError after ``seconds`` (the call is abandoned in its thread)."""
    if seconds is None:
        return func()
    box: dict[str, Any] = {}
    run = contextvars.copy_context().run

    def target() -> None:
        try:
            box["value"] = run(func)
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=target, name="automix-tier-call", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError
    if "error" in box:
        raise box["error"]
    return box["value"]


async def _await_with_timeout(awaitable: Awaitable[Any], seconds: float | None) -> Any:
    """``await awaitable``, cancelled with TimeoutError after ``seconds``."""
    if seconds is None:
        return await awaitable
    return await asyncio.wait_for(awaitable, seconds)


def _unverified(ctx: AutoMixContext, tier: int, error: BaseException) -> VerificationResult:
    """The verification result of a verifier that ran out of time: no valid sample."""
    k = 1 if ctx.verifier.method == "logprob" else ctx.verifier.k
    return VerificationResult.unverified(f"{type(error).__name__}: {error}", k)


# --- pure state updates shared by the sync and async nodes -------------------------------


def _solved(ctx: AutoMixContext, tier: int, out: SolveResult | BaseException) -> TierAttempt:
    """The tier's attempt (:func:`~langchain_automix.runtime.tier_step.answered`), priced."""
    attempt = answered(out, tier=tier, name=ctx.model_names[tier], final=tier == ctx.n_tiers - 1)
    if isinstance(out, BaseException):
        return attempt  # no answer, nothing charged
    return attempt.model_copy(
        update={
            "cost": ctx.costs.unit_costs_for(ctx.n_tiers)[tier],
            "money": ctx.costs.money(tier, attempt.usage),
        }
    )


def _priced_verification(
    ctx: AutoMixContext, before: TierAttempt, after: TierAttempt
) -> TierAttempt:
    """``after`` (``before`` with its verification) charged the verification's cost."""
    money = ctx.costs.money(before.tier, after.verify_usage)
    return after.model_copy(
        update={
            "cost": before.cost + ctx.costs.verify_costs_for(ctx.n_tiers)[before.tier],
            "money": None if money is None else (before.money or 0.0) + money,
        }
    )


def _observation(ctx: AutoMixContext, state: AutoMixState) -> Observation:
    return observation_of(state["attempts"], ctx.n_tiers)


def _replace_last(state: AutoMixState, attempt: TierAttempt) -> dict[str, Any]:
    return {"attempts": [*state["attempts"][:-1], attempt]}


def _after_solve(
    ctx: AutoMixContext, state: AutoMixState, tier: int, out: SolveResult | BaseException
) -> dict[str, Any]:
    attempt = _solved(ctx, tier, out)
    before = state.get("attempts", [])
    first_skipped = before[-1].tier + 1 if before else 0
    skipped = [
        TierAttempt(tier=t, model=ctx.model_names[t], skipped=True)
        for t in range(first_skipped, tier)
    ]
    attempts = [*before, *skipped, attempt]
    if attempt.error is not None and tier == ctx.n_tiers - 1:
        partial = _partial_result(ctx, attempts)
        raise AutoMixModelError(
            f"the final tier {attempt.model!r} failed: {attempt.error}", partial=partial
        ) from (out if isinstance(out, BaseException) else None)
    update: dict[str, Any] = {"tier": tier, "attempts": attempts}
    if ctx.publish and tier == ctx.n_tiers - 1 and isinstance(out, SolveResult):
        update.update(_finished(ctx, attempts, out.message_id))
    return update


def _finished(
    ctx: AutoMixContext, attempts: list[TierAttempt], message_id: str | None = None
) -> dict[str, Any]:
    """The state keys that end a run: the accepted answer, its trace, and its message.

    The final tier's message keeps the id of the model's own message, so a LangGraph
    ``messages`` stream that showed its tokens does not show it twice.
    """
    result = _partial_result(ctx, attempts)
    message = result.to_message()
    if message_id is not None:
        message.id = message_id
    return {"answer": result.answer, "trace": result.trace(), "message": message}


def _stream_sink(ctx: AutoMixContext, tier: int, runtime: Runtime[Any]) -> Any:
    if not ctx.stream_final or tier != ctx.n_tiers - 1:
        return None
    writer = runtime.stream_writer
    if writer is None:
        return None

    def sink(chunk: AIMessageChunk) -> None:
        writer({"automix_chunk": chunk})

    return sink


# --- nodes ---------------------------------------------------------------------------------


def _solve_tier(
    state: AutoMixState, config: RunnableConfig, runtime: Runtime[Any], tier: int, node: str
) -> dict[str, Any]:
    ctx = _context(runtime, config)
    try:
        out: SolveResult | BaseException = _call_with_timeout(
            lambda: solve(
                ctx.models[tier],
                question=state["question"],
                context=state.get("context"),
                prompt=ctx.solve_prompt,
                config=_tagged(config, node, hidden=tier < ctx.n_tiers - 1, publish=ctx.publish),
                on_chunk=_stream_sink(ctx, tier, runtime),
                logprobs=ctx.answer_logprobs and tier < ctx.n_tiers - 1,
            ),
            ctx.timeout(tier),
        )
    except TimeoutError:
        out = _timed_out(ctx, tier, "answer")
    except Exception as exc:  # recorded in the trace, then escalated or re-raised
        out = exc
    return _after_solve(ctx, state, tier, out)


async def _asolve_tier(
    state: AutoMixState, config: RunnableConfig, runtime: Runtime[Any], tier: int, node: str
) -> dict[str, Any]:
    ctx = _context(runtime, config)
    try:
        out: SolveResult | BaseException = await _await_with_timeout(
            asolve(
                ctx.models[tier],
                question=state["question"],
                context=state.get("context"),
                prompt=ctx.solve_prompt,
                config=_tagged(config, node, hidden=tier < ctx.n_tiers - 1, publish=ctx.publish),
                on_chunk=_stream_sink(ctx, tier, runtime),
                logprobs=ctx.answer_logprobs and tier < ctx.n_tiers - 1,
            ),
            ctx.timeout(tier),
        )
    except (TimeoutError, asyncio.TimeoutError):
        out = _timed_out(ctx, tier, "answer")
    except Exception as exc:  # recorded in the trace, then escalated or re-raised
        out = exc
    return _after_solve(ctx, state, tier, out)


def solve_small(
    state: AutoMixState, config: RunnableConfig, runtime: Runtime[Any]
) -> dict[str, Any]:
    """Tier 0 answers the question."""
    return _solve_tier(state, config, runtime, 0, "solve_small")


async def asolve_small(
    state: AutoMixState, config: RunnableConfig, runtime: Runtime[Any]
) -> dict[str, Any]:
    """Async twin of :func:`solve_small`."""
    return await _asolve_tier(state, config, runtime, 0, "solve_small")


def _start_tier(ctx: AutoMixContext) -> int:
    """The meta-verifier's :meth:`start_tier`, checked against the cascade."""
    start = ctx.meta_verifier.start_tier(ctx.n_tiers)
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start < ctx.n_tiers:
        raise ValueError(
            f"{ctx.meta_verifier.describe()}: start_tier must be a tier index in "
            f"[0, {ctx.n_tiers - 1}], got {start!r}"
        )
    return start


def _next_tier(ctx: AutoMixContext, state: AutoMixState) -> int:
    """The tier to call next: the one ``meta_decide`` chose, else the next one.

    Before any attempt, the meta-verifier's :meth:`start_tier` (a policy fixed to
    always escalate starts at the last tier).
    """
    attempts = state.get("attempts") or []
    if not attempts:
        return _start_tier(ctx)
    chosen = attempts[-1].escalate_to
    return chosen if chosen is not None else state["tier"] + 1


def solve_large(
    state: AutoMixState, config: RunnableConfig, runtime: Runtime[Any]
) -> dict[str, Any]:
    """A higher tier answers: the next one, or the one the meta-verifier chose.

    Its tokens stream if it is the last tier.
    """
    tier = _next_tier(_context(runtime, config), state)
    return _solve_tier(state, config, runtime, tier, "solve_large")


async def asolve_large(
    state: AutoMixState, config: RunnableConfig, runtime: Runtime[Any]
) -> dict[str, Any]:
    """Async twin of :func:`solve_large`."""
    tier = _next_tier(_context(runtime, config), state)
    return await _asolve_tier(state, config, runtime, tier, "solve_large")


def _query_verifier(ctx: AutoMixContext, state: AutoMixState, tier: int) -> VerifierSettings:
    """The verifier settings of this query: its own seed (``query_seed``)."""
    seed = query_seed(ctx.verifier.seed, state["question"], state.get("context"), tier)
    return ctx.verifier if seed is None else replace(ctx.verifier, seed=seed)


def self_verify(
    state: AutoMixState, config: RunnableConfig, runtime: Runtime[Any]
) -> dict[str, Any]:
    """The current tier verifies its own answer ``k`` times.

    No model is called when the meta-verifier reads no verification (a policy on the
    answer's free signals, or a fixed fallback): the attempt then carries no verifier
    fields and costs no verification.
    """
    ctx = _context(runtime, config)
    if not ctx.meta_verifier.reads_verifier():
        return {}
    attempt = state["attempts"][-1]
    try:
        checked = _call_with_timeout(
            lambda: verify_attempt(
                attempt,
                ctx.models[attempt.tier],
                question=state["question"],
                context=state.get("context"),
                settings=_query_verifier(ctx, state, attempt.tier),
                config=_tagged(config, "self_verify", hidden=True, publish=ctx.publish),
            ),
            ctx.timeout(attempt.tier),
        )
    except TimeoutError:
        timed_out = _unverified(ctx, attempt.tier, _timed_out(ctx, attempt.tier, "verify"))
        checked = verified(attempt, timed_out, method=ctx.verifier.method)
    return _replace_last(state, _priced_verification(ctx, attempt, checked))


async def aself_verify(
    state: AutoMixState, config: RunnableConfig, runtime: Runtime[Any]
) -> dict[str, Any]:
    """Async twin of :func:`self_verify`."""
    ctx = _context(runtime, config)
    if not ctx.meta_verifier.reads_verifier():
        return {}
    attempt = state["attempts"][-1]
    try:
        checked = await _await_with_timeout(
            averify_attempt(
                attempt,
                ctx.models[attempt.tier],
                question=state["question"],
                context=state.get("context"),
                settings=_query_verifier(ctx, state, attempt.tier),
                config=_tagged(config, "self_verify", hidden=True, publish=ctx.publish),
            ),
            ctx.timeout(attempt.tier),
        )
    except (TimeoutError, asyncio.TimeoutError):
        timed_out = _unverified(ctx, attempt.tier, _timed_out(ctx, attempt.tier, "verify"))
        checked = verified(attempt, timed_out, method=ctx.verifier.method)
    return _replace_last(state, _priced_verification(ctx, attempt, checked))


def _decided(state: AutoMixState, config: RunnableConfig, runtime: Runtime[Any]) -> dict[str, Any]:
    ctx = _context(runtime, config)
    current = state["attempts"][-1]
    target = ctx.meta_verifier.target_tier(_observation(ctx, state))
    explored = target == current.tier and _explores(ctx, state, current.tier)
    if explored:  # accepted, escalated anyway: observe the next tier's answer
        target = current.tier + 1
    attempt = current.model_copy(
        update={
            "decision": "accept" if target == current.tier else "escalate",
            "escalate_to": target if target > current.tier + 1 else None,
            "meta_verifier": ctx.meta_verifier.describe(),
            "explored": explored,
            "explore_rate": ctx.explore or None,
        }
    )
    update = _replace_last(state, attempt)
    if ctx.publish and attempt.decision == "accept":
        update.update(_finished(ctx, update["attempts"]))
    return update


def _explores(ctx: AutoMixContext, state: AutoMixState, tier: int) -> bool:
    """Whether this query is one of the ``explore`` share escalated despite an accept.

    A hash of the question, context, tier, ``explore_seed`` and the number of times the
    same question was accepted at this tier before (``ctx.explore_seen``): independent of
    the answers and the verifier, reproducible for a fresh runnable fed the same queries,
    and drawn anew for every repeat, so a question asked a thousand times is explored on
    about ``explore`` of them (a hash of the text alone explores all or none, which
    breaks the cost bound and the inverse-propensity weights for frequent questions).
    """
    if ctx.explore <= 0.0 or tier >= ctx.n_tiers - 1:
        return False
    key = f"{ctx.explore_seed}|{tier}|{state['question']}|{state.get('context') or ''}"
    repeat = ctx.explore_seen.next(key)
    if repeat:  # a first occurrence draws as it always did
        key = f"{key}|{repeat}"
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) / 2**32 < ctx.explore


def _announcer() -> RunnableLambda[Any, Any]:
    """A run named like the node, whose output is the kept answer's message.

    LangGraph's ``messages`` stream shows the messages a run named after its node
    returns; announcing only the message (the node itself is not traced) keeps the
    attempts, with any rejected answer, out of the server's ``events`` stream too.
    """

    def announce(message: Any) -> dict[str, Any]:
        return {"message": message}

    return RunnableLambda(announce, name="meta_decide")


def meta_decide(
    state: AutoMixState, config: RunnableConfig, runtime: Runtime[Any]
) -> dict[str, Any]:
    """The meta-verifier keeps the answer, escalates, or skips to a higher tier."""
    update = _decided(state, config, runtime)
    if "message" in update:
        _announcer().invoke(update["message"], config)
    return update


async def ameta_decide(
    state: AutoMixState, config: RunnableConfig, runtime: Runtime[Any]
) -> dict[str, Any]:
    """Async twin of :func:`meta_decide` (decisions are CPU-only)."""
    update = _decided(state, config, runtime)
    if "message" in update:
        await _announcer().ainvoke(update["message"], config)
    return update


# --- routers -------------------------------------------------------------------------------


def route_at_start(
    state: AutoMixState, config: RunnableConfig, runtime: Runtime[Any]
) -> Literal["solve_small", "solve_large"]:
    """Start at the first tier, or higher when the meta-verifier never keeps its answer."""
    return "solve_large" if _start_tier(_context(runtime, config)) > 0 else "solve_small"


def route_after_solve_small(state: AutoMixState) -> Literal["self_verify", "solve_large"]:
    """Verify the small answer, or escalate at once when the small call failed."""
    return "solve_large" if state["attempts"][-1].error is not None else "self_verify"


def route_after_meta_decide(state: AutoMixState) -> Literal["escalate / skip", "accept"]:
    """Escalate (to the next tier or the chosen one) or finish with the accepted answer."""
    return "escalate / skip" if state["attempts"][-1].decision == "escalate" else "accept"


def route_after_solve_large(
    state: AutoMixState, config: RunnableConfig, runtime: Runtime[Any]
) -> Literal["self_verify", "solve_large", "__end__"]:
    """Finish at the last tier; otherwise verify this tier (or skip it if it failed)."""
    ctx = _context(runtime, config)
    if state["tier"] >= ctx.n_tiers - 1:
        return "__end__"
    return "solve_large" if state["attempts"][-1].error is not None else "self_verify"


# --- graph ---------------------------------------------------------------------------------


def compile_automix_graph(
    *,
    resolve: ContextResolver | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    name: str = GRAPH_NAME,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile the AutoMix ``StateGraph``: the one place its topology is written down.

    Args:
        resolve: for a graph built with its models (see
            :func:`~langchain_automix.runtime.factory.create_automix_graph`): turns a run's
            context (None, or JSON knobs such as ``{"threshold": 0.7}``) into its
            :class:`AutoMixContext`. The graph then takes :class:`RunKnobs` as its context
            and returns :class:`OutputState` (answer, trace, message). None: every run
            passes its ``AutoMixContext`` and gets the whole state back (attempts included).
        checkpointer: saves the state after every node (durable runs).
        name: the compiled graph's name.
    """
    builder = StateGraph(
        AutoMixState if resolve is None else PublishedState,
        context_schema=AutoMixContext if resolve is None else RunKnobs,
        input_schema=InputState,
        output_schema=AutoMixState if resolve is None else OutputState,
    )
    builder.add_node("solve_small", _node("solve_small", solve_small, asolve_small))
    builder.add_node("self_verify", _node("self_verify", self_verify, aself_verify))
    builder.add_node("meta_decide", _node("meta_decide", meta_decide, ameta_decide))
    builder.add_node("solve_large", _node("solve_large", solve_large, asolve_large))
    builder.add_conditional_edges(START, *_router(route_at_start))
    builder.add_conditional_edges("solve_small", *_router(route_after_solve_small))
    builder.add_edge("self_verify", "meta_decide")
    meta_router, _ = _router(route_after_meta_decide)
    builder.add_conditional_edges(
        "meta_decide", meta_router, {"escalate / skip": "solve_large", "accept": END}
    )
    builder.add_conditional_edges("solve_large", *_router(route_after_solve_large))
    graph = builder.compile(name=name, checkpointer=checkpointer)
    if resolve is not None:
        # ``updates`` streams only the output keys too: a node's attempt (a rejected
        # answer, verifier samples) is shown once the run ends, in the trace
        graph = graph.copy(update={"stream_channels": graph.output_channels})
        graph = graph.with_config(configurable={RESOLVER_KEY: resolve})
    return graph


@lru_cache(maxsize=1)
def build_automix_graph() -> CompiledStateGraph[Any, Any, Any, Any]:
    """The compiled AutoMix graph shared by every ``AutoMixRunnable`` (built once).

    The topology does not depend on the models: they, the meta-verifier and the
    settings are passed per run as the graph's ``context``
    (:class:`~langchain_automix.runtime.context.AutoMixContext`). For a graph that holds
    its models (the LangGraph server, ``graph.invoke({"question": ...})``), see
    :func:`~langchain_automix.runtime.factory.create_automix_graph`.

    Example:
        >>> graph = build_automix_graph()
        >>> graph.name, sorted(n for n in graph.get_graph().nodes if not n.startswith("__"))
        ('AutoMix', ['meta_decide', 'self_verify', 'solve_large', 'solve_small'])
    """
    return compile_automix_graph()


def _partial_result(ctx: AutoMixContext, attempts: list[TierAttempt]) -> AutoMixResult:
    """A result made of the attempts so far (the last succeeded answer, if any)."""
    answered = [a for a in attempts if a.answer is not None]
    last = answered[-1] if answered else attempts[-1]
    money = [a.money for a in attempts if a.money is not None]
    return AutoMixResult(
        answer=last.answer or "",
        answered_by=last.tier,
        answered_by_model=last.model,
        escalated=len(attempts) > 1,
        n_tiers=ctx.n_tiers,
        attempts=attempts,
        total_cost=sum(a.cost for a in attempts),
        total_money=sum(money) if money else None,
        usage=sum_usage(u for a in attempts for u in (a.usage, a.verify_usage)),
    )


def result_from_state(ctx: AutoMixContext, state: AutoMixState) -> AutoMixResult:
    """Turn the graph's final state into an :class:`AutoMixResult`."""
    return _partial_result(ctx, state["attempts"])
