"""The recorded Exocore, served over the real wire protocols: CometBFT JSON-RPC and Cosmos gRPC.

The relayer under replay is not told it is replaying: it talks to these servers with its ordinary
clients and decodes the recorded answers with its ordinary code.

- :class:`ReplayRpcServer` answers ``health``, ``status``, ``block`` and ``block_results`` (single
  requests and batches, POST) with the recorded JSON-RPC results. ``status`` is the recorded one with
  its ``sync_info`` moved to the recorded range (latest = ``to``, earliest = ``from``): the node
  "is" at the end of the recording and has pruned what came before it. Heights outside the range
  get CometBFT's own errors for them (not committed yet / pruned), so the follower stops at ``to``.
- :class:`ReplayGrpcServer` serves the exocore query services through the devnet's servicers (the
  same request validation, filters and Cosmos pagination) over a :class:`RecordedChain`, answering
  at the recorded state height; ``PacketSignatures`` answers are the recorded ones, byte for byte.
  Data the recording does not hold (leaves of distributions older than the range, slashes) is
  refused with ``FAILED_PRECONDITION`` and says so, rather than invented.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, TypeVar

import grpc
from cosmpy.protos.cosmos.base.tendermint.v1beta1 import query_pb2 as tendermint_query
from cosmpy.protos.cosmos.base.tendermint.v1beta1 import query_pb2_grpc as tendermint_grpc

from devnet.grpc.context import send_height
from devnet.grpc.errors import ChainRequestError, NotFoundError
from devnet.grpc.queries import ChainQueries
from devnet.grpc.services import (
    AvsQueryService,
    FeeDistributionQueryService,
    OperatorQueryService,
    RelayQueryService,
    run_guarded,
)
from relayer.exocore.proto.avs.v1 import query_pb2_grpc as avs_grpc
from relayer.exocore.proto.avs.v1 import types_pb2 as avs_types
from relayer.exocore.proto.feedistribution.v1 import query_pb2_grpc as fee_grpc
from relayer.exocore.proto.feedistribution.v1 import types_pb2 as fee_types
from relayer.exocore.proto.operator.v1 import query_pb2 as operator_query
from relayer.exocore.proto.operator.v1 import query_pb2_grpc as operator_grpc
from relayer.exocore.proto.operator.v1 import tx_pb2 as operator_tx
from relayer.exocore.proto.operator.v1 import types_pb2 as operator_types
from relayer.exocore.proto.relay.v1 import query_pb2 as relay_query
from relayer.exocore.proto.relay.v1 import query_pb2_grpc as relay_grpc
from relayer.exocore.proto.relay.v1 import types_pb2 as relay_types
from relayer.replay.fixture import JSON, Fixture, parse_message, parse_messages

_log = logging.getLogger(__name__)

R = TypeVar("R")

HOST: Final = "127.0.0.1"
"""The replayed node is for the replaying relayer only: never bound to other interfaces."""
GRPC_WORKER_THREADS: Final = 8
"""One relayer (pipeline + indexer feed) at a time; the devnet's server uses the same."""
GRPC_STOP_GRACE_S: Final = 1.0
"""In-flight queries get this long to finish on stop."""
MAX_REQUEST_BYTES: Final = 1024 * 1024
"""A JSON-RPC request of the relayer is a few hundred bytes (a batch of 10 calls ~1 KB)."""

# CometBFT's JSON-RPC error codes (rpc/jsonrpc/types) and the messages that go with them.
INTERNAL_ERROR: Final = (-32603, "Internal error")
METHOD_NOT_FOUND: Final = (-32601, "Method not found")
INVALID_REQUEST: Final = (-32600, "Invalid Request")
PARSE_ERROR: Final = (-32700, "Parse error")
INVALID_PARAMS: Final = (-32602, "Invalid params")


# --- CometBFT JSON-RPC ---------------------------------------------------------------------------------


class _RpcFault(Exception):  # noqa: N818 - a JSON-RPC error answer, not a failure of the server
    def __init__(self, code_and_message: tuple[int, str], data: str) -> None:
        super().__init__(data)
        self.code, self.message = code_and_message
        self.data = data

    def to_json(self) -> JSON:
        return {"code": self.code, "message": self.message, "data": self.data}


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def replay_status(fixture: Fixture) -> JSON:
    """The recorded ``status`` with its ``sync_info`` at the recorded range (see the module docstring)."""
    status = copy.deepcopy(fixture.rpc.status)
    sync = status.setdefault("sync_info", {})
    for prefix, height in (("latest", fixture.to_height), ("earliest", fixture.from_height)):
        block = fixture.rpc.blocks[height]
        sync[f"{prefix}_block_height"] = str(height)
        sync[f"{prefix}_block_hash"] = _dig(block, "block_id", "hash")
        sync[f"{prefix}_app_hash"] = _dig(block, "block", "header", "app_hash")
        sync[f"{prefix}_block_time"] = _dig(block, "block", "header", "time")
    sync["catching_up"] = False
    return status


class RecordedRpc:
    """The JSON-RPC methods over a fixture (pure: no sockets)."""

    def __init__(self, fixture: Fixture) -> None:
        self.fixture = fixture
        self.status = replay_status(fixture)

    def _height(self, params: Any) -> int:
        raw = params.get("height") if isinstance(params, dict) else (params[0] if params else None)
        latest = self.fixture.to_height
        if raw is None or raw in {"", 0, "0"}:
            return latest
        try:
            height = int(raw)
        except (TypeError, ValueError) as exc:
            raise _RpcFault(INVALID_PARAMS, f"error converting json params to arguments: {exc}") from exc
        if height < 0:
            raise _RpcFault(INTERNAL_ERROR, f"height must be greater than or equal to 0, but got {height}")
        if height > latest:
            raise _RpcFault(
                INTERNAL_ERROR,
                f"height {height} must be less than or equal to the current blockchain height {latest}",
            )
        if height < self.fixture.from_height:
            raise _RpcFault(
                INTERNAL_ERROR,
                f"height {height} is not available, lowest height is {self.fixture.from_height}",
            )
        return height

    def call(self, method: str, params: Any) -> Any:
        if method == "health":
            return {}
        if method == "status":
            return self.status
        if method == "block":
            return self.fixture.rpc.blocks[self._height(params)]
        if method == "block_results":
            return self.fixture.rpc.block_results[self._height(params)]
        raise _RpcFault(METHOD_NOT_FOUND, f"method {method!r} is not in the recording")

    def answer(self, request: Any) -> JSON | None:
        """One JSON-RPC request object -> its answer (None for a notification)."""
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return {
                "jsonrpc": "2.0",
                "id": None,
                "error": _RpcFault(INVALID_REQUEST, "not a request").to_json(),
            }
        if "id" not in request or request["id"] is None:
            return None
        out: JSON = {"jsonrpc": "2.0", "id": request["id"]}
        try:
            out["result"] = self.call(request["method"], request.get("params") or {})
        except _RpcFault as fault:
            out["error"] = fault.to_json()
        return out

    def handle(self, body: bytes) -> Any:
        try:
            decoded = json.loads(body)
        except ValueError as exc:
            return {"jsonrpc": "2.0", "id": None, "error": _RpcFault(PARSE_ERROR, str(exc)).to_json()}
        if isinstance(decoded, list):
            answers = [a for a in (self.answer(item) for item in decoded) if a is not None]
            return answers
        return self.answer(decoded)


class ReplayRpcServer:
    """:class:`RecordedRpc` over HTTP on ``127.0.0.1`` (port 0: a free one), on a background thread."""

    def __init__(self, fixture: Fixture, *, port: int = 0) -> None:
        self.methods = RecordedRpc(fixture)
        self._requested_port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the replay RPC server is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> ReplayRpcServer:
        methods = self.methods

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the relayer's httpx client expects

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_REQUEST_BYTES:
                    self.send_error(413)
                    return
                answer = methods.handle(self.rfile.read(length))
                body = b"" if answer is None else json.dumps(answer, separators=(",", ":")).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                _log.debug("replay rpc: " + format, *args)

        server = ThreadingHTTPServer((HOST, self._requested_port), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="replay-rpc", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> ReplayRpcServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


# --- Cosmos gRPC ---------------------------------------------------------------------------------------


class NotRecordedError(ChainRequestError):
    """The recording does not hold what was asked (answered FAILED_PRECONDITION, never invented)."""

    status_code = grpc.StatusCode.FAILED_PRECONDITION


class RecordedChain:
    """:class:`devnet.grpc.queries.ChainQueries` over the gRPC part of a fixture."""

    def __init__(self, fixture: Fixture) -> None:
        recorded = fixture.grpc
        self.from_height = fixture.from_height
        self.state_height = recorded.state_height
        self.node_info = parse_message(tendermint_query.GetNodeInfoResponse, recorded.node_info, "node_info")
        self._params = parse_message(relay_types.Params, recorded.relay_params, "relay_params")
        self._packets = {
            int(p.nonce): p for p in parse_messages(relay_types.Packet, recorded.packets, "packets")
        }
        self._signatures = {
            nonce: parse_message(
                relay_query.QueryPacketSignaturesResponse, data, f"packet_signatures[{nonce}]"
            )
            for nonce, data in recorded.packet_signatures.items()
        }
        self._valsets = {
            nonce: parse_message(relay_types.Valset, data, f"valsets[{nonce}]")
            for nonce, data in recorded.valsets.items()
        }
        self._current_valset = recorded.current_valset_nonce
        self._distributions = {
            int(d.nonce): d
            for d in parse_messages(fee_types.Distribution, recorded.distributions, "distributions")
        }
        self._leaves = {
            nonce: parse_messages(fee_types.DistributionLeaf, leaves, f"distribution_leaves[{nonce}]")
            for nonce, leaves in recorded.distribution_leaves.items()
        }
        self._avs = {
            info.avs_address: info
            for info in parse_messages(avs_types.AVSInfo, recorded.avs_infos, "avs_infos")
        }
        self._committees = {
            (entry.avs, entry.epoch): parse_message(avs_types.Committee, entry.committee, "committee")
            for entry in recorded.committees
        }
        self._claims = parse_messages(avs_types.RewardClaim, recorded.reward_claims, "reward_claims")

    # -- exocore.avs.v1 --

    def avs_info(self, avs_address: str) -> avs_types.AVSInfo | None:
        return self._avs.get(avs_address)

    def avs_infos(self) -> Sequence[avs_types.AVSInfo]:
        return [self._avs[key] for key in sorted(self._avs)]

    def committee(self, avs_address: str, epoch: int) -> avs_types.Committee | None:
        if epoch == 0:  # the current epoch: the newest one recorded
            epochs = [e for (avs, e) in self._committees if avs == avs_address]
            if not epochs:
                return None
            epoch = max(epochs)
        return self._committees.get((avs_address, epoch))

    def reward_claim(self, claim_id: bytes) -> avs_types.RewardClaim | None:
        return next((claim for claim in self._claims if claim.claim_id == claim_id), None)

    def reward_claims(self) -> Sequence[avs_types.RewardClaim]:
        return list(self._claims)

    # -- exocore.feedistribution.v1 --

    def distribution(self, nonce: int) -> fee_types.Distribution | None:
        return self._distributions.get(nonce)

    def distribution_for_claim(self, claim_id: bytes) -> fee_types.Distribution | None:
        return next((d for d in self._distributions.values() if d.claim_id == claim_id), None)

    def distributions(self) -> Sequence[fee_types.Distribution]:
        return [self._distributions[nonce] for nonce in sorted(self._distributions)]

    def distribution_leaves(self, nonce: int) -> Sequence[fee_types.DistributionLeaf]:
        leaves = self._leaves.get(int(nonce))
        if leaves is None:
            raise NotRecordedError(
                f"the leaves of distribution {nonce} are not in the recording (created before height "
                f"{self.from_height})"
            )
        return leaves

    def has_withdrawal_approval(self, nonce: int) -> bool:
        """A recording holds the leaves it fetched; leaves of a nonce with no distribution record are
        a withdrawal approval's."""
        return int(nonce) in self._leaves and self.distribution(nonce) is None

    def cumulative_leaves(
        self, period: int, l1_chain_id: int = 0
    ) -> Sequence[fee_types.CumulativeLeaf] | None:
        """Recordings carry no cumulative periods (record/replay predates them): none is served."""
        del period, l1_chain_id
        return None

    # -- exocore.operator.v1 (the relayer reads slashes from events, so none are recorded; nor are
    # operator registrations, which it does not read) --

    def operator_info(self, account: str) -> operator_tx.OperatorInfo | None:
        return None

    def operator_accounts(self) -> Sequence[str]:
        return []

    def slash_info(self, slash_id: bytes) -> operator_types.OperatorSlashInfo | None:
        raise NotRecordedError("slash records are not in the recording")

    def slash_infos(self) -> Sequence[operator_types.OperatorSlashInfo]:
        raise NotRecordedError("slash records are not in the recording")

    def freezing_slash(
        self, operator_account: str, avs_address: str
    ) -> operator_types.OperatorSlashInfo | None:
        raise NotRecordedError("freeze records are not in the recording")

    def asset_custody(self, asset_id: str) -> operator_query.QueryAssetCustodyResponse:
        raise NotRecordedError("stake totals are not in the recording")

    # -- exocore.relay.v1 --

    def packet(self, nonce: int) -> relay_types.Packet | None:
        return self._packets.get(int(nonce))

    def packets(self) -> Sequence[relay_types.Packet]:
        return [self._packets[nonce] for nonce in sorted(self._packets)]

    def packet_signatures(self, nonce: int) -> Sequence[relay_types.ValidatorSignature]:
        return list(self.recorded_signatures(nonce).signatures)

    def recorded_signatures(self, nonce: int) -> relay_query.QueryPacketSignaturesResponse:
        answer = self._signatures.get(int(nonce))
        if answer is None:
            raise NotFoundError(f"no signatures of packet {nonce}")
        return answer

    def valset(self, valset_nonce: int) -> relay_types.Valset | None:
        return self._valsets.get(int(valset_nonce))

    def current_valset(self) -> relay_types.Valset | None:
        return None if self._current_valset is None else self._valsets.get(self._current_valset)

    def relay_params(self) -> relay_types.Params:
        return self._params


class _AtRecordedHeight:
    """A devnet query servicer answering from a :class:`RecordedChain` at its recorded state height
    (``x-cosmos-block-height``), as the node's answers did."""

    _queries: ChainQueries

    def __init__(self, chain: RecordedChain) -> None:
        # The devnet servicer's dependencies are its queries and a store for the height: the height
        # is the recorded one here, so no store is involved.
        self._queries = chain
        self._state_height = chain.state_height

    def _answer(self, context: Any, action: Callable[[], R]) -> R:
        send_height(context, self._state_height)
        return run_guarded(context, action)


class _AvsQuery(_AtRecordedHeight, AvsQueryService):
    pass


class _FeeQuery(_AtRecordedHeight, FeeDistributionQueryService):
    pass


class _OperatorQuery(_AtRecordedHeight, OperatorQueryService):
    pass


class _RelayQuery(_AtRecordedHeight, RelayQueryService):
    def __init__(self, chain: RecordedChain) -> None:
        super().__init__(chain)
        self._chain = chain

    def PacketSignatures(  # noqa: N802 - gRPC method name
        self, request: relay_query.QueryPacketSignaturesRequest, context: Any
    ) -> relay_query.QueryPacketSignaturesResponse:
        return self._answer(context, lambda: self._chain.recorded_signatures(request.nonce))


class _Tendermint(tendermint_grpc.ServiceServicer):  # type: ignore[misc]  # cosmpy is untyped
    def __init__(self, chain: RecordedChain) -> None:
        self._chain = chain

    def GetNodeInfo(  # noqa: N802 - gRPC method name
        self, request: tendermint_query.GetNodeInfoRequest, context: Any
    ) -> tendermint_query.GetNodeInfoResponse:
        return self._chain.node_info


class ReplayGrpcServer:
    """The exocore query services (and GetNodeInfo) over a :class:`RecordedChain`, on ``127.0.0.1``."""

    def __init__(self, fixture: Fixture, *, port: int = 0) -> None:
        self.chain = RecordedChain(fixture)
        self._requested_port = port
        self._server: grpc.Server | None = None
        self._port: int | None = None

    @property
    def target(self) -> str:
        if self._port is None:
            raise RuntimeError("the replay gRPC server is not started")
        return f"{HOST}:{self._port}"

    def start(self) -> ReplayGrpcServer:
        server = grpc.server(ThreadPoolExecutor(max_workers=GRPC_WORKER_THREADS))
        port = server.add_insecure_port(f"{HOST}:{self._requested_port}")
        if port == 0:
            raise OSError(f"cannot bind gRPC to {HOST}:{self._requested_port}")
        tendermint_grpc.add_ServiceServicer_to_server(_Tendermint(self.chain), server)
        avs_grpc.add_QueryServicer_to_server(_AvsQuery(self.chain), server)
        fee_grpc.add_QueryServicer_to_server(_FeeQuery(self.chain), server)
        operator_grpc.add_QueryServicer_to_server(_OperatorQuery(self.chain), server)
        relay_grpc.add_QueryServicer_to_server(_RelayQuery(self.chain), server)
        server.start()
        self._server, self._port = server, port
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop(GRPC_STOP_GRACE_S).wait()

    def __enter__(self) -> ReplayGrpcServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
