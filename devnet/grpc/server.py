"""Start/stop the devnet's Cosmos gRPC server (insecure, like a node's 9090 port on localhost).

The tendermint service is always served from the block store; the exocore query services need a
:class:`ChainQueries` and the devnet Msg service a :class:`ChainDriver` (each is registered only if
given). ``port=0`` binds a free port; :attr:`DevnetGrpcServer.port` reports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import grpc
from cosmpy.protos.cosmos.auth.v1beta1 import query_pb2_grpc as auth_grpc
from cosmpy.protos.cosmos.bank.v1beta1 import query_pb2_grpc as bank_grpc
from cosmpy.protos.cosmos.base.tendermint.v1beta1 import query_pb2_grpc as tendermint_grpc
from cosmpy.protos.cosmos.consensus.v1 import query_pb2_grpc as consensus_grpc
from cosmpy.protos.cosmos.staking.v1beta1 import query_pb2_grpc as staking_grpc
from cosmpy.protos.cosmos.tx.v1beta1 import service_pb2_grpc as cosmos_tx_grpc
from google.protobuf import descriptor_pool
from grpc_reflection.v1alpha import reflection

from devnet.chain.blockstore import BlockStore
from devnet.grpc.cosmos import (
    AuthQueryService,
    BankQueryService,
    ConsensusQueryService,
    CosmosNode,
    StakingQueryService,
    TxService,
)
from devnet.grpc.driver import ChainDriver
from devnet.grpc.queries import ChainQueries
from devnet.grpc.services import (
    AvsMsgService,
    AvsQueryService,
    DelegationMsgService,
    DevnetMsgService,
    FeeDistributionQueryService,
    OperatorMsgService,
    OperatorQueryService,
    RelayQueryService,
)
from devnet.grpc.tendermint import TendermintService
from devnet.rpc.encoding import NodeIdentity
from relayer.exocore.proto.avs.v1 import query_pb2_grpc as avs_grpc
from relayer.exocore.proto.avs.v1 import tx_pb2_grpc as avs_tx_grpc
from relayer.exocore.proto.delegation.v1 import tx_pb2_grpc as delegation_grpc
from relayer.exocore.proto.devnet.v1 import tx_pb2_grpc as tx_grpc
from relayer.exocore.proto.feedistribution.v1 import query_pb2_grpc as fee_grpc
from relayer.exocore.proto.operator.v1 import query_pb2_grpc as operator_grpc
from relayer.exocore.proto.operator.v1 import tx_pb2_grpc as operator_tx_grpc
from relayer.exocore.proto.relay.v1 import query_pb2_grpc as relay_grpc

# Handler threads: the devnet serves one relayer, an indexer and a test driver at a time.
GRPC_WORKER_THREADS = 8
# Seconds in-flight RPCs get to finish on stop().
GRPC_STOP_GRACE_S = 1.0


def _add_query_services(
    server: Any,
    store: BlockStore,
    identity: NodeIdentity,
    queries: ChainQueries | None,
    rpc_address: str,
    *,
    cosmos: CosmosNode | None = None,
) -> None:
    """Register every query service (tendermint, SDK modules, exocore) on ``server``: the set a node's
    gRPC query router serves, reachable over gRPC and over ABCI ``abci_query``."""
    tendermint = TendermintService(store, identity, grpc_address=rpc_address)
    tendermint_grpc.add_ServiceServicer_to_server(tendermint, server)
    staking_grpc.add_QueryServicer_to_server(StakingQueryService(store), server)
    consensus_grpc.add_QueryServicer_to_server(ConsensusQueryService(store), server)
    if cosmos is not None:
        auth_grpc.add_QueryServicer_to_server(AuthQueryService(cosmos, store), server)
        bank_grpc.add_QueryServicer_to_server(BankQueryService(cosmos, store), server)
    if queries is not None:
        avs_grpc.add_QueryServicer_to_server(AvsQueryService(queries, store), server)
        fee_grpc.add_QueryServicer_to_server(FeeDistributionQueryService(queries, store), server)
        operator_grpc.add_QueryServicer_to_server(OperatorQueryService(queries, store), server)
        relay_grpc.add_QueryServicer_to_server(RelayQueryService(queries, store), server)


@dataclass(frozen=True)
class _CallDetails:
    """The ``grpc.HandlerCallDetails`` a generic handler looks a method up by."""

    method: str
    invocation_metadata: tuple[tuple[str, str], ...] = ()


class _HandlerCollector:
    """Stands in for ``grpc.Server`` in the generated ``add_*_to_server`` functions: keeps the handlers."""

    def __init__(self) -> None:
        self.handlers: dict[str, grpc.RpcMethodHandler] = {}

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        # Older generated code (cosmpy's) registers only this way: ask each handler for every method
        # its service declares in the protobuf descriptor pool.
        for handler in handlers:
            service = handler.service_name()
            for method in descriptor_pool.Default().FindServiceByName(service).methods:
                path = f"/{service}/{method.name}"
                found = handler.service(_CallDetails(path))
                if found is not None:
                    self.handlers.setdefault(path, found)

    def add_registered_method_handlers(
        self, service: str, handlers: Mapping[str, grpc.RpcMethodHandler]
    ) -> None:
        for method, handler in handlers.items():
            self.handlers[f"/{service}/{method}"] = handler


def query_method_handlers(
    store: BlockStore,
    identity: NodeIdentity,
    queries: ChainQueries | None,
    rpc_address: str,
    *,
    cosmos: CosmosNode | None = None,
) -> dict[str, grpc.RpcMethodHandler]:
    """``/<package>.<Service>/<Method>`` -> the handler the gRPC server runs for that query method.

    The CometBFT RPC's ``abci_query`` dispatches gRPC-over-ABCI paths through these, so both front
    ends answer from the same servicers. The devnet Msg service is not a query service: excluded.
    """
    collector = _HandlerCollector()
    _add_query_services(collector, store, identity, queries, rpc_address, cosmos=cosmos)
    return collector.handlers


class DevnetGrpcServer:
    """gRPC server over ``store`` (+ ``queries`` / ``driver`` when given), on ``host:port``."""

    def __init__(
        self,
        store: BlockStore,
        identity: NodeIdentity,
        *,
        queries: ChainQueries | None = None,
        driver: ChainDriver | None = None,
        cosmos: CosmosNode | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        comet_rpc_address: str = "",
    ) -> None:
        self._comet_rpc_address = comet_rpc_address
        self._store = store
        self._identity = identity
        self._queries = queries
        self._driver = driver
        self._cosmos = cosmos
        self._host = host
        self._requested_port = port
        self._server: grpc.Server | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the gRPC server is not started")
        return self._port

    @property
    def target(self) -> str:
        """``host:port`` for ``grpc.insecure_channel``."""
        return f"{self._host}:{self.port}"

    @property
    def url(self) -> str:
        """The form cosmpy's ``NetworkConfig(url=...)`` takes."""
        return f"grpc+http://{self.target}"

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the gRPC server is already started")
        server = grpc.server(ThreadPoolExecutor(max_workers=GRPC_WORKER_THREADS))
        port = server.add_insecure_port(f"{self._host}:{self._requested_port}")
        if port == 0:
            raise RuntimeError(f"cannot bind gRPC to {self._host}:{self._requested_port}")
        self._port = port
        # GetNodeInfo reports the node's CometBFT RPC address, as a node does; default to our own.
        rpc_address = self._comet_rpc_address or f"tcp://{self._host}:{port}"
        collector = _HandlerCollector()
        for target in (server, collector):
            _add_query_services(
                target, self._store, self._identity, self._queries, rpc_address, cosmos=self._cosmos
            )
            if self._cosmos is not None:
                cosmos_tx_grpc.add_ServiceServicer_to_server(TxService(self._cosmos, self._store), target)
            if self._driver is not None:
                tx_grpc.add_MsgServicer_to_server(DevnetMsgService(self._driver), target)
                delegation_grpc.add_MsgServicer_to_server(DelegationMsgService(self._driver), target)
                avs_tx_grpc.add_MsgServicer_to_server(AvsMsgService(self._driver), target)
                operator_tx_grpc.add_MsgServicer_to_server(OperatorMsgService(self._driver), target)
        # Server reflection lists what is served (grpcurl list / describe), as a node's gRPC does.
        services = sorted({path.split("/")[1] for path in collector.handlers})
        reflection.enable_server_reflection((*services, reflection.SERVICE_NAME), server)
        server.start()
        self._server = server

    def stop(self, grace_s: float = GRPC_STOP_GRACE_S) -> None:
        """Stop accepting RPCs and wait for in-flight ones (at most ``grace_s``). Safe to call twice."""
        if self._server is None:
            return
        self._server.stop(grace_s).wait()
        self._server = None

    def __enter__(self) -> DevnetGrpcServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
