"""Follow committed Exocore blocks in strict height order, by pull, optionally accelerated by push.

**Pull** is the source of truth: ``status`` gives the latest committed height, then ``block`` +
``block_results`` are fetched for each height from the cursor on, in JSON-RPC batches when behind.
CometBFT finality is instant, so a committed block is final and there is no reorg handling; the RPC
client still refuses a block whose hash or parent link contradicts what was read before.

**Push** (optional) subscribes to new block headers over the node's ``/websocket``. A pushed
header never becomes a block by itself: it only wakes the puller early, so a dropped, stalled or
lagging socket can delay blocks but never lose, duplicate or reorder them. The socket is
reconnected with exponential backoff when it closes, stays silent longer than
``push_stall_timeout_s``, or lags (the puller finds the tip well past the last pushed height). While
the socket is healthy the puller still polls, slowly, as a safety net.

The follower persists nothing: the caller passes the next height to deliver and records progress
itself, so it can resume from any height. :meth:`BlockFollower.poll` is one non-blocking pull (for
a scheduler job); :meth:`BlockFollower.follow` is a blocking generator that retries errors with
backoff and only moves past a block once the consumer asks for the next one.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Final

from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

from relayer.errors import ExorelayError
from relayer.exocore.errors import HeightNotAvailableError, InconsistentResponseError, PushSubscriptionError
from relayer.exocore.rpc import CometRpcClient, CommittedBlock

_log = logging.getLogger(__name__)

# --- tunables ----------------------------------------------------------------------------------------

# CometBFT commits every ~3 s upstream; polling every second keeps discovery latency under one block
# (same as relayer.config's exocore.poll_interval_s default).
DEFAULT_POLL_INTERVAL_S: Final = 1.0
# Heights fetched per poll when catching up (the RPC client splits them into JSON-RPC batches of
# rpc.MAX_BATCH_CALLS requests, i.e. 5 heights per HTTP round trip on a default CometBFT node). 20
# bounds what one poll holds in memory while keeping a long catch-up to few polls.
CATCH_UP_BATCH_BLOCKS: Final = 20
# While push is healthy, pull anyway this often: a safety net for a socket that silently misses a
# header without stalling outright.
PUSH_SAFETY_POLL_INTERVAL_S: Final = 10.0
# A push socket silent this long is considered stalled and reconnected: 5 block times upstream.
# An idle chain also trips it, which only costs a reconnect.
PUSH_STALL_TIMEOUT_S: Final = 15.0
# The socket is lagging when the pulled tip is this many heights past the last pushed one.
PUSH_LAG_TOLERANCE_BLOCKS: Final = 3
# Connecting (TCP + websocket handshake + subscribe acknowledgement) must finish within this.
PUSH_OPEN_TIMEOUT_S: Final = 5.0
# Reconnect backoff bounds: quick after a one-off drop, at most every 30 s against a dead node.
PUSH_RECONNECT_MIN_S: Final = 0.5
PUSH_RECONNECT_MAX_S: Final = 30.0
# Header events are ~2 KB; 1 MiB (the websockets default) leaves room without letting a hostile
# node make us buffer whole blocks.
PUSH_MAX_MESSAGE_BYTES: Final = 1 << 20
# Upper bound of the error backoff in follow(): keeps retrying a broken node without hammering it.
ERROR_BACKOFF_MAX_S: Final = 30.0

# Headers, not whole blocks: the push only needs the height, and NewBlockHeader messages stay small
# whatever the block size (NewBlock would carry every tx).
PUSH_QUERY: Final = "tm.event='NewBlockHeader'"
_SUBSCRIBE_REQUEST: Final = {
    "jsonrpc": "2.0",
    "id": "exorelay-follow",
    "method": "subscribe",
    "params": {"query": PUSH_QUERY},
}


@dataclass(frozen=True, slots=True)
class FollowerStats:
    """Counters for metrics and ``exorelay status``."""

    next_height: int
    latest_height: int | None
    polls: int
    blocks: int
    errors: int
    last_error: str | None
    push_enabled: bool
    push_connected: bool
    push_messages: int
    push_reconnects: int
    push_stalls: int
    push_lags: int
    push_gaps: int
    push_malformed: int
    last_pushed_height: int | None


def pushed_height(message: Any) -> int | None:
    """Height of a pushed ``NewBlockHeader`` / ``NewBlock`` event, ``None`` for other messages.

    Raises :class:`PushSubscriptionError` for a JSON-RPC error (e.g. the node cancelled the subscription).
    """
    if not isinstance(message, dict):
        raise ValueError("push message is not a JSON object")
    if message.get("error") is not None:
        raise PushSubscriptionError(f"push subscription error: {str(message['error'])[:200]}")
    result = message.get("result")
    if not isinstance(result, dict) or not result:
        return None  # the subscribe acknowledgement ({}) or an empty result
    value = result["data"]["value"]
    header = value["header"] if "header" in value else value["block"]["header"]
    height = header["height"]
    if not isinstance(height, str) or not height.isdigit():
        raise ValueError(f"pushed height {height!r} is not a decimal string")
    return int(height)


class BlockFollower:
    """Committed blocks from ``next_height`` on, in strict height order, never skipping one.

    ``push=True`` starts a background thread holding the websocket subscription (``start()`` /
    ``close()``, or use the follower as a context manager; the first :meth:`poll` or :meth:`follow`
    starts it too, so a caller driving polls from a scheduler gets push without its own
    ``start()``). ``push_url`` overrides the websocket
    URL (default: the RPC client's active endpoint + ``/websocket``). :meth:`poll` / :meth:`follow`
    are meant for one consumer thread; :meth:`stats` and :meth:`close` may be called from any.
    """

    def __init__(
        self,
        rpc: CometRpcClient,
        *,
        next_height: int,
        push: bool = False,
        push_url: str | None = None,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
        batch_blocks: int = CATCH_UP_BATCH_BLOCKS,
        push_safety_poll_interval_s: float = PUSH_SAFETY_POLL_INTERVAL_S,
        push_stall_timeout_s: float = PUSH_STALL_TIMEOUT_S,
    ) -> None:
        if isinstance(next_height, bool) or not isinstance(next_height, int) or next_height < 1:
            raise ValueError(f"next_height must be a positive int, got {next_height!r}")
        if batch_blocks < 1:
            raise ValueError("batch_blocks must be at least 1")
        if not (poll_interval_s > 0 and push_safety_poll_interval_s > 0 and push_stall_timeout_s > 0):
            raise ValueError("intervals and timeouts must be positive")
        self._rpc = rpc
        self._next_height = next_height
        self._previous_hash: bytes | None = None
        self._push_enabled = push
        self._push_url = push_url
        self._poll_interval_s = poll_interval_s
        self._batch_blocks = batch_blocks
        self._safety_interval_s = push_safety_poll_interval_s
        self._stall_timeout_s = push_stall_timeout_s
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._socket: ClientConnection | None = None
        self._latest_height: int | None = None
        self._polls = 0
        self._blocks = 0
        self._errors = 0
        self._last_error: str | None = None
        self._push_connected = False
        self._push_messages = 0
        self._push_reconnects = 0
        self._push_stalls = 0
        self._push_lags = 0
        self._push_gaps = 0
        self._push_malformed = 0
        self._last_pushed: int | None = None

    @classmethod
    def from_config(cls, rpc: CometRpcClient, config: Any, *, next_height: int) -> BlockFollower:
        """Build from ``relayer.config.ExocoreConfig`` (``websocket``, ``poll_interval_s``)."""
        return cls(
            rpc, next_height=next_height, push=bool(config.websocket), poll_interval_s=config.poll_interval_s
        )

    # -- lifecycle --

    def start(self) -> BlockFollower:
        """Start the push thread (no-op without push, or when already started)."""
        with self._lock:
            if not self._push_enabled or self._thread is not None:
                return self
            self._closed = False
            self._stopping.clear()
            self._thread = threading.Thread(target=self._push_loop, name="exocore-push", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop the push thread and wake any waiter. Safe to call twice."""
        self._closed = True
        self._stopping.set()
        self._wake.set()
        self._drop_socket()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=PUSH_OPEN_TIMEOUT_S + 1)

    def __enter__(self) -> BlockFollower:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- state --

    @property
    def next_height(self) -> int:
        """The next height this follower delivers."""
        return self._next_height

    def seek(self, next_height: int) -> None:
        """Resume from ``next_height`` (e.g. the caller failed to process a delivered block)."""
        if isinstance(next_height, bool) or not isinstance(next_height, int) or next_height < 1:
            raise ValueError(f"next_height must be a positive int, got {next_height!r}")
        with self._lock:
            self._next_height = next_height
            self._previous_hash = None

    def stats(self) -> FollowerStats:
        with self._lock:
            return FollowerStats(
                next_height=self._next_height,
                latest_height=self._latest_height,
                polls=self._polls,
                blocks=self._blocks,
                errors=self._errors,
                last_error=self._last_error,
                push_enabled=self._push_enabled,
                push_connected=self._push_connected,
                push_messages=self._push_messages,
                push_reconnects=self._push_reconnects,
                push_stalls=self._push_stalls,
                push_lags=self._push_lags,
                push_gaps=self._push_gaps,
                push_malformed=self._push_malformed,
                last_pushed_height=self._last_pushed,
            )

    # -- pull --

    def poll(self, max_blocks: int | None = None) -> list[CommittedBlock]:
        """One pull: the committed blocks from :attr:`next_height` on (at most ``max_blocks``,
        default one batch), in order; the cursor moves past them. Raises the client's typed error
        if nothing could be fetched; an empty list means the follower is at the tip."""
        blocks = self._fetch(max_blocks)
        for block in blocks:
            self._advance(block)
        return blocks

    def follow(self, stop: threading.Event | None = None) -> Generator[CommittedBlock, None, None]:
        """Yield blocks forever (until ``stop`` is set or :meth:`close`), waiting for new ones.

        Errors of the node (:class:`~relayer.errors.ExorelayError`) are logged, counted in
        :meth:`stats` and retried with backoff; they never end the iteration. The cursor moves past
        a block only when the consumer asks for the next one, so a consumer that fails while
        handling a block resumes at that block.
        """
        stop = stop or threading.Event()
        failures = 0
        while not (stop.is_set() or self._stopping.is_set()):
            try:
                blocks = self._fetch(None)
            except ExorelayError as error:
                failures += 1
                self._record_error(error)
                delay = min(self._poll_interval_s * 2 ** min(failures, 16), ERROR_BACKOFF_MAX_S)
                _log.warning("exocore follower: %s; retrying in %.1f s", error, delay)
                self._sleep(stop, delay)
                continue
            failures = 0
            for block in blocks:
                if stop.is_set() or self._stopping.is_set():
                    return
                yield block
                self._advance(block)
            if len(blocks) < self._batch_blocks:
                self._wait_for_news(stop)

    def _start_push_once(self) -> None:
        # `exorelay run` polls from a scheduler job and never called start(): websocket = true
        # opened no socket at all. The first pull starts the push unless the follower was closed.
        if self._push_enabled and self._thread is None and not self._closed:
            self.start()

    def _fetch(self, max_blocks: int | None) -> list[CommittedBlock]:
        self._start_push_once()
        self._wake.clear()  # a push arriving from now on wakes the next wait
        with self._lock:
            first = self._next_height
            previous_hash = self._previous_hash
            self._polls += 1
        latest = self._rpc.latest_height()
        with self._lock:
            self._latest_height = latest
        self._check_push_lag(latest)
        if latest < first:
            return []
        count = self._batch_blocks if max_blocks is None else max(1, max_blocks)
        last = min(latest, first + count - 1)
        try:
            blocks = self._rpc.committed_blocks(first, last)
        except HeightNotAvailableError:
            return []  # the status came from an endpoint ahead of the one that served the batch
        for offset, block in enumerate(blocks):
            expected = first + offset
            if block.height != expected:
                raise InconsistentResponseError(f"expected block {expected}, got {block.height}")
            if previous_hash is not None and block.block.header.last_block_hash != previous_hash:
                raise InconsistentResponseError(
                    f"block {block.height} does not link to block {block.height - 1} delivered before"
                )
            previous_hash = block.hash
        return blocks

    def _advance(self, block: CommittedBlock) -> None:
        with self._lock:
            if block.height != self._next_height:
                return  # seek() moved the cursor meanwhile
            self._next_height = block.height + 1
            self._previous_hash = block.hash
            self._blocks += 1

    def _record_error(self, error: ExorelayError) -> None:
        with self._lock:
            self._errors += 1
            self._last_error = f"{type(error).__name__}: {error}"

    def _sleep(self, stop: threading.Event, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not (stop.is_set() or self._stopping.is_set()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            # Wake on close() too; a stop event set from outside is noticed within a poll interval.
            self._stopping.wait(min(remaining, self._poll_interval_s))

    def _wait_for_news(self, stop: threading.Event) -> None:
        """Sleep until a push arrives or the poll interval passes (slower while push is healthy)."""
        healthy = self._push_enabled and self._push_connected
        timeout = self._safety_interval_s if healthy else self._poll_interval_s
        deadline = time.monotonic() + timeout
        while not (stop.is_set() or self._stopping.is_set()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self._wake.wait(min(remaining, self._poll_interval_s)):
                return
            if healthy and not self._push_connected:
                return  # the socket dropped while we slept: back to the pull cadence now

    # -- push --

    def _check_push_lag(self, latest: int) -> None:
        with self._lock:
            pushed = self._last_pushed
            lagging = (
                self._push_connected and pushed is not None and latest > pushed + PUSH_LAG_TOLERANCE_BLOCKS
            )
            if lagging:
                self._push_lags += 1
        if lagging:
            _log.warning("exocore push lags: tip %d, last pushed %s; reconnecting", latest, pushed)
            self._drop_socket()

    def _drop_socket(self) -> None:
        socket = self._socket
        if socket is not None:
            try:
                socket.close()
            except (OSError, WebSocketException, RuntimeError):
                _log.debug("closing the push socket failed", exc_info=True)

    def _push_loop(self) -> None:
        backoff = PUSH_RECONNECT_MIN_S
        first = True
        while not self._stopping.is_set():
            if not first:
                with self._lock:
                    self._push_reconnects += 1
            first = False
            url = self._push_url or self._rpc.active_websocket_url()
            ended = "closed"
            try:
                received = self._run_socket(url)
            except (OSError, WebSocketException, TimeoutError, PushSubscriptionError) as error:
                ended = f"{type(error).__name__}: {error}"
                received = False
            finally:
                with self._lock:
                    was_connected, self._push_connected = self._push_connected, False
                    self._socket = None
                self._wake.set()  # let the puller notice at once
            if self._stopping.is_set():
                return
            if received:
                backoff = PUSH_RECONNECT_MIN_S
            if was_connected:
                _log.warning(
                    "exocore push lost (%s, %s); following by pull until it reconnects",
                    url,
                    ended,
                    extra={"push_reconnect_in_s": backoff},
                )
            else:
                _log.info("exocore push refused (%s, %s); retrying in %.1f s", url, ended, backoff)
            if self._stopping.wait(backoff):
                return
            backoff = min(backoff * 2, PUSH_RECONNECT_MAX_S)

    def _run_socket(self, url: str) -> bool:
        """Hold one subscription until it fails; returns whether any header was received."""
        received = False
        with connect(
            url,
            open_timeout=PUSH_OPEN_TIMEOUT_S,
            close_timeout=1,
            max_size=PUSH_MAX_MESSAGE_BYTES,
        ) as socket:
            self._socket = socket
            if self._stopping.is_set():
                return False
            socket.send(json.dumps(_SUBSCRIBE_REQUEST))
            acknowledgement = json.loads(socket.recv(timeout=PUSH_OPEN_TIMEOUT_S))
            if not isinstance(acknowledgement, dict) or acknowledgement.get("result") != {}:
                raise PushSubscriptionError(f"subscribe refused: {str(acknowledgement)[:200]}")
            with self._lock:
                self._push_connected = True
                self._last_pushed = None
            _log.info("exocore push connected (%s)", url)
            self._wake.set()  # pull once now: blocks may have been committed while disconnected
            while not self._stopping.is_set():
                try:
                    text = socket.recv(timeout=self._stall_timeout_s)
                except TimeoutError:
                    with self._lock:
                        self._push_stalls += 1
                    _log.info("exocore push socket silent for %.1f s; reconnecting", self._stall_timeout_s)
                    return received
                self._on_message(text)
                received = True
        return received

    def _on_message(self, text: str | bytes) -> None:
        try:
            height = pushed_height(json.loads(text))
        except PushSubscriptionError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            with self._lock:
                self._push_malformed += 1
            _log.warning("exocore push: ignoring a malformed message (%s)", exc)
            return
        if height is None:
            return
        with self._lock:
            self._push_messages += 1
            previous = self._last_pushed
            if previous is not None and height > previous + 1:
                self._push_gaps += 1  # the pull fetches every height in between anyway
            self._last_pushed = height if previous is None else max(previous, height)
        self._wake.set()


__all__ = [
    "CATCH_UP_BATCH_BLOCKS",
    "DEFAULT_POLL_INTERVAL_S",
    "PUSH_QUERY",
    "BlockFollower",
    "FollowerStats",
    "pushed_height",
]
