"""``cosmos.base.tendermint.v1beta1.Service`` (what cosmpy's LedgerClient calls) from the block store.

Answers follow the Cosmos SDK 0.47 ``client/grpc/cmtservice`` implementation: blocks come with both
the deprecated ``block`` (proposer as bytes) and ``sdk_block`` (proposer as a ``valcons`` bech32),
validator sets are paged through CometBFT's ``validators`` (``page = offset / limit + 1``), and a height
above the chain is ``InvalidArgument`` with the SDK's message.
"""

from __future__ import annotations

from typing import Any

import grpc
from cosmpy.protos.cosmos.base.query.v1beta1.pagination_pb2 import PageResponse
from cosmpy.protos.cosmos.base.tendermint.v1beta1 import query_pb2, query_pb2_grpc
from cosmpy.protos.cosmos.base.tendermint.v1beta1 import types_pb2 as sdk_types
from cosmpy.protos.cosmos.crypto.ed25519.keys_pb2 import PubKey as Ed25519PubKey
from cosmpy.protos.tendermint.p2p import types_pb2 as p2p
from cosmpy.protos.tendermint.types import block_pb2, types_pb2
from cosmpy.protos.tendermint.version import types_pb2 as version_pb2
from google.protobuf.any_pb2 import Any as AnyProto
from google.protobuf.timestamp_pb2 import Timestamp

from devnet.chain.blockstore import Block, BlockId, BlockStore, Validator
from devnet.grpc.context import abort
from devnet.rpc.encoding import (
    COMETBFT_VERSION,
    NODE_CHANNELS_HEX,
    P2P_PROTOCOL_VERSION,
    NodeIdentity,
)
from devnet.rpc.methods import VALIDATORS_MAX_PER_PAGE
from relayer.protocol import bech32

# Bech32 prefix of consensus addresses on Exocore (``exovalcons``; Imuachain renamed it ``imvalcons``).
CONSENSUS_ADDRESS_PREFIX = "exovalcons"
ED25519_PUBKEY_TYPE_URL = "/cosmos.crypto.ed25519.PubKey"
# types/query/pagination.go: DefaultLimit.
VALIDATORS_DEFAULT_LIMIT = 100
HEIGHT_TOO_HIGH = "requested block height is bigger then the chain length"
NANOS_PER_SECOND = 1_000_000_000


def _timestamp(time_ns: int) -> Timestamp:
    seconds, nanos = divmod(time_ns, NANOS_PER_SECOND)
    return Timestamp(seconds=seconds, nanos=nanos)


def _block_id(block_id: BlockId | None) -> Any:
    if block_id is None:
        return types_pb2.BlockID()
    return types_pb2.BlockID(
        hash=block_id.hash,
        part_set_header=types_pb2.PartSetHeader(total=block_id.part_set_total, hash=block_id.part_set_hash),
    )


def _header_fields(block: Block) -> dict[str, Any]:
    return {
        "version": version_pb2.Consensus(block=11, app=0),
        "chain_id": block.chain_id,
        "height": block.height,
        "time": _timestamp(block.time_ns),
        "last_block_id": _block_id(block.last_block_id),
        "last_commit_hash": block.last_commit_hash,
        "data_hash": block.data_hash,
        "validators_hash": block.validators_hash,
        "next_validators_hash": block.next_validators_hash,
        "consensus_hash": block.consensus_hash,
        "app_hash": block.app_hash,
        "last_results_hash": block.last_results_hash,
        "evidence_hash": block.evidence_hash,
    }


def _commit(block: Block) -> Any:
    return types_pb2.Commit(
        height=block.height - 1,
        round=0,
        block_id=_block_id(block.last_block_id),
        signatures=[
            types_pb2.CommitSig(
                block_id_flag=sig.block_id_flag,
                validator_address=b"" if sig.signature is None else sig.validator_address,
                timestamp=Timestamp() if sig.signature is None else _timestamp(sig.time_ns),
                signature=sig.signature or b"",
            )
            for sig in block.last_commit
        ],
    )


def consensus_address(address: bytes) -> str:
    return bech32.encode_bytes(CONSENSUS_ADDRESS_PREFIX, address)


def block_messages(block: Block) -> tuple[Any, Any, Any]:
    """(BlockID, tendermint.types.Block, cosmos.base.tendermint.v1beta1.Block) for ``block``."""
    data = types_pb2.Data(txs=list(block.txs))
    header_fields = _header_fields(block)
    legacy = block_pb2.Block(
        header=types_pb2.Header(**header_fields, proposer_address=block.proposer_address),
        data=data,
        last_commit=_commit(block),
    )
    sdk_block = sdk_types.Block(
        header=sdk_types.Header(**header_fields, proposer_address=consensus_address(block.proposer_address)),
        data=data,
        last_commit=_commit(block),
    )
    return _block_id(block.block_id), legacy, sdk_block


def _validator_message(validator: Validator) -> Any:
    pub_key = AnyProto(
        type_url=ED25519_PUBKEY_TYPE_URL, value=Ed25519PubKey(key=validator.pub_key).SerializeToString()
    )
    return query_pb2.Validator(
        address=consensus_address(validator.address),
        pub_key=pub_key,
        voting_power=validator.voting_power,
        proposer_priority=validator.proposer_priority,
    )


class TendermintService(query_pb2_grpc.ServiceServicer):  # type: ignore[misc]  # cosmpy is untyped
    """Serves the store; ``ABCIQuery`` stays UNIMPLEMENTED (cosmpy's base class)."""

    def __init__(self, store: BlockStore, identity: NodeIdentity, grpc_address: str = "") -> None:
        self._store = store
        self._identity = identity
        self._grpc_address = grpc_address

    def _block_or_abort(self, height: int, context: Any) -> Block:
        latest = self._store.latest_height or 0
        if height > latest:
            abort(context, grpc.StatusCode.INVALID_ARGUMENT, HEIGHT_TOO_HIGH)
        if height <= 0:
            # The SDK hands the height to CometBFT, whose error comes back as an unknown status.
            abort(context, grpc.StatusCode.UNKNOWN, f"height must be greater than 0, but got {height}")
        block = self._store.get(height)
        if block is None:
            abort(context, grpc.StatusCode.UNKNOWN, f"height {height} is not available")
        return block

    def GetNodeInfo(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        identity = self._identity
        node_info = p2p.DefaultNodeInfo(
            protocol_version=p2p.ProtocolVersion(p2p=P2P_PROTOCOL_VERSION, block=11, app=0),
            default_node_id=identity.node_id,
            listen_addr=identity.listen_addr,
            network=self._store.chain_id,
            version=COMETBFT_VERSION,
            channels=bytes.fromhex(NODE_CHANNELS_HEX),
            moniker=identity.moniker,
            other=p2p.DefaultNodeInfoOther(tx_index="on", rpc_address=self._grpc_address),
        )
        version = query_pb2.VersionInfo(
            name=identity.app_name.removesuffix("d"),
            app_name=identity.app_name,
            version=identity.app_version,
            git_commit=identity.git_commit,
            go_version=identity.go_version,
            cosmos_sdk_version=identity.cosmos_sdk_version,
        )
        return query_pb2.GetNodeInfoResponse(default_node_info=node_info, application_version=version)

    def GetSyncing(self, request: Any, context: Any) -> Any:  # noqa: N802
        return query_pb2.GetSyncingResponse(syncing=False)

    def GetLatestBlock(self, request: Any, context: Any) -> Any:  # noqa: N802
        latest = self._store.latest()
        if latest is None:
            abort(context, grpc.StatusCode.UNKNOWN, "no block committed yet")
        block_id, block, sdk_block = block_messages(latest)
        return query_pb2.GetLatestBlockResponse(block_id=block_id, block=block, sdk_block=sdk_block)

    def GetBlockByHeight(self, request: Any, context: Any) -> Any:  # noqa: N802
        block_id, block, sdk_block = block_messages(self._block_or_abort(int(request.height), context))
        return query_pb2.GetBlockByHeightResponse(block_id=block_id, block=block, sdk_block=sdk_block)

    def _validator_page(self, height: int | None, page_request: Any, context: Any) -> tuple[int, Any, Any]:
        offset = int(page_request.offset) if page_request is not None else 0
        limit = int(page_request.limit) if page_request is not None else 0
        if limit == 0:
            limit = VALIDATORS_DEFAULT_LIMIT
        page = offset // limit + 1
        per_page = min(limit, VALIDATORS_MAX_PER_PAGE)
        latest = self._store.latest_height or 0
        if height is None:
            tip = self._store.latest()
            if tip is None:
                abort(context, grpc.StatusCode.UNKNOWN, "no block committed yet")
            resolved, validators = latest + 1, tip.next_validators
        else:
            resolved, validators = height, self._block_or_abort(height, context).validators
        total = len(validators)
        pages = max((total - 1) // per_page + 1, 1)
        if page > pages:
            self._abort(
                context, grpc.StatusCode.UNKNOWN, f"page should be within [1, {pages}] range, given {page}"
            )
        chosen = validators[(page - 1) * per_page : page * per_page]
        return resolved, [_validator_message(v) for v in chosen], PageResponse(total=total)

    def GetLatestValidatorSet(self, request: Any, context: Any) -> Any:  # noqa: N802
        page = request.pagination if request.HasField("pagination") else None
        height, validators, pagination = self._validator_page(None, page, context)
        return query_pb2.GetLatestValidatorSetResponse(
            block_height=height, validators=validators, pagination=pagination
        )

    def GetValidatorSetByHeight(self, request: Any, context: Any) -> Any:  # noqa: N802
        page = request.pagination if request.HasField("pagination") else None
        height, validators, pagination = self._validator_page(int(request.height), page, context)
        return query_pb2.GetValidatorSetByHeightResponse(
            block_height=height, validators=validators, pagination=pagination
        )
