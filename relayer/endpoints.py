"""One endpoint pool for every chain client: health, cooldown, ordering, refusal, metrics.

The CometBFT RPC client, the Cosmos gRPC client and the L1 JSON-RPC client each hold an
:class:`EndpointPool` over their configured endpoints and ask it, for every call, which endpoints to
try and in what order; they report each outcome back. The pool decides, the transport only talks.

The single policy (``docs/architecture.md``, "Endpoint failover"):

* **Ordering**: healthy endpoints first, in configured order; then cooling ones, the one whose
  cooldown ends soonest first (a call still gets an answer when every endpoint failed recently).
  Refused endpoints are never tried.
* **What fails an endpoint over** (:class:`Failure`): ``TRANSPORT`` (refused, reset, timeout,
  an answer that is not the protocol) and ``ENDPOINT`` (an answer about the node: lagging, rate
  limited, method unsupported, a lie) put it into cooldown and the call moves on. An error of the
  *request itself* (a revert, a height not committed yet, an invalid query) is not reported here: any
  node of the chain would give it, so the endpoint stays healthy and the caller gets the error.
* **Cooldown**: a failed endpoint is cooling for :data:`ENDPOINT_COOLDOWN_S` after its last failure;
  then it is healthy again and, being earlier in configured order, is tried first once more.
* **Chain identity**: an endpoint that serves another chain is *refused* for the pool's lifetime
  (:meth:`EndpointPool.refuse`): a misconfigured backup must be fixed, not retried every cooldown.

Invariants: every decision takes the clock (``now``, monotonic seconds) as a parameter and is pure
arithmetic over the recorded state, so the policy is unit-tested without sockets or sleeps; the state
is guarded by one lock, so a pool is shared by the threads of one client.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

ENDPOINT_COOLDOWN_S: Final = 30.0
"""Seconds a failed endpoint is tried only after the healthy ones: long enough that a hanging node does
not cost a full request timeout on every call after a failover, short enough that a restarted primary
is back in use within a minute."""


class Failure(StrEnum):
    """Why a call on an endpoint failed over (the last one is kept per endpoint, for metrics)."""

    TRANSPORT = "transport"
    """Connection refused or reset, timeout, an answer that is not the protocol at all."""
    ENDPOINT = "endpoint"
    """An answer about this node, not the request: lagging, rate limited, method unsupported, a lie."""
    WRONG_CHAIN = "wrong_chain"
    """The endpoint serves another chain: refused, never retried."""


class EndpointState(StrEnum):
    HEALTHY = "healthy"
    COOLING = "cooling"
    REFUSED = "refused"


STATE_GAUGE_VALUE: Final = {EndpointState.HEALTHY: 0, EndpointState.COOLING: 1, EndpointState.REFUSED: 2}
"""The numeric value of ``exorelay_endpoint_state`` (Prometheus gauges carry numbers)."""


@dataclass(frozen=True, slots=True)
class EndpointHealth:
    """One endpoint as the pool sees it at ``now`` (for metrics, logs and ``health-check``)."""

    url: str
    state: EndpointState
    failovers: int
    """Calls that moved on from this endpoint to the next one because it failed."""
    consecutive_failures: int
    last_failure: Failure | None
    last_error: str | None
    cooldown_ends_at: float | None


class _Entry:
    __slots__ = (
        "consecutive_failures",
        "cooldown_ends_at",
        "failovers",
        "last_error",
        "last_failure",
        "refused",
    )

    def __init__(self) -> None:
        self.failovers = 0
        self.consecutive_failures = 0
        self.last_failure: Failure | None = None
        self.last_error: str | None = None
        self.cooldown_ends_at: float | None = None
        self.refused = False

    def state(self, now: float) -> EndpointState:
        if self.refused:
            return EndpointState.REFUSED
        if self.cooldown_ends_at is not None and now < self.cooldown_ends_at:
            return EndpointState.COOLING
        return EndpointState.HEALTHY


class EndpointPool:
    """An ordered set of endpoints of one chain with the failover policy of the module docstring."""

    def __init__(self, urls: Sequence[str], *, cooldown_s: float = ENDPOINT_COOLDOWN_S) -> None:
        if isinstance(urls, str) or not urls:
            raise ValueError("an endpoint pool needs a non-empty list of endpoints")
        if len(set(urls)) != len(urls):
            raise ValueError("duplicate endpoint")
        if not cooldown_s > 0:
            raise ValueError("cooldown_s must be positive")
        self._urls: tuple[str, ...] = tuple(urls)
        self._cooldown_s = cooldown_s
        self._entries = {url: _Entry() for url in self._urls}
        self._active = self._urls[0]
        self._switches = 0
        self._lock = threading.Lock()

    @property
    def urls(self) -> tuple[str, ...]:
        return self._urls

    @property
    def active(self) -> str:
        """The endpoint that answered last (the first configured one before any answer)."""
        return self._active

    @property
    def switches(self) -> int:
        """How many times the answering endpoint changed after a failure (the clients' failover count)."""
        return self._switches

    def order(self, now: float) -> list[str]:
        """Endpoints to try for one call: healthy in configured order, then cooling by cooldown end."""
        with self._lock:
            healthy = [u for u in self._urls if self._entries[u].state(now) is EndpointState.HEALTHY]
            cooling = [u for u in self._urls if self._entries[u].state(now) is EndpointState.COOLING]
            cooling.sort(key=lambda u: (self._entries[u].cooldown_ends_at or 0.0, self._urls.index(u)))
            return [*healthy, *cooling]

    def succeeded(self, url: str, now: float) -> bool:
        """``url`` answered (possibly with an error of the request itself). True when the call had
        failed over to it, i.e. the answering endpoint changed."""
        del now  # an answer clears the state whatever the time; kept for a uniform signature
        with self._lock:
            entry = self._entries[url]
            entry.consecutive_failures = 0
            entry.cooldown_ends_at = None
            if url == self._active:
                return False
            switched = self._entries[self._active].consecutive_failures > 0 or self._active_refused()
            self._active = url
            if switched:
                self._switches += 1
            return switched

    def failed(self, url: str, failure: Failure, error: str, now: float) -> None:
        """``url`` failed the call with a ``failure`` that moves the call on: it cools down."""
        if failure is Failure.WRONG_CHAIN:
            self.refuse(url, error)
            return
        with self._lock:
            entry = self._entries[url]
            entry.failovers += 1
            entry.consecutive_failures += 1
            entry.last_failure = failure
            entry.last_error = error
            entry.cooldown_ends_at = now + self._cooldown_s

    def refuse(self, url: str, error: str) -> None:
        """``url`` serves another chain: never try it again."""
        with self._lock:
            entry = self._entries[url]
            if not entry.refused:
                entry.failovers += 1
            entry.refused = True
            entry.consecutive_failures += 1
            entry.last_failure = Failure.WRONG_CHAIN
            entry.last_error = error
            entry.cooldown_ends_at = None

    def refused(self) -> dict[str, str]:
        """Refused endpoints and why."""
        with self._lock:
            return {u: e.last_error or "" for u, e in self._entries.items() if e.refused}

    def health(self, now: float) -> tuple[EndpointHealth, ...]:
        with self._lock:
            return tuple(
                EndpointHealth(
                    url=url,
                    state=entry.state(now),
                    failovers=entry.failovers,
                    consecutive_failures=entry.consecutive_failures,
                    last_failure=entry.last_failure,
                    last_error=entry.last_error,
                    cooldown_ends_at=entry.cooldown_ends_at,
                )
                for url, entry in self._entries.items()
            )

    def _active_refused(self) -> bool:
        return self._entries[self._active].refused
