"""Per-request knobs: expose ``threshold`` and ``num_verifications`` as configurable fields."""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.runnables import ConfigurableField, Runnable, RunnableBinding
from langchain_core.runnables.configurable import DynamicRunnable
from pydantic import Field

from langchain_automix.meta_verifiers.threshold import Threshold
from langchain_automix.runnable import DEFAULT_THRESHOLD, AutoMixRunnable

__all__ = ["CONFIGURABLE_IDS", "find_automix", "make_configurable"]

CONFIGURABLE_IDS = ("threshold", "num_verifications")
"""Ids of the per-request fields (``config={"configurable": {"threshold": 0.7}}``)."""


def find_automix(runnable: Runnable[Any, Any]) -> AutoMixRunnable | None:
    """The ``AutoMixRunnable`` inside bindings and configurable wrappers, if any.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> fake = FakeListChatModel(responses=["x"])
        >>> automix = AutoMixRunnable(models=[fake, fake])
        >>> find_automix(automix.with_config(tags=["a"])) is automix
        True
    """
    for _ in range(16):
        if isinstance(runnable, AutoMixRunnable):
            return runnable
        if isinstance(runnable, RunnableBinding):
            runnable = runnable.bound
        elif isinstance(runnable, DynamicRunnable):
            runnable = runnable.default
        else:
            return None
    return None


def make_configurable(runnable: Runnable[Any, Any]) -> Runnable[Any, Any]:
    """Make a bare ``AutoMixRunnable`` tunable per request; return others unchanged.

    ``threshold`` is tunable when the meta-verifier is the default or a
    ``Threshold``; ``num_verifications`` always.

    The fields carry their bounds (threshold in [0, 1], 1 to 64 verifications),
    so LangServe rejects out-of-range values with 422 and the playground shows them.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> fake = FakeListChatModel(responses=["x"])
        >>> automix = AutoMixRunnable(models=[fake, fake])
        >>> sorted(s.id for s in make_configurable(automix).config_specs)
        ['num_verifications', 'threshold']
    """
    if not isinstance(runnable, AutoMixRunnable):
        return runnable
    fields: dict[str, ConfigurableField] = {
        "num_verifications": ConfigurableField(
            id="num_verifications",
            name="Number of verifications",
            description="Verifier samples k drawn to estimate the confidence (1 to 64).",
            annotation=Annotated[int, Field(ge=1, le=64)],
        )
    }
    meta = runnable.meta_verifier
    if meta is None or isinstance(meta, Threshold):  # other meta-verifiers have no threshold
        if runnable.threshold is None:
            # Spell the effective threshold out: the playground cannot render a nullable field.
            current = DEFAULT_THRESHOLD if meta is None else meta.threshold
            runnable = AutoMixRunnable(**{**_field_values(runnable), "threshold": current})
        fields["threshold"] = ConfigurableField(
            id="threshold",
            name="Threshold",
            description="Escalate when the verifier confidence is below this (0 to 1).",
            annotation=Annotated[float, Field(ge=0.0, le=1.0)],
        )
    return runnable.configurable_fields(**fields)


def _field_values(automix: AutoMixRunnable) -> dict[str, Any]:
    return {name: getattr(automix, name) for name in type(automix).model_fields}
