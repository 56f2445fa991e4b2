"""BlockFollower over real sockets: pull, batch catch-up, resume, and push that drops, stalls or lags
without a height ever being missed, repeated or reordered."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from pydantic import HttpUrl

from relayer.config import ExocoreConfig
from relayer.exocore.errors import HeightNotAvailableError, PushSubscriptionError
from relayer.exocore.follower import BlockFollower, pushed_height
from relayer.exocore.grpc_client import ExocoreGrpcClient
from relayer.exocore.rpc import CometRpcClient, CommittedBlock
from tests.relayer.exocore.servers import FakePushServer, TamperingProxy, TcpProxy, header_event
from tests.support.devnet_chain import CHAIN_ID, grow
from tests.support.devnet_rpc import INITIAL_BLOCKS, DevnetRpc

# How long a test waits for a condition that should hold within a few poll intervals (bounds a hang).
CONDITION_TIMEOUT_S = 60.0
# Poll interval for pull-driven tests: short, so fallbacks show up quickly.
FAST_POLL_S = 0.1
# Poll / safety intervals so long (10x CONDITION_TIMEOUT_S) that only a push can explain a delivery
# within CONDITION_TIMEOUT_S, however busy the machine is.
SLOW_POLL_S = 600.0


def wait_until(condition: Callable[[], bool], timeout_s: float = CONDITION_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


class Consumer:
    """Runs ``follower.follow()`` on a thread, recording every delivered block."""

    def __init__(self, follower: BlockFollower) -> None:
        self.follower = follower
        self.blocks: list[CommittedBlock] = []
        self.stop = threading.Event()
        self.failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            for block in self.follower.follow(self.stop):
                self.blocks.append(block)
        except BaseException as exc:  # surfaced by the test, never swallowed
            self.failure = exc

    @property
    def heights(self) -> list[int]:
        return [block.height for block in self.blocks]

    def wait_for_height(self, height: int, timeout_s: float = CONDITION_TIMEOUT_S) -> None:
        """Until ``height`` was delivered (AssertionError after ``timeout_s``)."""
        wait_until(lambda: bool(self.blocks) and self.blocks[-1].height >= height, timeout_s)

    def __enter__(self) -> Consumer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.follower.close()
        self._thread.join(timeout=CONDITION_TIMEOUT_S)
        assert not self._thread.is_alive()
        assert self.failure is None, self.failure


def assert_exact_chain(blocks: list[CommittedBlock], devnet: DevnetRpc, first: int = 1) -> None:
    assert [b.height for b in blocks] == list(range(first, first + len(blocks)))
    for block in blocks:
        stored = devnet.store.get(block.height)
        assert stored is not None and block.hash == stored.hash


@contextmanager
def rpc_client(url: str) -> Iterator[CometRpcClient]:
    with CometRpcClient([url], chain_id=CHAIN_ID, timeout_s=5.0) as rpc:
        yield rpc


# -- pull -------------------------------------------------------------------------------------------------


def test_follow_by_pull_while_the_chain_grows(devnet: DevnetRpc) -> None:
    with rpc_client(devnet.url) as rpc:
        follower = BlockFollower(rpc, next_height=1, poll_interval_s=FAST_POLL_S)
        with Consumer(follower) as consumer:
            for _ in range(14):
                grow(devnet.store, 1)
                time.sleep(0.02)
            consumer.wait_for_height(INITIAL_BLOCKS + 14)
    assert_exact_chain(consumer.blocks, devnet)
    stats = follower.stats()
    assert stats.next_height == INITIAL_BLOCKS + 15 and stats.errors == 0 and not stats.push_enabled


def test_poll_catches_up_in_batches(devnet: DevnetRpc) -> None:
    grow(devnet.store, 50 - INITIAL_BLOCKS)
    counter = TamperingProxy(devnet.url, lambda method, params, answer: answer)
    with counter, rpc_client(counter.url) as rpc:
        follower = BlockFollower(rpc, next_height=1, batch_blocks=20)
        sizes = [len(follower.poll()) for _ in range(4)]
        assert sizes == [20, 20, 10, 0]
        batches = [request for request in counter.requests if isinstance(request, list)]
        # block + block_results per height, at most rpc.MAX_BATCH_CALLS requests per HTTP batch
        assert [len(batch) for batch in batches] == [10] * 10
        assert follower.next_height == 51
        assert len(follower.poll(max_blocks=5)) == 0


def test_resume_from_any_height_and_seek(devnet: DevnetRpc) -> None:
    with rpc_client(devnet.url) as rpc:
        follower = BlockFollower(rpc, next_height=4)
        assert [b.height for b in follower.poll()] == [4, 5, 6]
        follower.seek(2)
        assert [b.height for b in follower.poll(max_blocks=2)] == [2, 3]
        assert follower.poll(max_blocks=1)[0].height == 4
        with pytest.raises(ValueError, match="positive"):
            follower.seek(0)
        with pytest.raises(ValueError, match="positive"):
            BlockFollower(rpc, next_height=0)


def test_poll_raises_typed_errors_and_keeps_the_cursor(devnet: DevnetRpc) -> None:
    with rpc_client(devnet.url) as rpc:
        follower = BlockFollower(rpc, next_height=3)
        devnet.server.set_outage(True)
        with pytest.raises(ConnectionError):
            follower.poll()
        devnet.server.set_outage(False)
        assert follower.next_height == 3
        assert follower.poll()[0].height == 3


def test_follow_survives_an_outage_without_a_gap(devnet: DevnetRpc) -> None:
    with rpc_client(devnet.url) as rpc:
        follower = BlockFollower(rpc, next_height=1, poll_interval_s=FAST_POLL_S)
        with Consumer(follower) as consumer:
            consumer.wait_for_height(INITIAL_BLOCKS)
            devnet.server.set_outage(True)
            grow(devnet.store, 3)
            wait_until(lambda: follower.stats().errors >= 2)
            devnet.server.set_outage(False)
            consumer.wait_for_height(INITIAL_BLOCKS + 3)
    assert_exact_chain(consumer.blocks, devnet)
    assert "EndpointUnavailableError" in (follower.stats().last_error or "")


def test_a_consumer_failure_does_not_skip_the_block(devnet: DevnetRpc) -> None:
    with rpc_client(devnet.url) as rpc:
        follower = BlockFollower(rpc, next_height=1)
        stream = follower.follow()
        assert next(stream).height == 1
        assert next(stream).height == 2
        stream.close()  # the consumer died while handling block 2
        assert follower.next_height == 2
        assert next(follower.follow()).height == 2


def test_a_status_ahead_of_the_batch_endpoint_is_not_an_error(devnet: DevnetRpc) -> None:
    def ahead(method: str, params: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        if method == "status":
            answer["result"]["sync_info"]["latest_block_height"] = "9"
        return answer

    with TamperingProxy(devnet.url, ahead) as proxy, rpc_client(proxy.url) as rpc:
        follower = BlockFollower(rpc, next_height=7)
        assert follower.poll() == []
        with pytest.raises(HeightNotAvailableError):
            rpc.committed_blocks(7, 9)


# -- push -------------------------------------------------------------------------------------------------


def test_push_wakes_the_puller_and_falls_back_to_pull_when_the_socket_drops(devnet: DevnetRpc) -> None:
    proxy = TcpProxy(devnet.server.port)
    try:
        with rpc_client(proxy.url) as rpc:
            follower = BlockFollower(
                rpc,
                next_height=1,
                push=True,
                poll_interval_s=FAST_POLL_S,
                push_safety_poll_interval_s=SLOW_POLL_S,
            )
            with follower, Consumer(follower) as consumer:
                consumer.wait_for_height(INITIAL_BLOCKS)
                wait_until(lambda: follower.stats().push_connected)
                # Push healthy: the safety poll is SLOW_POLL_S away, so the delivery is the push's doing.
                grow(devnet.store, 2)
                consumer.wait_for_height(INITIAL_BLOCKS + 2)  # a delivery before any poll is due: the push
                assert follower.stats().push_messages >= 1

                # Kill the socket and refuse reconnects: blocks keep coming by pull.
                proxy.refuse_websockets = True
                proxy.kill_websockets()
                wait_until(lambda: not follower.stats().push_connected)
                for _ in range(3):
                    grow(devnet.store, 1)
                    time.sleep(0.05)
                consumer.wait_for_height(INITIAL_BLOCKS + 5)

                # Let the push back in: it reconnects and wakes the puller again.
                proxy.refuse_websockets = False
                wait_until(lambda: follower.stats().push_connected)
                grow(devnet.store, 2)
                consumer.wait_for_height(INITIAL_BLOCKS + 7)
    finally:
        proxy.close()
    assert_exact_chain(consumer.blocks, devnet)
    stats = follower.stats()
    assert stats.push_reconnects >= 1 and proxy.websocket_connections >= 2


def test_a_stalled_socket_is_detected_and_pull_continues(devnet: DevnetRpc) -> None:
    proxy = TcpProxy(devnet.server.port)
    try:
        with rpc_client(proxy.url) as rpc:
            follower = BlockFollower(
                rpc,
                next_height=1,
                push=True,
                poll_interval_s=FAST_POLL_S,
                push_safety_poll_interval_s=SLOW_POLL_S,
                push_stall_timeout_s=0.5,
            )
            with follower, Consumer(follower) as consumer:
                consumer.wait_for_height(INITIAL_BLOCKS)
                wait_until(lambda: follower.stats().push_connected)
                proxy.stall_websockets(True)
                grow(devnet.store, 3)  # their headers are held back by the stalled socket
                wait_until(lambda: follower.stats().push_stalls >= 1)
                consumer.wait_for_height(INITIAL_BLOCKS + 3)
                proxy.stall_websockets(False)
                wait_until(lambda: follower.stats().push_connected)
                grow(devnet.store, 1)
                consumer.wait_for_height(INITIAL_BLOCKS + 4)
    finally:
        proxy.close()
    assert_exact_chain(consumer.blocks, devnet)


def test_a_push_that_skips_ahead_makes_the_puller_fetch_the_gap(devnet: DevnetRpc) -> None:
    push = FakePushServer()
    try:
        with rpc_client(devnet.url) as rpc:
            follower = BlockFollower(
                rpc,
                next_height=1,
                push=True,
                push_url=push.url,
                poll_interval_s=SLOW_POLL_S,
                push_safety_poll_interval_s=SLOW_POLL_S,
            )
            with follower, Consumer(follower) as consumer:
                consumer.wait_for_height(INITIAL_BLOCKS)
                wait_until(lambda: follower.stats().push_connected)
                grow(devnet.store, 4)
                push.push(header_event(INITIAL_BLOCKS + 1))
                push.push("this is not json")
                push.push({"jsonrpc": "2.0", "id": "exorelay-follow", "result": {"data": {}}})
                push.push(header_event(INITIAL_BLOCKS + 4))  # skips three heights
                consumer.wait_for_height(INITIAL_BLOCKS + 4)  # a delivery before any poll is due: the push
                stats = follower.stats()
                assert stats.push_gaps == 1 and stats.push_malformed == 2
                assert stats.last_pushed_height == INITIAL_BLOCKS + 4
    finally:
        push.stop()
    assert_exact_chain(consumer.blocks, devnet)
    assert push.subscriptions[0]["params"] == {"query": "tm.event='NewBlockHeader'"}


def test_a_lagging_push_socket_is_reconnected(devnet: DevnetRpc) -> None:
    push = FakePushServer()
    try:
        with rpc_client(devnet.url) as rpc:
            follower = BlockFollower(
                rpc,
                next_height=1,
                push=True,
                push_url=push.url,
                poll_interval_s=FAST_POLL_S,
                push_safety_poll_interval_s=FAST_POLL_S,
            )
            with follower, Consumer(follower) as consumer:
                wait_until(lambda: follower.stats().push_connected)
                push.push(header_event(2))  # the socket reports height 2 while the tip is 6+
                wait_until(lambda: follower.stats().last_pushed_height == 2)
                grow(devnet.store, 1)
                wait_until(lambda: follower.stats().push_lags >= 1)
                wait_until(lambda: len(push.subscriptions) >= 2)
                consumer.wait_for_height(INITIAL_BLOCKS + 1)
    finally:
        push.stop()
    assert_exact_chain(consumer.blocks, devnet)


def test_pushed_height_shapes() -> None:
    assert pushed_height(header_event(12)) == 12
    new_block = {"result": {"data": {"value": {"block": {"header": {"height": "13"}}}}}}
    assert pushed_height(new_block) == 13
    assert pushed_height({"jsonrpc": "2.0", "id": "x", "result": {}}) is None
    with pytest.raises(PushSubscriptionError, match="not pulling messages fast enough"):
        pushed_height({"error": {"code": -32000, "data": "client is not pulling messages fast enough"}})
    no_header: dict[str, Any] = {"result": {"data": {"value": {}}}}
    bad_messages: list[Any] = [[], no_header, header_event("-1"), header_event("0xa")]
    for bad in bad_messages:
        with pytest.raises((ValueError, KeyError, TypeError)):
            pushed_height(bad)


def test_clients_and_follower_from_the_relayer_config(devnet: DevnetRpc) -> None:
    config = ExocoreConfig(
        chain_id=CHAIN_ID,
        rpc_urls=[HttpUrl(devnet.url)],
        grpc_endpoints=["127.0.0.1:9"],
        websocket=True,
        poll_interval_s=0.25,
        request_timeout_s=3.0,
    )
    with CometRpcClient.from_config(config) as rpc, ExocoreGrpcClient.from_config(config) as exo:
        assert rpc.endpoints == (devnet.url,) and rpc.timeout_s == 3.0 and rpc.chain_id == CHAIN_ID
        assert exo.active_endpoint == "127.0.0.1:9" and exo.chain_id == CHAIN_ID
        follower = BlockFollower.from_config(rpc, config, next_height=2)
        assert follower.stats().push_enabled and follower.next_height == 2
        assert follower.poll()[0].height == 2


def test_polling_alone_opens_the_push_socket_and_close_stops_it_for_good(devnet: DevnetRpc) -> None:
    """`exorelay run` drives poll() from a scheduler job and never calls start(): with
    ``websocket = true`` it must still get the push (it got no socket at all before)."""
    config = ExocoreConfig(
        chain_id=CHAIN_ID, rpc_urls=[HttpUrl(devnet.url)], websocket=True, poll_interval_s=FAST_POLL_S
    )
    with rpc_client(devnet.url) as rpc:
        follower = BlockFollower.from_config(rpc, config, next_height=1)
        assert not follower.stats().push_connected
        assert [b.height for b in follower.poll()] == list(range(1, INITIAL_BLOCKS + 1))
        wait_until(lambda: follower.stats().push_connected)
        grow(devnet.store, 1)
        wait_until(lambda: follower.stats().push_messages >= 1)
        follower.close()
        assert not follower.stats().push_connected
        grow(devnet.store, 1)
        assert [b.height for b in follower.poll()] == [INITIAL_BLOCKS + 1, INITIAL_BLOCKS + 2]
        time.sleep(0.3)
        assert not follower.stats().push_connected  # a poll after close() does not reopen it
