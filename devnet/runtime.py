"""A running Exocore devnet: the node plus its CometBFT RPC/websocket and Cosmos gRPC servers.

Used in-process by tests and by the ``exorelay devnet up`` daemon::

    with ExocoreDevnet(genesis, store, block_time_s=1.0) as devnet:
        print(devnet.rpc_url, devnet.grpc_target)
"""

from __future__ import annotations

from devnet.chain.blockstore import BlockStore
from devnet.chain.node import DevnetNode
from devnet.chain.params import Genesis, seed_material
from devnet.grpc.server import DevnetGrpcServer
from devnet.rpc.encoding import NodeIdentity
from devnet.rpc.server import CometRpcServer

DEVNET_MONIKER = "exocore-devnet"


class ExocoreDevnet:
    """Node + servers; ports 0 pick free ones (read them from the properties after :meth:`start`)."""

    def __init__(
        self,
        genesis: Genesis,
        store: BlockStore,
        *,
        block_time_s: float | None = None,
        host: str = "127.0.0.1",
        rpc_port: int = 0,
        grpc_port: int = 0,
    ) -> None:
        self.identity = NodeIdentity(
            moniker=DEVNET_MONIKER, node_pub_key=seed_material(genesis.seed, "node-key")
        )
        self.rpc = CometRpcServer(store, self.identity, host=host, port=rpc_port)
        self.node = DevnetNode(genesis, store, block_time_s=block_time_s, on_rpc_outage=self.rpc.set_outage)
        self._host = host
        self._grpc_port = grpc_port
        self.grpc: DevnetGrpcServer | None = None

    @property
    def store(self) -> BlockStore:
        return self.node.store

    @property
    def rpc_url(self) -> str:
        return self.rpc.url

    @property
    def ws_url(self) -> str:
        return self.rpc.ws_url

    @property
    def grpc_target(self) -> str:
        if self.grpc is None:
            raise RuntimeError("the devnet is not started")
        return self.grpc.target

    def start(self) -> None:
        self.rpc.start()
        self.grpc = DevnetGrpcServer(
            self.node.store,
            self.identity,
            queries=self.node,
            driver=self.node,
            host=self._host,
            port=self._grpc_port,
            comet_rpc_address=self.rpc.url.replace("http://", "tcp://"),
        )
        self.grpc.start()
        self.node.start()

    def stop(self) -> None:
        self.node.stop()
        if self.grpc is not None:
            self.grpc.stop()
        self.rpc.stop()

    def __enter__(self) -> ExocoreDevnet:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
