"""Per-request knobs: expose ``threshold`` and ``num_verifications`` as configurable fields."""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.runnables import ConfigurableField, Runnable, RunnableBinding
from langchain_core.runnables.configurable import DynamicRunnable
from pydantic import Field

from langchain_automix.meta_verifiers.threshold import Threshold
from langchain_automix.runtime.runnable import DEFAULT_THRESHOLD, AutoMixRunnable

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


def make_configurable(
    runnable: Runnable[Any, Any],
    *,
    max_num_verifications: int = 64,
    lock_threshold: bool = False,
    threshold_bounds: tuple[float, float] = (0.0, 1.0),
) -> Runnable[Any, Any]:
    """Make a bare ``AutoMixRunnable`` tunable per request; return others unchanged.

    ``threshold`` is tunable when the meta-verifier is the default or a
    ``Threshold`` and ``lock_threshold`` is off; ``num_verifications`` always.

    The fields carry their bounds (threshold in ``threshold_bounds``, 1 to
    ``max_num_verifications`` verifications), so LangServe rejects out-of-range values
    with 422 and the playground shows them.

    Args:
        runnable: the runnable to serve.
        max_num_verifications: the largest ``num_verifications`` a request may ask for.
        lock_threshold: keep the threshold fixed (no ``threshold`` field).
        threshold_bounds: ``(lo, hi)`` a per-request threshold must lie in.

    Raises:
        ValueError: when the runnable's own ``num_verifications`` or threshold lies
            outside the bounds it would be served with.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> fake = FakeListChatModel(responses=["x"])
        >>> automix = AutoMixRunnable(models=[fake, fake])
        >>> sorted(s.id for s in make_configurable(automix).config_specs)
        ['num_verifications', 'threshold']
        >>> locked = make_configurable(automix, max_num_verifications=16, lock_threshold=True)
        >>> [s.id for s in locked.config_specs]
        ['num_verifications']
        >>> locked.config_schema().model_json_schema()["$defs"]["Configurable"][
        ...     "properties"]["num_verifications"]["maximum"]
        16
    """
    if not isinstance(runnable, AutoMixRunnable):
        return runnable
    if runnable.num_verifications > max_num_verifications:
        raise ValueError(
            f"the runnable's num_verifications={runnable.num_verifications} is over "
            f"max_num_verifications={max_num_verifications}"
        )
    fields: dict[str, ConfigurableField] = {
        "num_verifications": ConfigurableField(
            id="num_verifications",
            name="Number of verifications",
            description=(
                "Verifier samples k drawn to estimate the confidence "
                f"(1 to {max_num_verifications})."
            ),
            annotation=Annotated[int, Field(ge=1, le=max_num_verifications)],
        )
    }
    meta = runnable.meta_verifier
    lo, hi = threshold_bounds
    # other meta-verifiers have no threshold; a locked one stays the runnable's
    if not lock_threshold and (meta is None or isinstance(meta, Threshold)):
        if runnable.threshold is None:
            # Spell the effective threshold out: the playground cannot render a nullable field.
            current = DEFAULT_THRESHOLD if meta is None else meta.threshold
            runnable = AutoMixRunnable(**{**_field_values(runnable), "threshold": current})
        assert runnable.threshold is not None  # noqa: S101 - set just above
        if not lo <= runnable.threshold <= hi:
            raise ValueError(
                f"the runnable's threshold {runnable.threshold:g} is outside "
                f"threshold_bounds=({lo:g}, {hi:g})"
            )
        fields["threshold"] = ConfigurableField(
            id="threshold",
            name="Threshold",
            description=f"Escalate when the verifier confidence is below this ({lo:g} to {hi:g}).",
            annotation=Annotated[float, Field(ge=lo, le=hi)],
        )
    return runnable.configurable_fields(**fields)


def _field_values(automix: AutoMixRunnable) -> dict[str, Any]:
    return {name: getattr(automix, name) for name in type(automix).model_fields}
