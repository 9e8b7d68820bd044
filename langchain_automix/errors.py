"""Errors raised by AutoMix, each naming what went wrong."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_automix.runtime.result import AutoMixResult

__all__ = [
    "AutoMixError",
    "AutoMixInputError",
    "AutoMixModelError",
    "PolicyError",
    "TierTimeoutError",
]


class AutoMixError(Exception):
    """Base class of the errors raised by langchain-automix."""


class AutoMixInputError(AutoMixError, ValueError):
    """The input is malformed; raised before any model is called.

    Attributes:
        field: Name of the offending input field (``"question"``, ``"context"``, ...).
        message: What is wrong with it (the error's text is ``"<field>: <message>"``).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt from its two arguments: a worker process (server workers, a process
        # pool running a batch) can send it back to its parent
        return (type(self), (self.field, self.message))


class AutoMixModelError(AutoMixError, RuntimeError):
    """The final tier failed; carries everything obtained before the failure.

    Attributes:
        partial: The partial result (answers and verifications of earlier tiers),
            so nothing that was already paid for is lost. When the final tier failed
            after streaming some tokens, its ``answer`` is the streamed text and
            ``streamed_tier`` names that tier; otherwise ``answer`` is the last answer
            obtained (see :class:`~langchain_automix.runtime.result.AutoMixResult`).
    """

    def __init__(self, message: str, partial: AutoMixResult | None = None) -> None:
        super().__init__(message)
        self.partial = partial

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.args[0], self.partial))


class TierTimeoutError(AutoMixError, TimeoutError):
    """A tier did not answer (or verify) within ``AutoMixRunnable(tier_timeout=...)``.

    Recorded on the attempt of a non-final tier, which then escalates; raised from the
    final tier as the cause of an :class:`AutoMixModelError`.
    """


class PolicyError(ValueError):
    """A policy file or dict is malformed, of an unknown version, or of another method."""
