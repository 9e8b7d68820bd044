"""The runnable the routes serve: per-item batch errors, batch concurrency, cost metering.

``ServedRunnable`` binds the (configurable) AutoMix runnable like ``with_types`` does and
changes two things:

* ``batch`` / ``abatch`` answer at most ``max_concurrency`` items at a time and put a
  failed item's error **in its position** instead of failing the whole batch, so
  ``POST /automix/batch`` returns 200 with every answer that was obtained. A failed
  position holds a :class:`BatchItemError`, in JSON::

      {"error": {"message": "...", "type": "upstream_model_error", "param": null,
                 "code": "model_error", "status": 502},
       "automix": {...partial routing trace, or null...}}

  (``status`` is what the item alone would have got: 422 bad input, 502 final tier
  failed, 500 anything else). ``RemoteRunnable.batch`` gives it back as that dict.
* every call gets a :class:`~langchain_automix.server.quotas.CostMeter` when the
  request being served is metered (budgets on), so its cost is settled from the traces,
  and the handlers ``item_callbacks`` makes (e.g. a fresh
  :class:`~langchain_automix.observability.observer.AutoMixObserver`: metrics, drift
  monitor, trace log) when the server observes its traffic.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler, BaseCallbackManager
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable, RunnableBinding, RunnableConfig
from langchain_core.runnables.config import get_config_list
from pydantic import BaseModel, ConfigDict, Field

from langchain_automix.errors import AutoMixInputError, AutoMixModelError
from langchain_automix.runtime.result import TRACE_KEY
from langchain_automix.server.quotas import DEFAULT_MAX_CONCURRENCY, CostMeter, current_charge
from langchain_automix.server.responses import error_body

__all__ = [
    "BatchItemError",
    "BatchItemErrorInfo",
    "ServedRunnable",
    "as_served",
    "batch_item_error",
    "served_output_type",
]


class BatchItemErrorInfo(BaseModel):
    """The ``error`` of a failed batch item (the HTTP error body's, plus the status)."""

    model_config = ConfigDict(extra="forbid")

    message: str
    type: str
    param: str | None = None
    code: str | None = None
    status: int = Field(description="The HTTP status this item alone would have got.")


class BatchItemError(BaseModel):
    """A failed item of ``/automix/batch``, in the position of its input."""

    model_config = ConfigDict(extra="forbid")

    error: BatchItemErrorInfo
    automix: dict[str, Any] | None = Field(
        default=None, description="The partial routing trace (what was obtained before)."
    )


def batch_item_error(exc: BaseException) -> BatchItemError:
    """The :class:`BatchItemError` for one item's exception.

    Example:
        >>> batch_item_error(AutoMixInputError("question", "must not be empty")).error.status
        422
    """
    partial: dict[str, Any] | None = None
    if isinstance(exc, AutoMixInputError):
        status, code, param, message = 422, "invalid_input", exc.field, str(exc)
    elif isinstance(exc, AutoMixModelError):
        status, code, param, message = 502, "model_error", None, str(exc)
        partial = exc.partial.trace() if exc.partial is not None else None
    else:  # not echoed: it may carry internals
        status, code, param = 500, "internal_error", None
        message = f"internal error: {type(exc).__name__}"
    info = error_body(status, message, code=code, param=param)["error"]
    return BatchItemError(error=BatchItemErrorInfo(**info, status=status), **{TRACE_KEY: partial})


class ServedRunnable(RunnableBinding[Any, Any]):  # type: ignore[no-redef]
    """The served binding: per-item batch errors, a concurrency cap, cost metering.

    See the module docstring; at most ``max_concurrency`` batch items run at once.

    ``return_exceptions=True`` keeps LangChain's meaning (the exception objects
    themselves in the failed positions).

    Example:
        >>> from langchain_core.runnables import RunnableLambda
        >>> def half(x: int) -> float:
        ...     return 1 / x
        >>> served = ServedRunnable(bound=RunnableLambda(half), max_concurrency=2)
        >>> out = served.batch([1, 0, 4])
        >>> out[0], out[1].error.status, out[2]
        (1.0, 500, 0.25)
    """

    max_concurrency: int = Field(default=DEFAULT_MAX_CONCURRENCY, ge=1)
    """Batch items answered at the same time."""
    item_callbacks: Callable[[], list[BaseCallbackHandler]] | None = None
    """Called once per item: the handlers added to its config (None: none)."""

    def with_config(
        self, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Runnable[Any, Any]:
        """Like ``RunnableBinding.with_config``, keeping ``max_concurrency``."""
        bound = super().with_config(config, **kwargs)
        assert isinstance(bound, ServedRunnable)  # noqa: S101 - RunnableBinding keeps the class
        return bound.model_copy(
            update={"max_concurrency": self.max_concurrency, "item_callbacks": self.item_callbacks}
        )

    def _merge_configs(self, *configs: RunnableConfig | None) -> RunnableConfig:
        config = super()._merge_configs(*configs)
        make = self.item_callbacks
        added: list[BaseCallbackHandler] = [] if make is None else make()
        charge = current_charge().get()
        if charge is not None:
            added.append(CostMeter(charge))
        if not added:
            return config
        callbacks = config.get("callbacks")
        if callbacks is None:
            config["callbacks"] = added
        elif isinstance(callbacks, BaseCallbackManager):
            manager = callbacks.copy()
            for handler in added:
                manager.add_handler(handler, inherit=False)
            config["callbacks"] = manager
        else:
            config["callbacks"] = [*callbacks, *added]
        return config

    def batch(
        self,
        inputs: list[Any],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """Answer every input, ``max_concurrency`` at a time; failures stay in place."""
        if not inputs:
            return []
        configs = get_config_list(config, len(inputs))

        def one(value: Any, cfg: RunnableConfig) -> Any:
            try:
                return self.invoke(value, cfg, **kwargs)
            except Exception as exc:
                return exc if return_exceptions else batch_item_error(exc)

        workers = min(self.max_concurrency, len(inputs))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [
                pool.submit(contextvars.copy_context().run, one, value, cfg)
                for value, cfg in zip(inputs, configs, strict=True)
            ]
            return [f.result() for f in futures]

    async def abatch(
        self,
        inputs: list[Any],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """Async twin of :meth:`batch` (a semaphore of ``max_concurrency``).

        The cap is not passed down as the items' ``max_concurrency``: AutoMix reads
        that to pace the ``k`` verifier calls within one item, which must not slow down.
        """
        if not inputs:
            return []
        configs = get_config_list(config, len(inputs))
        gate = asyncio.Semaphore(self.max_concurrency)

        async def one(value: Any, cfg: RunnableConfig) -> Any:
            async with gate:
                try:
                    return await self.ainvoke(value, cfg, **kwargs)
                except Exception as exc:
                    return exc if return_exceptions else batch_item_error(exc)

        return list(
            await asyncio.gather(
                *(one(value, cfg) for value, cfg in zip(inputs, configs, strict=True))
            )
        )


def served_output_type() -> Any:
    """The output type LangServe validates: an ``AIMessage`` or, in a batch, an error."""
    return AIMessage | BatchItemError


def as_served(
    runnable: Runnable[Any, Any],
    *,
    input_type: Any,
    max_concurrency: int,
    item_callbacks: Callable[[], list[BaseCallbackHandler]] | None = None,
) -> ServedRunnable:
    """Bind ``runnable`` for serving (input schema, batch semantics, metering).

    Example:
        >>> from langchain_core.runnables import RunnableLambda
        >>> as_served(RunnableLambda(str), input_type=int, max_concurrency=3).max_concurrency
        3
    """
    return ServedRunnable(
        bound=runnable,
        custom_input_type=input_type,
        custom_output_type=served_output_type(),
        max_concurrency=max_concurrency,
        item_callbacks=item_callbacks,
    )
