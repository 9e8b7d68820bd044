"""``ChatAutoMix``: the AutoMix graph as a LangChain chat model (messages in, ``AIMessage`` out).

``ChatAutoMix`` runs the same compiled graph as
:class:`~langchain_automix.runtime.runnable.AutoMixRunnable` (it wraps one), so routing,
verification, costs, timeouts and the trace are the runnable's. What it adds is the
mapping from a conversation to AutoMix's *(context, question)* pair, and tools:

* **Question**: the text of the last human message.
* **Context**: the text of the system messages, then the ``context`` call argument
  (a string, a ``Document`` or a list of them), then a ``Conversation so far:``
  section with every other message in order (earlier turns, and the tool calls and
  tool results after the question in an agent loop), one line per message
  (``User: ...``, ``Assistant: ...``, ``Assistant called tool NAME with ARGS``,
  ``Tool NAME returned: ...``). Each line is neutralised like any untrusted text
  (:func:`~langchain_automix.runtime.sanitize.neutralize`, folded onto one line), so a turn
  cannot forge another turn, a verifier field or a verdict. See
  :func:`conversation_query`.
* **Solving**: by default each tier gets the conversation *as given* (system
  messages, history, tool messages in their native form), with the bound tools. With
  ``solve_prompt`` set, each tier gets that prompt instead, rendered with the
  context above (history included) and the question, like ``AutoMixRunnable``.
* **Verifying**: the paper's entailment prompt with that context and question, and
  the tier's answer; the verifier is never given tools.

Tool calls (see :data:`ToolCallPolicy`): an answer that calls tools cannot be checked
by the entailment prompt. With ``tool_calls="escalate"`` (default) a non-final tier's
tool-call answer escalates at once (the attempt records a
:class:`ToolCallEscalation` error, no verification is spent); with ``"accept"`` it is
kept without verification. The final tier's answer is always kept.

Structured output (:meth:`ChatAutoMix.with_structured_output`): the schema is bound
as a tool that every tier must call; a non-final tier's call is parsed and validated
against the schema first. When it does not parse, the query escalates (a
:class:`StructuredOutputInvalid` error in the trace); when it does, its arguments
(as JSON) are the answer that is verified and routed like any answer.
"""

from __future__ import annotations

import contextlib
import json
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from operator import itemgetter
from typing import Any, Literal, cast

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    AsyncRunManager,
    CallbackManager,
    CallbackManagerForLLMRun,
    RunManager,
)
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    message_chunk_to_message,
)
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.prompts import BasePromptTemplate, ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import (
    Runnable,
    RunnableBinding,
    RunnableConfig,
    RunnableMap,
    RunnablePassthrough,
    ensure_config,
)
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator

from langchain_automix._model_utils import message_text, supported_kwargs
from langchain_automix.errors import AutoMixError, AutoMixInputError
from langchain_automix.meta_verifiers.base import MetaVerifier, Observation, Target
from langchain_automix.runtime.context import AutoMixContext
from langchain_automix.runtime.driver import (
    DROPPED_METADATA,
    adrive,
    adrive_to_result,
    drive,
    drive_to_result,
)
from langchain_automix.runtime.durable import check_batch_threads, thread_config
from langchain_automix.runtime.result import TRACE_KEY, AutoMixResult
from langchain_automix.runtime.runnable import AutoMixRunnable, coerce_input
from langchain_automix.runtime.sanitize import neutralize
from langchain_automix.runtime.state import InputState

__all__ = [
    "HISTORY_HEADER",
    "ChatAutoMix",
    "StructuredOutputInvalid",
    "ToolCallEscalation",
    "ToolCallPolicy",
    "conversation_query",
]

ToolCallPolicy = Literal["escalate", "accept"]
"""What a non-final tier's tool-call answer does: ``escalate`` (ask the next tier) or
``accept`` (keep it without verification)."""

_THREAD_KWARG = "automix_thread_id"
"""Call kwarg that carries a durable call's thread id from :meth:`ChatAutoMix.invoke` to
the graph (a chat model's ``_generate`` is not given the call's ``configurable``)."""

_STREAM_KWARG = "automix_stream_run"
"""Call kwarg that names a stream's run, from :meth:`ChatAutoMix.stream` to ``_stream``:
``BaseChatModel.stream`` does not give ``_stream`` its run manager, so the graph finds the
stream's callbacks (LangSmith, OpenTelemetry, ...) and its parent run by this name."""

HISTORY_HEADER = "Conversation so far:"
"""Heading of the conversation section that closes the context."""

_SCHEMA_KWARG = "automix_schema"
"""Call kwarg (bound by ``with_structured_output``) that carries the output schema."""


class ToolCallEscalation(AutoMixError):
    """A non-final tier answered with tool calls and ``tool_calls="escalate"``.

    Recorded as the attempt's error in the trace; the query goes to the next tier.
    """


class StructuredOutputInvalid(AutoMixError):
    """A non-final tier's structured output did not parse against the schema.

    Recorded as the attempt's error in the trace; the query goes to the next tier.
    """


# --- conversation -> (question, context) ----------------------------------------------------


def _line(text: str) -> str:
    return neutralize(text, single_line=True)


def _turn_lines(message: BaseMessage) -> list[str]:
    text = _line(message_text(message))
    if isinstance(message, HumanMessage):
        return [f"User: {text}"] if text else []
    if isinstance(message, AIMessage):
        lines = [f"Assistant: {text}"] if text else []
        for call in message.tool_calls:
            args = _line(json.dumps(call["args"], ensure_ascii=False, sort_keys=True))
            lines.append(f"Assistant called tool {_line(call['name'])} with {args}")
        return lines
    if isinstance(message, ToolMessage):
        name = _line(message.name or message.tool_call_id)
        verb = "failed" if message.status == "error" else "returned"
        return [f"Tool {name} {verb}: {text}"]
    role = _line(getattr(message, "role", None) or message.type).capitalize()
    return [f"{role}: {text}"] if text else []


def conversation_query(messages: Sequence[BaseMessage], context: Any = None) -> dict[str, Any]:
    """The AutoMix ``{"question", "context"}`` of a conversation.

    The question is the text of the last human message. The context is, in order and
    separated by blank lines: the text of the system messages, ``context`` (a string,
    a ``Document`` or a list of them) and a :data:`HISTORY_HEADER` section with every
    other message, one neutralised line each.

    Raises:
        AutoMixInputError: when no human message holds a question.

    Example:
        >>> from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
        >>> q = conversation_query([
        ...     SystemMessage("Hamlet is a tragedy by Shakespeare."),
        ...     HumanMessage("Who wrote Hamlet?"), AIMessage("Shakespeare."),
        ...     HumanMessage("When was he born?")])
        >>> q["question"]
        'When was he born?'
        >>> print(q["context"])
        Hamlet is a tragedy by Shakespeare.
        <BLANKLINE>
        Conversation so far:
        User: Who wrote Hamlet?
        Assistant: Shakespeare.
    """
    last = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=None)
    if last is None:
        raise AutoMixInputError(
            "messages", "no human message: ChatAutoMix answers the last human message"
        )
    system = [message_text(m) for m in messages if isinstance(m, SystemMessage)]
    history = [
        line
        for i, m in enumerate(messages)
        if i != last and not isinstance(m, SystemMessage)
        for line in _turn_lines(m)
    ]
    parts = [text for text in system if text.strip()]
    if context is not None:
        docs = coerce_input({"question": "?", "context": context}, max_context_chars=sys.maxsize)
        parts.append(docs["context"] or "")
    if history:
        parts.append(HISTORY_HEADER + "\n" + "\n".join(history))
    return {
        "question": message_text(messages[last]),
        "context": "\n\n".join(p for p in parts if p) or None,
    }


# --- one call's tiers -----------------------------------------------------------------------


def _is_solve(config: RunnableConfig | None) -> bool:
    """Whether a tier call is an answer call (``solving.solve`` names its runs ``solve``)."""
    return bool(config) and cast(dict, config).get("run_name") == "solve"


def _tool_calls_text(message: AIMessage) -> str:
    calls = [
        f"{c['name']}({json.dumps(c['args'], ensure_ascii=False, sort_keys=True)})"
        for c in message.tool_calls
    ] + [f"{c.get('name')}(<invalid: {c.get('args')}>)" for c in message.invalid_tool_calls]
    text = message_text(message).strip()
    return " ".join([*([text] if text else []), *calls])


def _stand_in(message: AIMessage, text: str) -> AIMessage:
    """What the graph sees of a tier's answer: ``text``, with the call's usage and logprobs."""
    return AIMessage(
        content=text,
        usage_metadata=message.usage_metadata,
        response_metadata=message.response_metadata,
    )


@dataclass
class _Call:
    """The tiers' view of one ``ChatAutoMix`` call: solvers, policy, raw answers."""

    solvers: list[Runnable[Any, Any]]
    names: tuple[str, ...]
    policy: ToolCallPolicy
    parser: Runnable[Any, Any] | None = None
    raw: dict[int, AIMessage] = field(default_factory=dict)
    accepted_tool_calls: set[int] = field(default_factory=set)
    last_tier: int = 0

    def after_solve(self, tier: int, message: Any) -> AIMessage:
        """Record a tier's raw answer and return what the graph should route on."""
        msg = message if isinstance(message, AIMessage) else AIMessage(content=str(message))
        self.raw[tier] = msg
        self.last_tier = tier
        final = tier == len(self.solvers) - 1
        if self.parser is not None:
            try:
                parsed = self.parser.invoke(msg)
                if parsed is None:
                    raise ValueError("the model called no tool")
            except Exception as exc:
                if final:  # the caller's parser reports it
                    return _stand_in(msg, _tool_calls_text(msg))
                raise StructuredOutputInvalid(
                    f"tier {self.names[tier]!r} returned output that does not parse "
                    f"against the schema: {exc}"
                ) from exc
            data = parsed.model_dump(mode="json") if isinstance(parsed, BaseModel) else parsed
            return _stand_in(msg, json.dumps(data, ensure_ascii=False, sort_keys=True))
        if not (msg.tool_calls or msg.invalid_tool_calls):
            return msg
        text = _tool_calls_text(msg)
        if final:
            return _stand_in(msg, text)
        if self.policy == "escalate" or msg.invalid_tool_calls:
            raise ToolCallEscalation(
                f"tier {self.names[tier]!r} answered with tool calls ({text}); "
                "tool calls are not verifiable, so the next tier is asked "
                "(tool_calls='escalate')"
            )
        self.accepted_tool_calls.add(tier)
        return _stand_in(msg, text)


class _Tier(RunnableBinding[Any, Any]):  # type: ignore[no-redef]  # pydantic plugin vs **kwargs
    """One tier inside one ``ChatAutoMix`` call.

    Answer calls go to the tier's solver (the model with the call's tools and
    options) and are recorded; every other call (verification) goes to the plain
    model. ``as_chat_model`` sees the plain model through it, so verification keeps
    its sampling options and its one ``n=k`` request.
    """

    automix_tier: int = 0
    automix_call: Any = None

    def bind(self, **kwargs: Any) -> Runnable[Any, Any]:
        """Bindings are for verification calls: the plain model with ``kwargs``."""
        return RunnableBinding(bound=self.bound, kwargs={**self.kwargs, **kwargs})

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Answer through the solver, or verify through the plain model."""
        if not _is_solve(config):
            return super().invoke(input, config, **kwargs)
        call = cast(_Call, self.automix_call)
        return call.after_solve(
            self.automix_tier, call.solvers[self.automix_tier].invoke(input, config, **kwargs)
        )

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Async twin of :meth:`invoke`."""
        if not _is_solve(config):
            return await super().ainvoke(input, config, **kwargs)
        call = cast(_Call, self.automix_call)
        out = await call.solvers[self.automix_tier].ainvoke(input, config, **kwargs)
        return call.after_solve(self.automix_tier, out)

    def stream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[Any]:
        """Stream the final tier's answer (tool-call chunks included) and record it."""
        if not _is_solve(config):
            yield from super().stream(input, config, **kwargs)
            return
        call = cast(_Call, self.automix_call)
        full: Any = None
        for chunk in call.solvers[self.automix_tier].stream(input, config, **kwargs):
            full = chunk if full is None else full + chunk
            yield chunk
        call.after_solve(self.automix_tier, _whole(full))

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        """Async twin of :meth:`stream`."""
        if not _is_solve(config):
            async for chunk in super().astream(input, config, **kwargs):
                yield chunk
            return
        call = cast(_Call, self.automix_call)
        full: Any = None
        async for chunk in call.solvers[self.automix_tier].astream(input, config, **kwargs):
            full = chunk if full is None else full + chunk
            yield chunk
        call.after_solve(self.automix_tier, _whole(full))


def _whole(full: Any) -> AIMessage:
    if isinstance(full, AIMessageChunk):
        msg = message_chunk_to_message(full.model_copy(update={"chunk_position": "last"}))
        return msg if isinstance(msg, AIMessage) else AIMessage(content=msg.content)
    return full if isinstance(full, AIMessage) else AIMessage(content="" if full is None else full)


class _AcceptToolCalls(MetaVerifier):
    """``tool_calls="accept"``: keep a tool-call answer unverified; else the inner policy."""

    name = "tool_calls_accept"

    def __init__(self, inner: MetaVerifier, call: _Call) -> None:
        self.inner = inner
        self.call = call
        self.provenance = inner.provenance

    def _tool_answer(self, tier: int) -> bool:
        return tier in self.call.accepted_tool_calls

    def decide(self, observation: Observation) -> Target:
        """Accept a tool-call answer; otherwise ask the inner policy."""
        if self._tool_answer(observation.tier):
            return "accept"
        return self.inner.decide(observation)

    def describe(self) -> str:
        """The inner policy's description, or the tool-call rule that decided."""
        if self._tool_answer(self.call.last_tier):
            return "tool_calls='accept'"
        return self.inner.describe()

    def reads_verifier(self) -> bool:
        """No verification of a tool-call answer (the graph asks before verifying)."""
        if self._tool_answer(self.call.last_tier):
            return False
        return self.inner.reads_verifier()


# --- the chat model -------------------------------------------------------------------------


class ChatAutoMix(BaseChatModel):
    """AutoMix as a chat model: small tier answers, verifies itself, escalates if needed.

    Wraps an :class:`~langchain_automix.runtime.runnable.AutoMixRunnable` (built from the
    same keyword arguments when not given) and runs its graph on a conversation; see
    the module docstring (and ``docs/chat-model.md``) for how the conversation becomes
    the solve and verify prompts and how tools and structured output are routed.

    The output ``AIMessage`` carries the answering tier's content and tool calls, the
    routing trace in ``response_metadata["automix"]`` (the shape of
    ``AutoMixRunnable``'s), ``response_metadata["model_name"]`` (the answering tier)
    and ``usage_metadata`` summed over every call (answers and verifications).

    Instantiate:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> small = FakeListChatModel(responses=[
        ...     "Shakespeare", "Verification Decision: The AI generated answer is Correct."])
        >>> large = FakeListChatModel(responses=["William Shakespeare"])
        >>> chat = ChatAutoMix(models=[small, large], num_verifications=1)

    Invoke:
        >>> from langchain_core.messages import HumanMessage, SystemMessage
        >>> msg = chat.invoke([SystemMessage("Hamlet is a tragedy by Shakespeare."),
        ...                    HumanMessage("Who wrote Hamlet?")])
        >>> msg.content, msg.response_metadata["automix"]["answered_by"]
        ('Shakespeare', 0)

    Stream:
        Nothing of a tier is emitted before it is accepted; after an escalation the
        final tier's tokens stream as they arrive; the last chunk carries the trace.

    Tools:
        ``chat.bind_tools([...])`` binds the tools to every tier's answer call (never
        to verification); ``tool_calls`` decides what a small tier's tool call does.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    _stream_configs: dict[str, RunnableConfig] = PrivateAttr(default_factory=dict)

    automix: AutoMixRunnable
    """The wrapped runnable: tiers, meta-verifier, verification settings, costs."""
    tool_calls: ToolCallPolicy = "escalate"
    """What a non-final tier's tool-call answer does (see :data:`ToolCallPolicy`)."""
    solve_prompt: BasePromptTemplate | None = None
    """None: each tier answers the conversation as given. A prompt (variables
    ``context`` and ``question``, e.g. ``DEFAULT_SOLVE_PROMPT``): each tier answers it,
    rendered with the conversation's context (history included) and question."""
    temperature: float | None = None
    """Sampling temperature of the answer calls (tiers that take one); verification
    keeps its own (``verifier_temperature``)."""
    max_tokens: int | None = None
    """Length cap of the answer calls (tiers that take one)."""
    stop: list[str] | None = None
    """Stop sequences of the answer calls."""

    @model_validator(mode="before")
    @classmethod
    def _build_automix(cls, data: Any) -> Any:
        """Build the wrapped ``AutoMixRunnable`` from its own keyword arguments."""
        if not isinstance(data, dict) or "automix" in data:
            return data
        own = set(cls.model_fields)
        runnable_args = {
            k: data[k] for k in AutoMixRunnable.model_fields if k in data and k not in own
        }
        rest = {k: v for k, v in data.items() if k not in runnable_args}
        return {**rest, "automix": AutoMixRunnable(**runnable_args)}

    @model_validator(mode="after")
    def _check_prompt(self) -> ChatAutoMix:
        if self.solve_prompt is not None:
            extra = set(self.solve_prompt.input_variables) - {"context", "question"}
            if extra:
                raise ValueError(
                    "solve_prompt may only use the variables ['context', 'question']; "
                    f"it also uses {sorted(extra)}"
                )
        return self

    @property
    def models(self) -> list[Runnable[Any, Any]]:
        """The tiers, cheapest first."""
        return self.automix.models

    @property
    def _llm_type(self) -> str:
        return "automix"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        ctx = self.automix.context
        return {
            "models": list(ctx.model_names),
            "meta_verifier": ctx.meta_verifier.describe(),
            "verification": self.automix.verification,
            "num_verifications": self.automix.num_verifications,
            "tool_calls": self.tool_calls,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        model = kwargs.get("model")
        params = LangSmithParams(
            ls_provider="automix",
            ls_model_name=model
            if isinstance(model, str)
            else "->".join(self.automix.context.model_names),
            ls_model_type="chat",
        )
        if self.temperature is not None:
            params["ls_temperature"] = self.temperature
        if self.max_tokens is not None:
            params["ls_max_tokens"] = self.max_tokens
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    # --- tools -----------------------------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Any],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools to every tier's answer call (as OpenAI tool schemas).

        Args:
            tools: tools, functions, Pydantic models or tool schemas.
            tool_choice: passed to each tier's ``bind_tools`` (e.g. ``"any"``).
            **kwargs: further call options for the tiers' answer calls.
        """
        formatted = [convert_to_openai_tool(t) for t in tools]
        if tool_choice is not None and tool_choice is not False:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """The model's output parsed into ``schema`` (the schema is a tool every tier calls).

        A non-final tier's output that does not parse against ``schema`` escalates; one
        that parses is verified (as JSON) and routed like any answer. ``method``
        ``"json_mode"`` and ``"json_schema"`` are served by tool calling too, as by
        ``BaseChatModel``; ``strict`` is ignored.

        Args:
            schema: a Pydantic class (output validated into it), a TypedDict, or a JSON
                or OpenAI tool schema (output is a dict with its required keys).
            include_raw: return ``{"raw", "parsed", "parsing_error"}``.
            **kwargs: ``method`` and ``strict``, accepted for compatibility.
        """
        kwargs.pop("method", None)
        kwargs.pop("strict", None)
        if kwargs:
            raise ValueError(f"Received unsupported arguments {kwargs}")
        llm = self.bind_tools(
            [schema],
            tool_choice="any",
            ls_structured_output_format={
                "kwargs": {"method": "function_calling"},
                "schema": schema,
            },
            **{_SCHEMA_KWARG: schema},
        )
        parser = _schema_parser(schema)
        if include_raw:
            parser_assign = RunnablePassthrough.assign(
                parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
            )
            parser_none = RunnablePassthrough.assign(parsed=lambda _: None)
            with_fallback = parser_assign.with_fallbacks(
                [parser_none], exception_key="parsing_error"
            )
            return RunnableMap(raw=llm) | with_fallback
        return llm | parser

    # --- one call --------------------------------------------------------------------------

    def _prepare(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        kwargs: dict[str, Any],
        *,
        stream: bool,
    ) -> tuple[InputState, AutoMixContext, _Call]:
        kwargs = dict(kwargs)
        if "model" in kwargs:
            raise ValueError(
                "ChatAutoMix routes between its tiers; a per-call `model` is not supported"
            )
        tools = kwargs.pop("tools", None)
        tool_choice = kwargs.pop("tool_choice", None)
        schema = kwargs.pop(_SCHEMA_KWARG, None)
        query = conversation_query(messages, kwargs.pop("context", None))
        state = coerce_input(
            query,
            max_context_chars=self.automix.max_context_chars,
            max_question_chars=self.automix.max_question_chars,
        )
        base = self.automix.context
        stops = stop if stop is not None else self.stop
        solvers: list[Runnable[Any, Any]] = []
        for i, model in enumerate(base.models):
            solver: Runnable[Any, Any] = model
            if tools:
                bind_tools = getattr(model, "bind_tools", None)
                if bind_tools is None:
                    raise ValueError(f"tier {base.model_names[i]!r} cannot bind tools")
                extra = {} if tool_choice is None else {"tool_choice": tool_choice}
                solver = bind_tools(tools, **extra)
            options = {
                **supported_kwargs(
                    model, {"temperature": self.temperature, "max_tokens": self.max_tokens}
                ),
                **({"stop": stops} if stops else {}),
                **kwargs,
            }
            if options:
                solver = solver.bind(**options)
            solvers.append(solver)
        call = _Call(
            solvers=solvers,
            names=base.model_names,
            policy=self.tool_calls,
            parser=None if schema is None else _schema_parser(schema),
        )
        tiers = tuple(
            _Tier(bound=model, kwargs={}, automix_tier=i, automix_call=call)
            for i, model in enumerate(base.models)
        )
        meta_verifier: MetaVerifier = base.meta_verifier
        if tools and schema is None and self.tool_calls == "accept":
            meta_verifier = _AcceptToolCalls(base.meta_verifier, call)
        prompt = self.solve_prompt or ChatPromptTemplate.from_messages(
            [MessagesPlaceholder("conversation")]
        ).partial(conversation=list(messages))
        ctx = replace(
            base,
            models=tiers,
            meta_verifier=meta_verifier,
            solve_prompt=prompt,
            stream_final=stream,
        )
        return state, ctx, call

    def _message(self, result: AutoMixResult, call: _Call) -> AIMessage:
        raw = call.raw.get(result.answered_by)
        if raw is None:
            raw = AIMessage(content=result.answer)
        return AIMessage(
            content=raw.content,
            tool_calls=raw.tool_calls,
            invalid_tool_calls=raw.invalid_tool_calls,
            response_metadata=self._metadata(raw.response_metadata, result),
            usage_metadata=cast(Any, result.usage),
        )

    def _metadata(self, tier_metadata: dict[str, Any], result: AutoMixResult) -> dict[str, Any]:
        kept = {k: v for k, v in tier_metadata.items() if k not in DROPPED_METADATA}
        return {**kept, "model_name": result.answered_by_model, TRACE_KEY: result.trace()}

    def _config(
        self,
        run_manager: RunManager | AsyncRunManager | None,
        thread_id: str | None = None,
        stream_run: str | None = None,
    ) -> RunnableConfig:
        """The graph's config: its run is a child of this model's run, same handlers.

        ``thread_id``: the durable thread named by the call's config (see :meth:`invoke`).
        ``stream_run``: a stream's run (no ``run_manager`` then), named by :meth:`stream`.
        """
        config: RunnableConfig = {}
        if thread_id is not None:
            config["configurable"] = {"thread_id": thread_id}
        outer: RunManager | AsyncRunManager | CallbackManager | None = run_manager
        parent = None if run_manager is None else run_manager.run_id
        call = None if stream_run is None else self._stream_configs.pop(stream_run, None)
        if outer is None and call is not None:  # the handlers ``stream`` gave its own run
            outer = CallbackManager.configure(
                call.get("callbacks"),
                self.callbacks,
                self.verbose,
                call.get("tags"),
                self.tags,
                call.get("metadata"),
                self.metadata,
            )
            parent = uuid.UUID(stream_run)
        if outer is None:
            return config
        manager = CallbackManager(handlers=[], parent_run_id=parent)
        manager.set_handlers(outer.inheritable_handlers)
        manager.add_tags(outer.inheritable_tags)
        manager.add_metadata(outer.inheritable_metadata)
        config["callbacks"] = manager
        return config

    def _streamed(
        self, config: RunnableConfig | None, kwargs: dict[str, Any]
    ) -> tuple[RunnableConfig, dict[str, Any], str]:
        """A stream's config with its run id, its kwargs naming that run, and the name.

        Its callbacks are kept under the name until ``_stream`` builds the graph's
        config from them (see :data:`_STREAM_KWARG`).
        """
        cfg = ensure_config(config)
        run_id = cfg.get("run_id") or uuid.uuid4()
        cfg["run_id"] = run_id
        name = str(run_id)
        self._stream_configs[name] = cfg
        return cfg, {**self._threaded(config, kwargs), _STREAM_KWARG: name}, name

    def _threaded(self, config: RunnableConfig | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's kwargs, carrying the durable thread id of ``config`` to the graph.

        A chat model's ``_generate`` and ``_stream`` get the call's kwargs but not its
        ``configurable``; with a checkpointer, the thread id travels as a kwarg.
        """
        if self.automix.checkpointer is None or not config:
            return kwargs
        if not (config.get("configurable") or {}).get("thread_id"):
            return kwargs
        return {**kwargs, _THREAD_KWARG: thread_config(config)[1]}

    def invoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        """Answer a conversation (see the class docstring).

        With a ``checkpointer``, ``config={"configurable": {"thread_id": ...}}`` names the
        durable run (a retried call resumes or replays it); without a thread id, each call
        gets a new thread, named in the trace.
        """
        return super().invoke(input, config, stop=stop, **self._threaded(config, kwargs))

    async def ainvoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        """Async twin of :meth:`invoke`."""
        return await super().ainvoke(input, config, stop=stop, **self._threaded(config, kwargs))

    def batch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[AIMessage]:
        """Answer many conversations (see :meth:`invoke`).

        With a ``checkpointer``, configs that give one thread id to two different
        conversations are refused before any model is called.
        """
        self._check_batch(inputs, config, return_exceptions)
        return super().batch(inputs, config, return_exceptions=return_exceptions, **kwargs)

    async def abatch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[AIMessage]:
        """Async twin of :meth:`batch`."""
        self._check_batch(inputs, config, return_exceptions)
        return await super().abatch(inputs, config, return_exceptions=return_exceptions, **kwargs)

    def _check_batch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None,
        return_exceptions: bool,
    ) -> None:
        if self.automix.checkpointer is None or return_exceptions:
            return
        check_batch_threads([self._convert_input(x).to_messages() for x in inputs], config)

    def stream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        """Stream the accepted answer (see :meth:`invoke` for durable runs)."""
        cfg, call_kwargs, name = self._streamed(config, kwargs)
        try:
            yield from super().stream(input, cfg, stop=stop, **call_kwargs)
        finally:
            self._stream_configs.pop(name, None)

    async def astream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        """Async twin of :meth:`stream`."""
        cfg, call_kwargs, name = self._streamed(config, kwargs)
        try:
            async for chunk in super().astream(input, cfg, stop=stop, **call_kwargs):
                yield chunk
        finally:
            self._stream_configs.pop(name, None)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        thread_id = kwargs.pop(_THREAD_KWARG, None)
        kwargs.pop(_STREAM_KWARG, None)  # a stream run as invoke: run_manager is given
        state, ctx, call = self._prepare(messages, stop, kwargs, stream=False)
        events = drive(self.automix.graph, state, self._config(run_manager, thread_id), ctx)
        message = self._message(drive_to_result(events), call)
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        thread_id = kwargs.pop(_THREAD_KWARG, None)
        kwargs.pop(_STREAM_KWARG, None)  # a stream run as invoke: run_manager is given
        state, ctx, call = self._prepare(messages, stop, kwargs, stream=False)
        events = adrive(self.automix.graph, state, self._config(run_manager, thread_id), ctx)
        message = self._message(await adrive_to_result(events), call)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        thread_id = kwargs.pop(_THREAD_KWARG, None)
        config = self._config(run_manager, thread_id, kwargs.pop(_STREAM_KWARG, None))
        state, ctx, call = self._prepare(messages, stop, kwargs, stream=True)
        with contextlib.closing(drive(self.automix.graph, state, config, ctx)) as events:
            for event in events:
                yield from self._chunks(event, call)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        thread_id = kwargs.pop(_THREAD_KWARG, None)
        config = self._config(run_manager, thread_id, kwargs.pop(_STREAM_KWARG, None))
        state, ctx, call = self._prepare(messages, stop, kwargs, stream=True)
        async with contextlib.aclosing(adrive(self.automix.graph, state, config, ctx)) as events:
            async for event in events:
                for chunk in self._chunks(event, call):
                    yield chunk

    def _chunks(
        self, event: AIMessageChunk | AutoMixResult, call: _Call
    ) -> Iterator[ChatGenerationChunk]:
        """A forwarded token of the final tier, or the closing chunks of the result."""
        if isinstance(event, AIMessageChunk):
            yield ChatGenerationChunk(message=event)
        else:
            yield from self._closing(event, call)

    def _closing(self, result: AutoMixResult, call: _Call) -> Iterator[ChatGenerationChunk]:
        """The answer (when a non-final tier's was accepted) and the trace, usage, end."""
        if result.streamed_tier is not None:
            metadata = {"model_name": result.answered_by_model, TRACE_KEY: result.trace()}
        else:
            message = self._message(result, call)
            metadata = message.response_metadata
            yield ChatGenerationChunk(
                message=AIMessageChunk(
                    content=message.content,
                    tool_call_chunks=[
                        tool_call_chunk(
                            name=c["name"], args=json.dumps(c["args"]), id=c["id"], index=i
                        )
                        for i, c in enumerate(message.tool_calls)
                    ],
                )
            )
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                response_metadata=metadata,
                usage_metadata=cast(Any, result.usage),
                chunk_position="last",
            )
        )


def _schema_parser(schema: dict[str, Any] | type) -> Runnable[Any, Any]:
    """The parser of a structured output: Pydantic-validated, or the required keys checked."""
    if isinstance(schema, type) and is_basemodel_subclass(schema):
        return PydanticToolsParser(tools=[schema], first_tool_only=True)
    tool = convert_to_openai_tool(schema)["function"]
    required = set(tool.get("parameters", {}).get("required", []))

    def check(value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError(f"expected a {tool['name']} tool call, got {value!r}")
        missing = required - set(value)
        if missing:
            raise ValueError(f"{tool['name']} is missing required keys {sorted(missing)}")
        return value

    return JsonOutputKeyToolsParser(key_name=tool["name"], first_tool_only=True) | check
