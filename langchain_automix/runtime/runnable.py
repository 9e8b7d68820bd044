"""``AutoMixRunnable``: the AutoMix graph as a drop-in LangChain Runnable."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal, Union, cast

from langchain_core.callbacks import AsyncCallbackManagerForChainRun, CallbackManagerForChainRun
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.prompt_values import PromptValue
from langchain_core.prompts import BasePromptTemplate
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda, RunnableSerializable
from langgraph.checkpoint.base import BaseCheckpointSaver
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from langchain_automix._async_utils import cancellable_stream
from langchain_automix._model_utils import model_name
from langchain_automix.costs import CostModel
from langchain_automix.errors import AutoMixInputError
from langchain_automix.meta_verifiers.base import MetaVerifier
from langchain_automix.meta_verifiers.provenance import check_provenance
from langchain_automix.meta_verifiers.threshold import Threshold
from langchain_automix.prompts import prompt_version
from langchain_automix.runtime.context import AutoMixContext
from langchain_automix.runtime.driver import adrive, adrive_to_result, drive, drive_to_result
from langchain_automix.runtime.durable import SERDE_ALLOWLIST, check_batch_threads
from langchain_automix.runtime.graph import build_automix_graph
from langchain_automix.runtime.result import TRACE_KEY, AutoMixResult
from langchain_automix.runtime.state import AutoMixInput, InputState
from langchain_automix.runtime.verification import (
    DEFAULT_NUM_VERIFICATIONS,
    DEFAULT_VERIFIER_TEMPERATURE,
    VerifierSettings,
    check_grammar_model,
    verify_mode,
)

__all__ = ["AutoMixRunnable", "coerce_input"]

AutoMixInputLike = Union[str, AutoMixInput, Mapping[str, Any], BaseMessage]  # noqa: UP007
"""What ``AutoMixRunnable`` accepts: a question string, ``{"question", "context"}``, ..."""

DEFAULT_THRESHOLD = 0.5
"""Escalate below this verifier confidence when no meta-verifier is given."""


def _context_text(value: Any, max_chars: int) -> str | None:
    if value is None:
        return None
    if isinstance(value, Document):
        value = value.page_content
    elif isinstance(value, Sequence) and not isinstance(value, str):
        parts = []
        for i, item in enumerate(value):
            if isinstance(item, Document):
                parts.append(item.page_content)
            elif isinstance(item, str):
                parts.append(item)
            else:
                raise AutoMixInputError(
                    "context",
                    f"item {i} must be a string or a Document, got {type(item).__name__}",
                )
        value = "\n\n".join(parts)
    if not isinstance(value, str):
        raise AutoMixInputError(
            "context", f"must be a string, a Document or a list of them, got {type(value).__name__}"
        )
    if len(value) > max_chars:
        raise AutoMixInputError(
            "context",
            f"is {len(value):,} characters, over the limit of {max_chars:,} "
            "(raise max_context_chars to allow it)",
        )
    _check_encodable("context", value)
    return value or None


def _check_encodable(field: str, text: str) -> None:
    """Refuse text no model request can carry: a lone UTF-16 surrogate is not UTF-8.

    Without this the first model call fails to encode its request, and a final tier
    reports a failure (a 502) for what is the caller's input.

    Example:
        >>> _check_encodable("question", "café")
        >>> try:
        ...     _check_encodable("question", "bad " + chr(0xD800))
        ... except AutoMixInputError as exc:
        ...     print(exc.field, "lone surrogate" in str(exc))
        question True
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise AutoMixInputError(
            field,
            f"holds a lone surrogate ({text[exc.start]!r} at character {exc.start}), which is "
            "not text any model can be sent",
        ) from None


def coerce_input(
    value: Any, *, max_context_chars: int = 50_000, max_question_chars: int = 8_000
) -> InputState:
    """Validate and normalise one input, raising :class:`AutoMixInputError` on bad input.

    Accepts a question string, an :class:`AutoMixInput`, a mapping with ``question``
    and optional ``context`` (other keys are ignored, as RAG pipelines add some),
    or a message whose text is the question. A context may be a string, a
    ``Document`` or a list of them (joined by blank lines).

    Example:
        >>> coerce_input("Who wrote Hamlet?")
        {'question': 'Who wrote Hamlet?', 'context': None}
        >>> coerce_input({"question": " "})
        Traceback (most recent call last):
        ...
        langchain_automix.errors.AutoMixInputError: question: must not be empty
    """
    context: Any = None
    if isinstance(value, str):
        question: Any = value
    elif isinstance(value, AutoMixInput):
        question, context = value.question, value.context
    elif isinstance(value, BaseMessage):
        question = value.text
    elif isinstance(value, Mapping):
        if "question" not in value:
            raise AutoMixInputError(
                "question", f"is missing from the input (keys: {sorted(map(str, value))})"
            )
        question, context = value["question"], value.get("context")
    else:
        hint = ""
        if isinstance(value, PromptValue) or (
            isinstance(value, Sequence) and value and isinstance(value[0], BaseMessage)
        ):
            hint = (
                "; a chat prompt's messages (as `prompt | AutoMixRunnable(...)` sends) go to "
                "ChatAutoMix, the chat-model form of AutoMix: `prompt | ChatAutoMix(...)`, or "
                "map the prompt's variables to {'question': ..., 'context': ...} instead"
            )
        raise AutoMixInputError(
            "input",
            "expected a question string or a mapping with 'question' and optional 'context', "
            f"got {type(value).__name__}{hint}",
        )
    if not isinstance(question, str):
        raise AutoMixInputError("question", f"must be a string, got {type(question).__name__}")
    if not question.strip():
        raise AutoMixInputError("question", "must not be empty")
    if len(question) > max_question_chars:
        raise AutoMixInputError(
            "question",
            f"is {len(question):,} characters, over the limit of {max_question_chars:,}",
        )
    _check_encodable("question", question)
    return {"question": question, "context": _context_text(context, max_context_chars)}


class AutoMixRunnable(RunnableSerializable[AutoMixInputLike, AIMessage]):
    """AutoMix: a small model answers, verifies itself, and escalates only when needed.

    The query runs through a LangGraph state machine (``solve_small`` ->
    ``self_verify`` -> ``meta_decide`` -> ``solve_large``). The output is an
    ``AIMessage`` with the final answer, the routing trace in
    ``response_metadata["automix"]`` and the summed token usage in
    ``usage_metadata``, so any output parser works after it.

    Setup:
        .. code-block:: bash

            pip install langchain-automix

    Key init args:
        models: chat models, cheapest first (two or more).
        meta_verifier: decides from the verifier confidence; default ``Threshold(0.5)``.
        threshold: the threshold of the default meta-verifier (tunable per request).
        num_verifications: verifier samples ``k`` (default 8, tunable per request).
        costs: unit costs per tier (default 1 and 50) and optional token prices.

    Instantiate:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> small = FakeListChatModel(responses=[
        ...     "Shakespeare",
        ...     "Verification Decision: The AI generated answer is Correct.",
        ... ])
        >>> large = FakeListChatModel(responses=["William Shakespeare"])
        >>> automix = AutoMixRunnable(models=[small, large], num_verifications=1)

    Invoke:
        >>> msg = automix.invoke({"question": "Who wrote Hamlet?",
        ...                       "context": "Hamlet is a tragedy by Shakespeare."})
        >>> msg.content, msg.response_metadata["automix"]["answered_by"]
        ('Shakespeare', 0)

    Stream:
        Nothing of a tier is emitted before it is accepted; when a query escalates,
        the final tier's tokens stream as they arrive. The last chunk carries the
        trace and usage.

        >>> "".join(str(c.content) for c in automix.stream("Who wrote Hamlet?"))
        'Shakespeare'

    Async:
        ``ainvoke``, ``abatch``, ``astream`` and ``astream_events`` mirror the sync API.

    Structured result:
        >>> automix.with_result().invoke("Who wrote Hamlet?").escalated
        False

    Use in RAG:
        .. code-block:: python

            rag = {"context": retriever | format_docs, "question": RunnablePassthrough()}
            chain = rag | automix | StrOutputParser()

    Per-request threshold:
        .. code-block:: python

            from langchain_core.runnables import ConfigurableField
            tunable = automix.configurable_fields(
                threshold=ConfigurableField(id="threshold"),
                num_verifications=ConfigurableField(id="num_verifications"),
            )
            tunable.invoke(q, config={"configurable": {"threshold": 0.75}})

    Serve:
        See ``docs/serving.md``: ``create_app(automix)`` mounts it with LangServe.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    models: list[Runnable[Any, Any]]
    """Chat models, cheapest first (two or more); the last tier's answer is final."""
    meta_verifier: MetaVerifier | None = None
    """Decides from the verifier's confidence; default ``Threshold(threshold)``. A fitted
    policy whose provenance names other models, costs, ``k``, prompt version (prompts,
    verifier grammar, chat/completion mode) or verification method than this runnable's
    gets a ``PolicyMismatchWarning`` naming each difference."""
    strict_policy: bool = False
    """Raise ``PolicyMismatchError`` instead of that warning."""
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    """Threshold of the default meta-verifier (0.5 when unset); also overrides the
    threshold of a given ``Threshold`` meta-verifier."""
    num_verifications: int = Field(default=DEFAULT_NUM_VERIFICATIONS, ge=1, le=64)
    """Number of verifier samples ``k``."""
    verifier_temperature: float = Field(default=DEFAULT_VERIFIER_TEMPERATURE, ge=0.0)
    """Sampling temperature of the verifier."""
    verifier_max_tokens: int | None = Field(default=128, ge=1)
    """Length cap of each verifier sample (for models that take ``max_tokens``)."""
    verifier_seed: int | None = None
    """Base sampling seed of the verifier (for models that take ``seed``). Each query
    verifies with its own seed derived from it and the question
    (:func:`~langchain_automix.runtime.verification.query_seed`): reproducible per query,
    independent across queries (one seed for all would draw the same k random numbers for
    every query and skew the confidences away from the calibration rows')."""
    request_n: bool | None = None
    """Ask for all verifier samples in one ``n=k`` call; None: when the model has ``n``."""
    verifier_max_in_flight: int | None = Field(default=None, ge=1)
    """Separate verifier requests in flight at once when the model does not honour ``n``
    (None: the run config's ``max_concurrency``, else all at once). 1 sends them one after
    another, which a server with a prompt cache per slot (llama.cpp) answers about 10x
    faster than all at once (docs/verification.md)."""
    verifier_grammar: str | None = None
    """A GBNF grammar every verifier sample must follow (llama.cpp's server reads it from
    the request): :data:`~langchain_automix.prompts.DECISION_GRAMMAR` bounds the evaluation
    and forces the decision line, ``decision_grammar(0)`` asks for the decision alone.
    The verifying tiers must be chat models with an ``extra_body`` field (``ChatOpenAI``).
    See docs/verification.md for what each costs and measures on the embedded pair."""
    verification: Literal["sampling", "logprob"] = "sampling"
    """``sampling`` (the paper's ``k`` samples) or ``logprob`` (one greedy call; the
    probability of "Correct" from the top logprobs; needs an endpoint with logprobs)."""
    answer_logprobs: bool = True
    """Ask non-final tiers for their answer's token log-probabilities (models that declare
    ``logprobs``, e.g. ``ChatOpenAI``): free routing signals recorded in the trace
    (``answer_min_prob``, ...; see :mod:`langchain_automix.signals`)."""
    costs: CostModel = Field(default_factory=CostModel)
    """Unit costs per tier (default 1 and 50 for two tiers) and optional token prices."""
    solve_prompt: BasePromptTemplate | None = None
    """Replacement solve prompt (variables ``context`` and ``question``)."""
    verify_prompt: BasePromptTemplate | None = None
    """Replacement verification prompt (variables ``context``, ``question``, ``answer``)."""
    tier_timeout: float | list[float | None] | None = None
    """Seconds each tier may take to answer, and again to verify its answer: one number
    for every tier or one per tier (None: no limit). A non-final tier that runs out of
    time escalates (its attempt records the ``TierTimeoutError``); a verification that
    runs out counts as no valid sample; a final tier that runs out raises
    ``AutoMixModelError`` with the partial trace. Async calls are cancelled; a sync call
    is abandoned (give the model client its own ``timeout`` too, as the CLI does)."""
    max_context_chars: int = Field(default=50_000, ge=1)
    """Inputs with a longer context are rejected before any model is called."""
    max_question_chars: int = Field(default=8_000, ge=1)
    """Inputs with a longer question are rejected before any model is called."""
    checkpointer: BaseCheckpointSaver | None = None
    """Durable execution: a LangGraph checkpointer (``InMemorySaver``, SQLite, Postgres;
    :func:`~langchain_automix.runtime.durable.checkpointer_from_url`) that saves the state after
    every node under the query's thread id (``config["configurable"]["thread_id"]``, else
    a new one; in the trace as ``thread_id``). Invoking again with the same thread id
    resumes an interrupted query at the node that did not finish, without calling the
    models of the nodes already done, or returns a finished one. None (default): the
    shared graph, nothing saved."""
    explore: float = Field(default=0.0, ge=0.0, le=1.0)
    """Exploration for refitting on served traffic: this share of the answers the
    meta-verifier accepts is escalated anyway (a hash of the question and of how often
    this runnable accepted it before picks which, so every repeat of a frequent question
    draws anew), so the next tier's answer is observed on an unbiased sample; the trace
    marks them (``explored``, ``explore_rate``) and ``automix fit --from-traces`` weights
    them by ``1 / explore``. Costs ``explore`` x (the next tier's cost) per accepted
    query."""
    explore_seed: int = 0
    """Salt of the exploration draw."""
    name: str | None = "AutoMixRunnable"
    """Name of the runnable in traces."""

    _context: AutoMixContext = PrivateAttr()
    _durable_graph: Any = PrivateAttr(default=None)

    @field_validator("models")
    @classmethod
    def _check_models(cls, models: list[Runnable[Any, Any]]) -> list[Runnable[Any, Any]]:
        if len(models) < 2:
            raise ValueError(
                f"models must list two or more chat models, cheapest first; got {len(models)}"
            )
        for i, m in enumerate(models):
            if not isinstance(m, Runnable):
                raise ValueError(
                    f"models[{i}] must be a chat model (a Runnable), got {type(m).__name__}"
                )
        return models

    @field_validator("tier_timeout")
    @classmethod
    def _check_timeout(
        cls, value: float | list[float | None] | None
    ) -> float | list[float | None] | None:
        values = value if isinstance(value, list) else [value]
        for t in values:
            if t is not None and not (0 < t < float("inf")):
                raise ValueError(f"tier_timeout must be positive seconds (or None), got {t!r}")
        return value

    @field_validator("costs", mode="before")
    @classmethod
    def _coerce_costs(cls, value: Any) -> CostModel:
        return CostModel.coerce(value)

    @field_validator("solve_prompt", "verify_prompt")
    @classmethod
    def _check_prompt(
        cls, prompt: BasePromptTemplate | None, info: Any
    ) -> BasePromptTemplate | None:
        if prompt is None:
            return prompt
        needed = {"context", "question"} | (
            {"answer"} if info.field_name == "verify_prompt" else set()
        )
        extra = set(prompt.input_variables) - needed
        if extra:
            raise ValueError(
                f"{info.field_name} may only use the variables {sorted(needed)}; "
                f"it also uses {sorted(extra)}"
            )
        return prompt

    def model_post_init(self, __context: Any) -> None:
        """Check the costs against the tiers and prepare the graph's runtime context."""
        self.costs.validate_tiers(len(self.models))
        if self.verifier_grammar is not None and self.verification == "sampling":
            for model in self.models[:-1]:  # the tiers that verify their own answers
                check_grammar_model(model)
        self._context = AutoMixContext(
            models=tuple(self.models),
            model_names=tuple(model_name(m) for m in self.models),
            meta_verifier=self._resolve_meta_verifier(),
            verifier=VerifierSettings(
                k=self.num_verifications,
                temperature=self.verifier_temperature,
                max_tokens=self.verifier_max_tokens,
                seed=self.verifier_seed,
                request_n=self.request_n,
                max_in_flight=self.verifier_max_in_flight,
                prompt=self.verify_prompt,
                grammar=self.verifier_grammar,
                method=self.verification,
            ),
            costs=self.costs,
            solve_prompt=self.solve_prompt,
            answer_logprobs=self.answer_logprobs,
            timeouts=self._timeouts(),
            explore=self.explore,
            explore_seed=self.explore_seed,
        )
        if self.checkpointer is not None:  # the shared compiled graph, with this saver
            self._durable_graph = build_automix_graph().copy(
                update={"checkpointer": self.checkpointer.with_allowlist(SERDE_ALLOWLIST)}
            )
        check_provenance(
            self._context.meta_verifier,
            models=self._context.model_names,
            costs=self.costs.unit_costs_for(len(self.models)),
            verify_costs=self.costs.verify_costs_for(len(self.models)),
            k=self.num_verifications if self.verification == "sampling" else None,
            prompt_version=self._prompt_version_to_check(),
            verification=self.verification,
            strict=self.strict_policy,
        )

    def _prompt_version_to_check(self) -> str | None:
        """This runnable's prompt version, when its policy recorded one to compare with.

        Hashing the prompts takes about 0.3 ms; a runnable is rebuilt for every request
        that tunes a configurable field, so it is only done when it is compared.
        """
        provenance = self._context.meta_verifier.provenance
        if provenance is None or provenance.prompt_version is None:
            return None
        return prompt_version(
            self.verify_prompt,
            self.verifier_grammar,
            verify_mode(self.models[0]),
            self.solve_prompt,
        )

    def _timeouts(self) -> tuple[float | None, ...]:
        t = self.tier_timeout
        if t is None:
            return ()
        if not isinstance(t, list):
            return (t,) * len(self.models)
        if len(t) != len(self.models):
            raise ValueError(
                f"tier_timeout lists {len(t)} values for {len(self.models)} tiers; "
                "give one number for all tiers or one per tier"
            )
        return tuple(t)

    def _resolve_meta_verifier(self) -> MetaVerifier:
        mv = self.meta_verifier
        if mv is None:
            return Threshold(DEFAULT_THRESHOLD if self.threshold is None else self.threshold)
        if self.threshold is not None:
            if not isinstance(mv, Threshold):
                raise ValueError(
                    "threshold only applies to the Threshold meta-verifier; "
                    f"got meta_verifier={mv.describe()}"
                )
            if self.threshold == mv.threshold:
                return mv  # the fitted policy itself (make_configurable's default)
            tuned = Threshold(self.threshold, inclusive=mv.inclusive)
            tuned.provenance = mv.provenance  # same training rows, another operating point
            return tuned
        return mv

    # --- schemas ---------------------------------------------------------------------------

    @property
    def InputType(self) -> Any:
        """The accepted input types."""
        return AutoMixInputLike

    @property
    def OutputType(self) -> type[AIMessage]:
        """The output type: an ``AIMessage``."""
        return AIMessage

    def get_input_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        """``{"question": str, "context": str | None}``, for LangServe and the playground."""
        return AutoMixInput

    @property
    def context(self) -> AutoMixContext:
        """The graph's runtime context for this runnable's settings."""
        return self._context

    @property
    def graph(self) -> Any:
        """The compiled LangGraph ``StateGraph`` that runs each query (with any checkpointer)."""
        if self._durable_graph is not None:
            return self._durable_graph
        return build_automix_graph()

    def _coerce(self, value: Any) -> InputState:
        return coerce_input(
            value,
            max_context_chars=self.max_context_chars,
            max_question_chars=self.max_question_chars,
        )

    # --- invoke ----------------------------------------------------------------------------

    # ``config`` in the bodies below is already this run's child config: LangChain's
    # ``_call_with_config`` (and its stream twins) hand over the caller's config patched
    # with ``run_manager.get_child()``, so the graph's run nests under this one. Patching
    # it again cost a config copy and a callback manager per query, kept alive for the
    # whole query (1-3% of an ``abatch``'s CPU per query, the garbage collector's share
    # included). ``run_manager`` stays in the signatures LangChain's typing expects.

    def _run(
        self, value: Any, run_manager: CallbackManagerForChainRun, config: RunnableConfig
    ) -> AIMessage:
        state = self._coerce(value)
        return drive_to_result(drive(self.graph, state, config, self._context)).to_message()

    async def _arun(
        self, value: Any, run_manager: AsyncCallbackManagerForChainRun, config: RunnableConfig
    ) -> AIMessage:
        state = self._coerce(value)
        events = adrive(self.graph, state, config, self._context)
        return (await adrive_to_result(events)).to_message()

    def invoke(
        self, input: AutoMixInputLike, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AIMessage:
        """Answer one query; see the class docstring."""
        return self._call_with_config(self._run, input, config, run_type="chain")

    async def ainvoke(
        self, input: AutoMixInputLike, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AIMessage:
        """Async twin of :meth:`invoke`."""
        return await self._acall_with_config(self._arun, input, config, run_type="chain")

    def batch(
        self,
        inputs: list[AutoMixInputLike],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[AIMessage]:
        """Answer many queries concurrently (honours ``max_concurrency``).

        Unless ``return_exceptions`` is set, every input is validated before any
        model is called, so one bad input fails the batch at no cost.
        """
        if not return_exceptions:
            self._check_batch(inputs, config)
        return super().batch(inputs, config, return_exceptions=return_exceptions, **kwargs)

    async def abatch(
        self,
        inputs: list[AutoMixInputLike],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[AIMessage]:
        """Async twin of :meth:`batch`."""
        if not return_exceptions:
            self._check_batch(inputs, config)
        return await super().abatch(inputs, config, return_exceptions=return_exceptions, **kwargs)

    def _check_batch(
        self,
        inputs: Sequence[AutoMixInputLike],
        config: RunnableConfig | Sequence[RunnableConfig] | None,
    ) -> None:
        """Validate a batch before any model is called.

        Every input, and (durable runs) that no thread id is given to two different
        questions: a thread names one query, so the second failed after the first ran.
        """
        states = []
        for i, value in enumerate(inputs):
            try:
                states.append(self._coerce(value))
            except AutoMixInputError as exc:
                raise AutoMixInputError(f"inputs[{i}].{exc.field}", exc.message) from exc
        if self.checkpointer is not None:
            check_batch_threads(states, config)

    # --- stream ----------------------------------------------------------------------------

    def _stream_run(
        self,
        inputs: Iterator[Any],
        run_manager: CallbackManagerForChainRun,
        config: RunnableConfig,
    ) -> Iterator[AIMessageChunk]:
        state = self._coerce(_single(inputs))
        ctx = replace(self._context, stream_final=True)
        with contextlib.closing(drive(self.graph, state, config, ctx)) as events:
            for event in events:
                yield from _chunks(event)

    async def _astream_run(
        self,
        inputs: AsyncIterator[Any],
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
    ) -> AsyncIterator[AIMessageChunk]:
        value = None
        async for item in inputs:
            value = item
        state = self._coerce(value)
        ctx = replace(self._context, stream_final=True)
        async with contextlib.aclosing(adrive(self.graph, state, config, ctx)) as events:
            async for event in events:
                for chunk in _chunks(event):
                    yield chunk

    def stream(
        self, input: AutoMixInputLike, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[AIMessage]:
        """Stream the accepted answer; see the class docstring."""
        yield from self._transform_stream_with_config(
            iter([input]), self._stream_run, config, run_type="chain"
        )

    async def astream(
        self, input: AutoMixInputLike, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[AIMessage]:
        """Async twin of :meth:`stream`."""

        async def once() -> AsyncIterator[Any]:
            yield input

        # In a task of its own: a consumer cancelled by an anyio cancel scope (a server
        # whose client disconnected) then still cancels the in-flight model calls.
        async for chunk in cancellable_stream(
            self._atransform_stream_with_config(once(), self._astream_run, config, run_type="chain")
        ):
            yield chunk

    # --- structured results ----------------------------------------------------------------

    def with_result(self) -> Runnable[AutoMixInputLike, AutoMixResult]:
        """This runnable followed by a parser into :class:`AutoMixResult`.

        Example:
            >>> from langchain_core.language_models import FakeListChatModel
            >>> small = FakeListChatModel(
            ...     responses=["no idea", "The AI generated answer is Incorrect."])
            >>> large = FakeListChatModel(responses=["42"])
            >>> automix = AutoMixRunnable(models=[small, large], num_verifications=1)
            >>> r = automix.with_result().invoke("?")
            >>> r.answer, r.escalated, r.total_cost
            ('42', True, 52.0)
        """
        return self | RunnableLambda(AutoMixResult.from_message, name="AutoMixResult")

    def invoke_result(
        self, input: AutoMixInputLike, config: RunnableConfig | None = None
    ) -> AutoMixResult:
        """Answer one query and return the full :class:`AutoMixResult`."""
        return AutoMixResult.from_message(self.invoke(input, config))

    async def ainvoke_result(
        self, input: AutoMixInputLike, config: RunnableConfig | None = None
    ) -> AutoMixResult:
        """Async twin of :meth:`invoke_result`."""
        return AutoMixResult.from_message(await self.ainvoke(input, config))


def _single(inputs: Iterator[Any]) -> Any:
    value = None
    for value in inputs:  # noqa: B007 - the last input is the one
        pass
    return value


def _chunks(event: AIMessageChunk | AutoMixResult) -> Iterator[AIMessageChunk]:
    """What the runnable streams of a driver event: a token's text, or the closing chunks.

    Usage of the streamed tier is reported once, summed, in the closing chunk; the last
    chunk carries the trace.
    """
    if isinstance(event, AIMessageChunk):
        if event.content:
            yield AIMessageChunk(content=event.content, id=event.id)
        return
    if event.streamed_tier is None:
        yield AIMessageChunk(content=event.answer)
    yield AIMessageChunk(
        content="",
        response_metadata={TRACE_KEY: event.trace()},
        usage_metadata=cast(Any, event.usage),
    )
