"""Runtime context of the AutoMix graph: the models and settings of one run."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, TypedDict

from langchain_core.prompts import BasePromptTemplate
from langchain_core.runnables import Runnable

from langchain_automix.costs import CostModel
from langchain_automix.meta_verifiers.base import MetaVerifier
from langchain_automix.runtime.verification import VerifierSettings

__all__ = ["AutoMixContext", "Occurrences", "RunKnobs"]


class Occurrences:
    """How many times each key was seen before, in this process (thread-safe, bounded).

    The exploration draw hashes a query together with its occurrence index, so each
    repeat of a frequent question is explored at the rate on its own, instead of every
    repeat or none. Keys are kept as 8-byte digests; past ``max_keys`` the least recently
    seen is forgotten (its count starts again at 0).

    Example:
        >>> seen = Occurrences()
        >>> [seen.next("Capital of France?") for _ in range(3)], seen.next("Other?")
        ([0, 1, 2], 0)
    """

    def __init__(self, max_keys: int = 65_536) -> None:
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1, got {max_keys!r}")
        self.max_keys = max_keys
        self._counts: OrderedDict[bytes, int] = OrderedDict()
        self._lock = threading.Lock()

    def next(self, key: str) -> int:
        """How many earlier calls had ``key`` (0 the first time); this call is counted too."""
        digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        with self._lock:
            n = self._counts.pop(digest, 0)
            self._counts[digest] = n + 1
            if len(self._counts) > self.max_keys:
                self._counts.popitem(last=False)
        return n

    def __len__(self) -> int:
        return len(self._counts)


@dataclass(frozen=True, slots=True)
class AutoMixContext:
    """Passed to the graph as its LangGraph runtime context.

    The graph's topology does not depend on the models, so one compiled graph
    serves every ``AutoMixRunnable``; what differs between runs lives here.
    """

    models: tuple[Runnable[Any, Any], ...]
    """Chat models, cheapest first (two or more)."""
    model_names: tuple[str, ...]
    """Readable names of the models, for traces."""
    meta_verifier: MetaVerifier
    """Decides after each non-final tier's verification."""
    verifier: VerifierSettings
    """How verification samples are drawn."""
    costs: CostModel
    """Unit costs (and optional token prices) per tier."""
    solve_prompt: BasePromptTemplate | None = None
    """Replacement solve prompt (variables ``context``, ``question``)."""
    answer_logprobs: bool = True
    """Ask non-final tiers for their answer's token logprobs (free routing signals)."""
    stream_final: bool = False
    """Stream the final tier's tokens to the graph's custom stream."""
    timeouts: tuple[float | None, ...] = ()
    """Seconds each tier may take to answer, and again to verify (empty: no limit)."""
    explore: float = 0.0
    """Share of accepted answers escalated anyway, to observe the next tier's answer
    (exploration for refitting on served traffic; 0: none)."""
    explore_seed: int = 0
    """Salt of the per-query exploration draw (a hash of the question, its context and
    how many times this runnable accepted it before)."""
    explore_seen: Occurrences = field(default_factory=Occurrences, compare=False, repr=False)
    """Accepted occurrences of each question so far (the exploration draw's counter)."""
    publish: bool = False
    """Write the run's end into the state (``answer``, ``trace``, ``message``): a graph
    built with its models (``create_automix_graph``) returns them; the runnables read
    the attempts and leave it off (fewer state channels per step)."""

    def timeout(self, tier: int) -> float | None:
        """The time limit of ``tier``'s solve call and of its verification, if any."""
        return self.timeouts[tier] if tier < len(self.timeouts) else None

    @property
    def n_tiers(self) -> int:
        """Number of tiers."""
        return len(self.models)


class RunKnobs(TypedDict, total=False):
    """Per-run settings a JSON client may send as a run's ``context``.

    Read by a graph built with its models (``create_automix_graph``; the LangGraph
    server), e.g. ``{"threshold": 0.7, "num_verifications": 4}``.
    """

    threshold: float
    """Threshold of the ``Threshold`` meta-verifier."""
    num_verifications: int
    """Number of verifier samples ``k``."""
