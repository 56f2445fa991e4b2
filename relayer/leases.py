"""Leases held by one ``exorelay run`` process: which exclusive roles it has now, kept alive by a
renewal thread, and the fences its writes carry.

Several relayer processes share one PostgreSQL database. Each exclusive role is a lease
(``storage.leases``): the signing key (``signer:<chain_id>:<address>``), Exocore ingestion
(``stream:exocore``), L1 ingestion (``stream:l1:<chain_id>``). Every process tries to take every role;
one holds each, the others stand by and take over once it lapses.

Invariants:

- :meth:`LeaseKeeper.holds` is advisory (it spares a standby useless work). Safety is the fence: the
  signer's nonce allocation and every ingestion batch run :meth:`Fence.check` in their own database
  transaction, and the database refuses a stale token there (:class:`storage.errors.StaleLeaseError`),
  whatever this process believes.
- The keeper's thread only talks to the database (one short transaction per lease per tick), so a
  slow chain RPC on the pipeline's thread cannot make the process lose its roles; a process that is
  stopped (SIGSTOP, a pause) stops renewing and loses them, as it should.
- One locked lease row cannot stall the others: the keeper renews every lease on one thread, and a
  row another session keeps locked (a process paused inside a fenced write) makes only that lease's
  renewal give up after ``storage.leases.LEASE_LOCK_TIMEOUT_MS`` (``LeaseBusyError``, retried next
  tick). The paused session's transaction is aborted by the server after
  :func:`idle_in_transaction_timeout_ms` (below the TTL), which frees the row for a takeover within
  the usual bound; on waking, its commit fails and its next fenced write is refused.
- A process believes it holds a lease at most until its own monotonic clock says the TTL passed since
  the renewal *started* (the database's expiry is later or equal), so it stops working before anybody
  else can start.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, NewType

from sqlalchemy import Connection, Engine

from relayer.errors import ExorelayError
from relayer.metrics import RelayerMetrics
from storage import leases
from storage.errors import StaleLeaseError
from storage.leases import Grant, LeaseClock, database_now

_log = logging.getLogger("exorelay.leases")

LeaseName = NewType("LeaseName", str)
HolderId = NewType("HolderId", str)

LEASE_TICK_S: Final = 1.0
"""The keeper renews held leases and tries free ones this often. One second: a standby notices an
expired lease within a second (the takeover bound is the TTL plus this), and a tick costs one short
transaction per lease (three leases x a few processes is a handful of statements per second)."""

IDLE_IN_TRANSACTION_SHARE_OF_TTL: Final = 0.5
"""The relayer's PostgreSQL sessions are aborted by the server after sitting idle inside a
transaction for this share of the lease TTL (5 s at the default 10 s). Below the TTL, so a process
paused inside a fenced write has its locks released before its lease lapses and a standby takes over
within TTL + tick; high enough that no transaction of ours gets near it (they run statements back to
back and make no remote call inside, see ``relayer.l1.txmanager``)."""

STREAM_EXOCORE: Final = LeaseName("stream:exocore")


def idle_in_transaction_timeout_ms(ttl_s: float) -> int:
    """The ``idle_in_transaction_session_timeout`` of the relayer's sessions, in milliseconds."""
    return max(1, int(ttl_s * 1000 * IDLE_IN_TRANSACTION_SHARE_OF_TTL))


def signer_lease(chain_id: int, address: str) -> LeaseName:
    """The lease of one signing key on one L1 chain (a key may sign on several chains)."""
    return LeaseName(f"signer:{chain_id}:{address.lower()}")


def l1_stream_lease(chain_id: int) -> LeaseName:
    return LeaseName(f"stream:l1:{chain_id}")


def new_holder_id(configured: str = "") -> HolderId:
    """``host:pid:random``; a configured name stands in for the host. Always unique per process
    *incarnation* (the random part tells a restarted process with a recycled pid apart): a restarted
    process must not inherit the lease, and its token, of the one it replaces, which may be merely
    paused and about to wake up."""
    return HolderId(f"{configured or socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}")


@dataclass(frozen=True, slots=True)
class Held:
    grant: Grant
    valid_until: float
    """``time.monotonic()`` after which this process stops believing it holds the lease."""


class Fence:
    """The fencing check of one lease, run inside a write's transaction."""

    def __init__(self, keeper: LeaseKeeper, name: LeaseName) -> None:
        self.keeper = keeper
        self.name = name

    def __call__(self, conn: Connection) -> None:
        self.check(conn)

    def check(self, conn: Connection) -> None:
        """Raise :class:`StaleLeaseError` unless the database agrees this process holds the lease
        with the token it was granted (the share lock taken holds off a takeover until commit)."""
        held = self.keeper.held(self.name)
        try:
            if held is None:
                raise StaleLeaseError(self.name, self.keeper.holder, -1, "not held by this process")
            leases.check_fence(conn, self.name, held.grant.holder, held.grant.token, clock=self.keeper.clock)
        except StaleLeaseError:
            self.keeper.metrics.fenced_write_refused(self.name)
            raise


class LeaseKeeper:
    """Acquires and renews this process's leases; :meth:`tick` once, or :meth:`start` a thread."""

    def __init__(
        self,
        engine: Engine,
        holder: HolderId,
        names: Iterable[LeaseName],
        *,
        ttl_s: float,
        clock: LeaseClock = database_now,
        metrics: RelayerMetrics | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        take_over_at_start: bool = False,
    ) -> None:
        self.engine = engine
        self._force_next = take_over_at_start
        """The first tick takes the leases even from a live holder (``storage.leases.acquire``'s
        ``force``): set for SQLite, one process by design, so that a restarted process does not wait
        a TTL for the lease of the one it replaces."""
        self.holder = holder
        self.names = tuple(names)
        self.ttl_s = ttl_s
        self.clock = clock
        self.metrics = metrics or RelayerMetrics()
        self._monotonic = monotonic
        self._held: dict[LeaseName, Held] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        for name in self.names:
            self.metrics.lease_state(name, held=False)

    # -- what this process holds --

    def held(self, name: LeaseName) -> Held | None:
        with self._lock:
            held = self._held.get(name)
        if held is None or self._monotonic() >= held.valid_until:
            return None
        return held

    def holds(self, name: LeaseName) -> bool:
        return self.held(name) is not None

    def token(self, name: LeaseName) -> int | None:
        held = self.held(name)
        return None if held is None else held.grant.token

    def fence(self, name: LeaseName) -> Fence:
        return Fence(self, name)

    # -- renewal --

    def tick(self) -> None:
        """Renew what is held, try what is not; database faults leave the state as the clock makes it
        (a lease not renewed in time is no longer believed held)."""
        for name in self.names:
            started = self._monotonic()
            with self._lock:
                # What was granted, even if this process's clock has given up on it since (woken
                # from a pause): losing it must still be counted and logged.
                had = self._held.get(name)
            try:
                grant = leases.acquire(
                    self.engine, name, self.holder, self.ttl_s, clock=self.clock, force=self._force_next
                )
            except (ExorelayError, OSError) as exc:
                _log.warning("lease %s not renewed: %s", name, exc)
                continue
            except Exception as exc:
                _log.warning("lease %s not renewed: %s: %s", name, type(exc).__name__, exc)
                continue
            with self._lock:
                if grant is None:
                    self._held.pop(name, None)
                else:
                    self._held[name] = Held(grant, started + self.ttl_s)
            self._record(name, had, grant)
        self._force_next = False

    def _record(self, name: LeaseName, had: Held | None, grant: Grant | None) -> None:
        lost = had is not None and (grant is None or grant.token != had.grant.token)
        gained = grant is not None and not grant.renewed
        took_over = grant is not None and gained and grant.previous_holder is not None
        self.metrics.lease_state(name, held=grant is not None, took_over=took_over, lost=lost)
        if lost:
            _log.warning("lease lost", extra={"lease": name, "token": had.grant.token if had else None})
        if gained and grant is not None:
            _log.info(
                "lease acquired",
                extra={
                    "lease": name,
                    "holder": self.holder,
                    "token": grant.token,
                    "took_over_from": grant.previous_holder,
                },
            )

    @property
    def running(self) -> bool:
        """Renewing on its own thread (else whoever drives the process must call :meth:`tick`)."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Tick now (so the first cycle already knows its roles), then every ``LEASE_TICK_S``."""
        self.tick()
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(LEASE_TICK_S):
            self.tick()

    def stop(self, *, release: bool = True) -> None:
        """Stop renewing; with ``release`` give the leases up so a standby takes over at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=LEASE_TICK_S * 5)
        if not release:
            return
        with self._lock:
            held = list(self._held.items())
            self._held.clear()
        for name, entry in held:
            try:
                leases.release(self.engine, name, self.holder, entry.grant.token, clock=self.clock)
            except Exception as exc:
                _log.warning("lease %s not released: %s", name, exc)
            self.metrics.lease_state(name, held=False)
