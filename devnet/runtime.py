"""A running Exocore devnet: the node plus its CometBFT RPC/websocket and Cosmos gRPC servers.

Used in-process by tests and by the ``exorelay devnet up`` daemon::

    with ExocoreDevnet(genesis, store, block_time_s=1.0) as devnet:
        print(devnet.rpc_url, devnet.grpc_target)
"""

from __future__ import annotations

from devnet.chain.blockstore import BlockStore
from devnet.chain.node import DevnetNode, genesis_app_hash
from devnet.chain.params import Genesis, seed_material
from devnet.grpc.server import DevnetGrpcServer, query_method_handlers
from devnet.rpc import encoding
from devnet.rpc.encoding import JSON, NodeIdentity
from devnet.rpc.methods import AbciQueryRouter
from devnet.rpc.server import CometRpcServer

DEVNET_MONIKER = "exocore-devnet"


def genesis_doc(genesis: Genesis, initial_height: int) -> JSON:
    """The ``/genesis`` result: CometBFT's GenesisDoc for the devnet. ``app_hash`` is the hash the
    first block carries; ``app_state`` is the devnet genesis without the simulated validators' BLS
    secrets (a node's genesis holds no keys)."""
    app_state = genesis.to_json()
    for validator in app_state["validators"]:
        validator.pop("bls_secret", None)
    return encoding.genesis_doc_json(
        chain_id=genesis.chain_id,
        genesis_time_ns=genesis.genesis_time_ns,
        initial_height=initial_height,
        validators=[encoding.GenesisValidatorInfo(v.consensus_pubkey, v.power) for v in genesis.validators],
        app_hash=genesis_app_hash(genesis),
        app_state=app_state,
    )


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
        self.rpc = CometRpcServer(
            store,
            self.identity,
            host=host,
            port=rpc_port,
            genesis=genesis_doc(genesis, store.initial_height),
            pending_txs=self._pending_txs,
        )
        self.node = DevnetNode(genesis, store, block_time_s=block_time_s, on_rpc_outage=self.rpc.set_outage)
        self._host = host
        self._grpc_port = grpc_port
        self.grpc: DevnetGrpcServer | None = None

    def _pending_txs(self) -> tuple[bytes, ...]:
        return self.node.pending_txs()  # the node exists by the time the RPC server answers

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
        comet_rpc_address = self.rpc.url.replace("http://", "tcp://")
        store = self.node.store
        # abci_query runs the gRPC server's own query handlers over the node. Wired once the RPC
        # address is known (GetNodeInfo reports it); the URL is published only after start().
        handlers = query_method_handlers(store, self.identity, self.node, comet_rpc_address, cosmos=self.node)
        router = AbciQueryRouter(handlers, lambda: store.latest_height or 0, self.identity.app_version)
        self.rpc.serve_abci_queries(router)
        self.grpc = DevnetGrpcServer(
            store,
            self.identity,
            queries=self.node,
            driver=self.node,
            cosmos=self.node,
            host=self._host,
            port=self._grpc_port,
            comet_rpc_address=comet_rpc_address,
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
