"""Operator limits of the HTTP server: ``ServerLimits``, per-client token buckets, cost metering.

``ServerLimits`` groups what ``create_app(..., limits=ServerLimits(...))`` enforces:
batch size, worst-case model calls per request, batch concurrency, the per-request
``num_verifications`` cap, the threshold lock or bounds, cost budgets and a request
rate per client, the allowed cross-origin callers and the JSON nesting depth.

Budgets are in the runnable's **cost units** (``CostModel``: a tier's answer costs
its unit cost, verifying it costs its verify cost, the ``k`` samples together count
once), the same units as ``total_cost`` in the routing trace. A request reserves its
worst case before it runs and is settled to the ``total_cost`` of its traces when it
ends, so concurrent requests cannot overspend and a kept answer costs what it cost.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler

from langchain_automix.errors import AutoMixInputError, AutoMixModelError
from langchain_automix.runtime.result import TRACE_KEY

__all__ = [
    "DEFAULT_MAX_BATCH_SIZE",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_MAX_JSON_DEPTH",
    "DEFAULT_MAX_MODEL_CALLS",
    "DEFAULT_MAX_NUM_VERIFICATIONS",
    "CostMeter",
    "KeyedBuckets",
    "RequestCharge",
    "ServerLimits",
    "TokenBucket",
    "current_charge",
    "worst_case_calls",
    "worst_case_cost",
]

DEFAULT_MAX_BATCH_SIZE = 32
"""Default cap on the inputs of one ``/automix/batch`` request."""
DEFAULT_MAX_MODEL_CALLS = 512
"""Default cap on the worst-case model calls of one request."""
DEFAULT_MAX_CONCURRENCY = 8
"""Default number of batch items answered at the same time."""
DEFAULT_MAX_NUM_VERIFICATIONS = 16
"""Default per-request cap on ``num_verifications`` (raised to the runnable's own ``k``)."""
DEFAULT_MAX_JSON_DEPTH = 32
"""Default cap on the nesting depth of a JSON request body."""
DEFAULT_BODY_TIMEOUT_S = 30.0
"""Seconds a client may take to send a request body (``ServerLimits.body_timeout_s``)."""


@dataclass(frozen=True)
class ServerLimits:
    """What one client may ask of the server; pass it as ``create_app(limits=...)``.

    Every count is per request unless it says otherwise; "client" is the API key
    when auth is on, else the client IP. None switches a limit off.

    Attributes:
        max_batch_size: inputs per ``/automix/batch`` request (more: 413).
        max_model_calls: worst-case model calls per request, counted as items x
            (tiers + k x verified tiers), k = 1 for ``verification="logprob"``
            (more: 413, before any model call).
        max_concurrency: batch items answered at the same time, so a big batch
            leaves the event loop to ``/health`` and other requests.
        max_num_verifications: per-request cap on ``num_verifications`` (more: 422;
            the configurable field's ``le`` shows it). None: the larger of the
            runnable's own ``k`` and 16.
        lock_threshold: the threshold is not tunable per request (asking: 403).
        threshold_bounds: ``(lo, hi)`` a per-request threshold must lie in (else 422).
        budget_per_minute: cost units a client may spend per minute (a bucket that
            refills continuously); over it: 429 with ``Retry-After``.
        budget_per_day: the same per day.
        rate_limit: requests (POST) per minute per client; over it: 429.
        allowed_origins: origins (``https://app.example.com``) allowed to POST from a
            browser when auth is off; the server's own host always is. Others: 403.
        allowed_hosts: ``Host`` names (no port) a POST may be addressed to when auth is
            off, besides the loopback names (``localhost``, ``127.0.0.0/8``, ``::1``),
            which always are. Others: 403, so that a web page whose domain resolves to
            this machine (DNS rebinding) cannot spend model calls and read the answers.
        max_json_depth: nesting depth of a JSON body (deeper: 400).
        body_timeout_s: seconds a client may take to send a POST body (a client that
            announces more bytes than it sends, or trickles them, holds a connection
            and a worker); slower: 408. None: no limit.

    Example:
        >>> limits = ServerLimits(max_batch_size=8, lock_threshold=True, rate_limit=60)
        >>> limits.max_batch_size, limits.threshold_bounds
        (8, (0.0, 1.0))
        >>> ServerLimits(threshold_bounds=(0.7, 0.2))
        Traceback (most recent call last):
        ...
        ValueError: threshold_bounds must satisfy 0 <= lo <= hi <= 1, got (0.7, 0.2)
    """

    max_batch_size: int | None = DEFAULT_MAX_BATCH_SIZE
    max_model_calls: int | None = DEFAULT_MAX_MODEL_CALLS
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    max_num_verifications: int | None = None
    lock_threshold: bool = False
    threshold_bounds: tuple[float, float] = (0.0, 1.0)
    budget_per_minute: float | None = None
    budget_per_day: float | None = None
    rate_limit: float | None = None
    allowed_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH
    body_timeout_s: float | None = DEFAULT_BODY_TIMEOUT_S

    def __post_init__(self) -> None:
        """Check the values and normalize the origins."""
        for name in ("max_batch_size", "max_model_calls", "max_num_verifications"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1 (or None for no limit), got {value}")
        for name in ("max_concurrency", "max_json_depth"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("budget_per_minute", "budget_per_day", "rate_limit", "body_timeout_s"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive (or None for no limit), got {value}")
        lo, hi = self.threshold_bounds
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(
                f"threshold_bounds must satisfy 0 <= lo <= hi <= 1, got {self.threshold_bounds}"
            )
        object.__setattr__(self, "threshold_bounds", (float(lo), float(hi)))
        if isinstance(self.allowed_origins, str):
            raise ValueError("allowed_origins must be a sequence of origins, not one string")
        object.__setattr__(
            self,
            "allowed_origins",
            tuple(o.strip().rstrip("/").lower() for o in self.allowed_origins),
        )
        if isinstance(self.allowed_hosts, str):
            raise ValueError("allowed_hosts must be a sequence of host names, not one string")
        object.__setattr__(
            self, "allowed_hosts", tuple(h.strip().strip("[]").lower() for h in self.allowed_hosts)
        )

    def num_verifications_cap(self, runnable_k: int | None) -> int:
        """The effective per-request cap on ``num_verifications``.

        Example:
            >>> ServerLimits().num_verifications_cap(8), ServerLimits().num_verifications_cap(32)
            (16, 32)
            >>> ServerLimits(max_num_verifications=4).num_verifications_cap(None)
            4
        """
        if self.max_num_verifications is not None:
            return self.max_num_verifications
        return max(DEFAULT_MAX_NUM_VERIFICATIONS, runnable_k or 0)


def worst_case_calls(n_tiers: int, k: int, *, sampling: bool = True) -> int:
    """Most model calls one query can make.

    Every tier answers, every tier but the last is verified with ``k`` calls (one
    with ``verification="logprob"``).

    Servers that honour ``n=k`` need one call per verification, but the worst case
    (a server that ignores ``n``, topped up with single calls) is what is capped.

    Example:
        >>> worst_case_calls(2, 8), worst_case_calls(3, 8), worst_case_calls(2, 8, sampling=False)
        (10, 19, 3)
    """
    per_verification = k if sampling else 1
    return n_tiers + (n_tiers - 1) * per_verification


def worst_case_cost(unit_costs: Sequence[float], verify_costs: Sequence[float]) -> float:
    """Most cost units one query can spend: every answer, every verification but the last.

    Example:
        >>> worst_case_cost((1.0, 50.0), (1.0, 50.0))
        52.0
    """
    return float(sum(unit_costs) + sum(verify_costs[: len(unit_costs) - 1]))


class TokenBucket:
    """A token bucket that starts full: ``capacity`` tokens, refilled at ``rate`` per second.

    Thread-safe. ``take`` never blocks: it answers how long to wait instead, which is
    what a ``Retry-After`` header needs.

    Example:
        >>> clock = iter([0.0, 0.0, 0.0, 0.0, 1.0]).__next__
        >>> bucket = TokenBucket(capacity=2, rate=0.5, clock=clock)
        >>> bucket.take(1), bucket.take(1), bucket.take(1)
        (0.0, 0.0, 2.0)
        >>> bucket.take(1)  # one second later: half a token back, one more second to wait
        1.0
    """

    def __init__(
        self, capacity: float, rate: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if capacity <= 0 or rate <= 0:
            raise ValueError(f"capacity and rate must be positive, got {capacity}, {rate}")
        self.capacity = float(capacity)
        self.rate = float(rate)
        self._clock = clock
        self._tokens = self.capacity
        self._last = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def take(self, amount: float) -> float:
        """Take ``amount`` tokens: 0.0 if there were enough, else the seconds to wait.

        Nothing is taken when there are not enough; the wait is ``inf`` when
        ``amount`` exceeds the capacity.
        """
        with self._lock:
            self._refill()
            if amount <= self._tokens:
                self._tokens -= amount
                return 0.0
            if amount > self.capacity:
                return math.inf
            return (amount - self._tokens) / self.rate

    def give_back(self, amount: float) -> None:
        """Return unspent tokens (capped at the capacity)."""
        with self._lock:
            self._refill()
            self._tokens = min(self.capacity, self._tokens + amount)

    @property
    def full(self) -> bool:
        """Whether the bucket is full (an idle client; safe to forget)."""
        with self._lock:
            self._refill()
            return self._tokens >= self.capacity


class KeyedBuckets:
    """One ``TokenBucket`` per client key, created full on first use.

    langchain-core's ``InMemoryRateLimiter`` is one shared bucket that starts
    **empty** (a new client's first request would be refused), refills only in whole
    tokens and cannot say when the next token comes; a server needs one bucket per
    client, full at first, and a ``Retry-After``. Hence this small class. Idle (full)
    buckets are forgotten once there are more than ``max_keys``, so many clients do
    not grow memory without bound.

    Example:
        >>> buckets = KeyedBuckets(capacity=1, rate=1 / 60)
        >>> buckets.take("ip:10.0.0.1", 1), buckets.take("ip:10.0.0.2", 1)
        (0.0, 0.0)
        >>> round(buckets.take("ip:10.0.0.1", 1))
        60
    """

    def __init__(
        self,
        capacity: float,
        rate: float,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = float(capacity)
        self.rate = float(rate)
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def _bucket(self, key: str) -> TokenBucket:
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self.max_keys:
                    self._prune()
                bucket = TokenBucket(self.capacity, self.rate, clock=self._clock)
                self._buckets[key] = bucket
            return bucket

    def _prune(self) -> None:
        for key in [k for k, b in self._buckets.items() if b.full]:
            del self._buckets[key]
        while len(self._buckets) >= self.max_keys:  # all busy: forget the oldest
            del self._buckets[next(iter(self._buckets))]

    def take(self, key: str, amount: float) -> float:
        """:meth:`TokenBucket.take` on ``key``'s bucket."""
        return self._bucket(key).take(amount)

    def give_back(self, key: str, amount: float) -> None:
        """:meth:`TokenBucket.give_back` on ``key``'s bucket."""
        self._bucket(key).give_back(amount)


@dataclass
class RequestCharge:
    """The cost reservation of one request, settled from the traces of its runs.

    ``started`` / ``finished`` count the root AutoMix runs of the request and
    ``spent`` sums their ``total_cost`` (for a failed run, its partial trace's).
    A run that started but never reported (cancelled, crashed) is charged the
    worst case; runs that never started cost nothing.

    Example:
        >>> charge = RequestCharge(per_item=52.0, items=3)
        >>> charge.reserved
        156.0
        >>> charge.started, charge.finished, charge.spent = 2, 1, 2.0
        >>> charge.actual()  # 2 spent + one run that never reported, at its worst case
        54.0
    """

    per_item: float
    items: int
    started: int = 0
    finished: int = 0
    spent: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def reserved(self) -> float:
        """The worst case reserved before the request ran."""
        return self.per_item * self.items

    def actual(self) -> float:
        """What the request is charged, never more than the reservation."""
        with self._lock:
            unreported = max(0, self.started - self.finished)
            return min(self.reserved, self.spent + unreported * self.per_item)

    def start(self) -> None:
        """Count a root run that started."""
        with self._lock:
            self.started += 1

    def report(self, cost: float | None) -> None:
        """Count a root run that ended, with its cost (None: charge the worst case)."""
        with self._lock:
            self.finished += 1
            self.spent += self.per_item if cost is None else float(cost)


_CHARGE: ContextVar[RequestCharge | None] = ContextVar("automix_request_charge", default=None)


def current_charge() -> ContextVar[RequestCharge | None]:
    """The context variable holding the charge of the request being served (if metered)."""
    return _CHARGE


class CostMeter(BaseCallbackHandler):
    """Callback handler that reports the cost of root AutoMix runs to a ``RequestCharge``.

    Only runs without a parent count (the ``AutoMixRunnable`` run a route started);
    the cost is the trace's ``total_cost``, or the partial trace's for an
    ``AutoMixModelError``.

    Example:
        >>> from uuid import uuid4
        >>> from langchain_core.messages import AIMessage
        >>> charge = RequestCharge(per_item=52.0, items=1)
        >>> meter = CostMeter(charge)
        >>> run = uuid4()
        >>> meter.on_chain_start({}, {}, run_id=run)
        >>> meter.on_chain_end(AIMessage("x", response_metadata={"automix": {"total_cost": 2.0}}),
        ...                    run_id=run)
        >>> charge.actual()
        2.0
    """

    run_inline = True
    ignore_llm = True
    ignore_chat_model = True
    ignore_retriever = True
    ignore_agent = True
    ignore_retry = True
    ignore_custom_event = True

    def __init__(self, charge: RequestCharge) -> None:
        self.charge = charge

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Count a root run."""
        if parent_run_id is None:
            self.charge.start()

    def on_chain_end(
        self, outputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        """Report a root run's ``total_cost``."""
        if parent_run_id is None:
            self.charge.report(_total_cost(outputs))

    def on_chain_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Report a failed root run's partial cost (worst case when unknown)."""
        if parent_run_id is None:
            if isinstance(error, AutoMixInputError):  # refused before any model call
                self.charge.report(0.0)
            elif isinstance(error, AutoMixModelError) and error.partial is not None:
                partial = error.partial
                spent = partial.spent_this_call
                self.charge.report(partial.total_cost if spent is None else spent)
            else:
                self.charge.report(None)


def _total_cost(outputs: Any) -> float | None:
    metadata = getattr(outputs, "response_metadata", None)
    if metadata is None and isinstance(outputs, dict):
        output = outputs.get("output", outputs)
        metadata = getattr(output, "response_metadata", None)
        if metadata is None and isinstance(output, dict):
            metadata = output.get("response_metadata")
    trace = metadata.get(TRACE_KEY) if isinstance(metadata, dict) else None
    if not isinstance(trace, dict):
        return None
    # a resumed or replayed durable run: what this call spent, not the whole thread's cost
    for key in ("spent_this_call", "total_cost"):
        if isinstance(trace.get(key), int | float):
            return float(trace[key])
    return None
