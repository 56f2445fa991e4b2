"""CometBFT 0.37 JSON shapes for blocks, results, validators and events.

CometBFT serialises RPC results with ``libs/json`` (amino-compatible): 64-bit integers *and Go ``int``*
as decimal strings, ``uint32``/``int32``/bytes-of-a-flag as numbers, ``[]byte`` as base64,
``HexBytes`` (hashes, addresses) as upper-case hex, times as RFC 3339 with nanoseconds in UTC, nil
slices as ``null``, and ``omitempty`` honoured. ABCI ``ResponseDeliverTx`` is the exception: it has
its own ``MarshalJSON`` (gogo jsonpb with ``EmitDefaults``), so inside ``txs_results`` every field is
present (``"code": 0``, ``"info": ""``, ``"index": false``). Since 0.37 event attribute keys and
values are plain strings (0.34 used base64).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from devnet.chain.blockstore import (
    CONSENSUS_PARAMS,
    Block,
    BlockId,
    CommitSig,
    Event,
    TxResult,
    Validator,
    ValidatorUpdate,
    merkle_root,
)

JSON = dict[str, Any]

ED25519_PUBKEY_TYPE = "tendermint/PubKeyEd25519"
# The oneof wrapper libs/json produces for tendermint.crypto.PublicKey inside ABCI ValidatorUpdate.
ABCI_PUBKEY_ED25519_TYPE = "tendermint.crypto.PublicKey_Ed25519"
COMETBFT_VERSION = "0.37.4"
P2P_PROTOCOL_VERSION = 8
# Channel ids a 0.37 node advertises (blocksync, consensus x4, mempool, evidence, statesync x2, pex).
NODE_CHANNELS_HEX = "40202122233038606100"
NANOS_PER_SECOND = 1_000_000_000


def hex_upper(data: bytes) -> str:
    """``HexBytes`` JSON: upper-case hex, empty string for no bytes."""
    return data.hex().upper()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64_or_null(data: bytes) -> str | None:
    """A Go ``[]byte`` that is nil when empty (stdlib json writes nil slices as null)."""
    return b64(data) if data else None


def rfc3339_nano(time_ns: int) -> str:
    """Go ``time.Time.MarshalJSON`` in UTC: RFC 3339 with nanoseconds, trailing zeros dropped."""
    seconds, nanos = divmod(time_ns, NANOS_PER_SECOND)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if nanos:
        stamp += "." + f"{nanos:09d}".rstrip("0")
    return stamp + "Z"


ZERO_TIME = "0001-01-01T00:00:00Z"


def parse_rfc3339_nano(text: str) -> int:
    """Inverse of :func:`rfc3339_nano` (UTC ``Z`` form only); nanoseconds since the Unix epoch."""
    if not text.endswith("Z"):
        raise ValueError(f"time {text!r} is not UTC")
    body = text[:-1]
    whole, _, fraction = body.partition(".")
    seconds = int(datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp())
    nanos = int((fraction + "000000000")[:9]) if fraction else 0
    return seconds * NANOS_PER_SECOND + nanos


def block_id_json(block_id: BlockId | None) -> JSON:
    if block_id is None:
        return {"hash": "", "parts": {"total": 0, "hash": ""}}
    return {
        "hash": hex_upper(block_id.hash),
        "parts": {"total": block_id.part_set_total, "hash": hex_upper(block_id.part_set_hash)},
    }


def pub_key_json(pub_key: bytes) -> JSON:
    return {"type": ED25519_PUBKEY_TYPE, "value": b64(pub_key)}


def header_json(block: Block) -> JSON:
    return {
        "version": {"block": "11", "app": "0"},
        "chain_id": block.chain_id,
        "height": str(block.height),
        "time": rfc3339_nano(block.time_ns),
        "last_block_id": block_id_json(block.last_block_id),
        "last_commit_hash": hex_upper(block.last_commit_hash),
        "data_hash": hex_upper(block.data_hash),
        "validators_hash": hex_upper(block.validators_hash),
        "next_validators_hash": hex_upper(block.next_validators_hash),
        "consensus_hash": hex_upper(block.consensus_hash),
        "app_hash": hex_upper(block.app_hash),
        "last_results_hash": hex_upper(block.last_results_hash),
        "evidence_hash": hex_upper(block.evidence_hash),
        "proposer_address": hex_upper(block.proposer_address),
    }


def commit_sig_json(sig: CommitSig) -> JSON:
    if sig.signature is None:
        return {
            "block_id_flag": sig.block_id_flag,
            "validator_address": "",
            "timestamp": ZERO_TIME,
            "signature": None,
        }
    return {
        "block_id_flag": sig.block_id_flag,
        "validator_address": hex_upper(sig.validator_address),
        "timestamp": rfc3339_nano(sig.time_ns),
        "signature": b64_or_null(sig.signature),
    }


def last_commit_json(block: Block) -> JSON:
    return {
        "height": str(block.height - 1),
        "round": 0,
        "block_id": block_id_json(block.last_block_id),
        "signatures": [commit_sig_json(sig) for sig in block.last_commit],
    }


def block_json(block: Block) -> JSON:
    return {
        "header": header_json(block),
        "data": {"txs": [b64(tx) for tx in block.txs]},
        "evidence": {"evidence": []},
        "last_commit": last_commit_json(block),
    }


def result_block_json(block: Block) -> JSON:
    """``/block`` and ``/block_by_hash``."""
    return {"block_id": block_id_json(block.block_id), "block": block_json(block)}


def block_meta_json(block: Block) -> JSON:
    return {
        "block_id": block_id_json(block.block_id),
        "block_size": str(block.size),
        "header": header_json(block),
        "num_txs": str(len(block.txs)),
    }


def _attribute_cmt(key: str, value: str, index: bool) -> JSON:
    # abci.EventAttribute has json:"key,omitempty" etc. and no MarshalJSON: empties are dropped.
    out: JSON = {}
    if key:
        out["key"] = key
    if value:
        out["value"] = value
    if index:
        out["index"] = True
    return out


def event_json(event: Event) -> JSON:
    """An ABCI event outside tx results (begin/end block, NewBlock data): libs/json, omitempty."""
    out: JSON = {"type": event.type}
    if event.attributes:
        out["attributes"] = [_attribute_cmt(a.key, a.value, a.index) for a in event.attributes]
    return out


def events_json(events: Sequence[Event]) -> list[JSON] | None:
    """A Go ``[]abci.Event``: null when empty."""
    return [event_json(e) for e in events] if events else None


def event_json_pb(event: Event) -> JSON:
    """An ABCI event inside a tx result (jsonpb, EmitDefaults: every field present)."""
    return {
        "type": event.type,
        "attributes": [{"key": a.key, "value": a.value, "index": a.index} for a in event.attributes],
    }


def tx_result_json(result: TxResult) -> JSON:
    """``ResponseDeliverTx`` via its MarshalJSON (jsonpb, EmitDefaults, OrigName)."""
    return {
        "code": result.code,
        "data": b64_or_null(result.data),
        "log": result.log,
        "info": result.info,
        "gas_wanted": str(result.gas_wanted),
        "gas_used": str(result.gas_used),
        "events": [event_json_pb(e) for e in result.events],
        "codespace": result.codespace,
    }


def validator_update_json(update: ValidatorUpdate) -> JSON:
    return {
        "pub_key": {"Sum": {"type": ABCI_PUBKEY_ED25519_TYPE, "value": {"ed25519": b64(update.pub_key)}}},
        "power": str(update.power),
    }


def validator_updates_json(updates: Sequence[ValidatorUpdate]) -> list[JSON] | None:
    return [validator_update_json(u) for u in updates] if updates else None


def block_results_json(block: Block) -> JSON:
    """``/block_results`` as in 0.37 (begin/end block events; no finalize_block_events, no app_hash)."""
    return {
        "height": str(block.height),
        "txs_results": [tx_result_json(r) for r in block.tx_results] if block.tx_results else None,
        "begin_block_events": events_json(block.begin_block_events),
        "end_block_events": events_json(block.end_block_events),
        "validator_updates": validator_updates_json(block.validator_updates),
        "consensus_param_updates": CONSENSUS_PARAMS,
    }


def validator_json(validator: Validator) -> JSON:
    return {
        "address": hex_upper(validator.address),
        "pub_key": pub_key_json(validator.pub_key),
        "voting_power": str(validator.voting_power),
        "proposer_priority": str(validator.proposer_priority),
    }


def result_validators_json(height: int, page: Sequence[Validator], total: int) -> JSON:
    # count and total are Go `int`, which libs/json writes as strings.
    return {
        "block_height": str(height),
        "validators": [validator_json(v) for v in page],
        "count": str(len(page)),
        "total": str(total),
    }


def result_tx_json(block: Block, index: int) -> JSON:
    """``/tx``: ResultTx without a proof."""
    return {
        "hash": hex_upper(block.tx_hashes[index]),
        "height": str(block.height),
        "index": index,
        "tx_result": tx_result_json(block.tx_results[index]),
        "tx": b64(block.txs[index]),
    }


def _end_block_json(block: Block) -> JSON:
    out: JSON = {
        "validator_updates": validator_updates_json(block.validator_updates),
        "consensus_param_updates": CONSENSUS_PARAMS,
    }
    if block.end_block_events:
        out["events"] = [event_json(e) for e in block.end_block_events]
    return out


def _begin_block_json(block: Block) -> JSON:
    return {"events": [event_json(e) for e in block.begin_block_events]} if block.begin_block_events else {}


def new_block_event_data(block: Block) -> JSON:
    return {
        "type": "tendermint/event/NewBlock",
        "value": {
            "block": block_json(block),
            "block_id": block_id_json(block.block_id),
            "result_begin_block": _begin_block_json(block),
            "result_end_block": _end_block_json(block),
        },
    }


def new_block_header_event_data(block: Block) -> JSON:
    return {
        "type": "tendermint/event/NewBlockHeader",
        "value": {
            "header": header_json(block),
            "num_txs": str(len(block.txs)),
            "result_begin_block": _begin_block_json(block),
            "result_end_block": _end_block_json(block),
        },
    }


def tx_event_data(block: Block, index: int) -> JSON:
    return {
        "type": "tendermint/event/Tx",
        "value": {
            "TxResult": {
                "height": str(block.height),
                "index": index,
                "tx": b64(block.txs[index]),
                "result": tx_result_json(block.tx_results[index]),
            }
        },
    }


def composite_events(event_type: str, events: Iterable[Event]) -> dict[str, list[str]]:
    """The ``events`` map of a subscription message: ``tm.event`` plus ``<type>.<key>`` -> values."""
    out: dict[str, list[str]] = {"tm.event": [event_type]}
    for event in events:
        for attribute in event.attributes:
            if attribute.key:
                out.setdefault(f"{event.type}.{attribute.key}", []).append(attribute.value)
    return out


@dataclass(frozen=True)
class NodeIdentity:
    """What ``status`` and ``GetNodeInfo`` say about the node serving the devnet."""

    moniker: str
    node_pub_key: bytes
    app_name: str = "exocored"
    app_version: str = "1.1.3"
    cosmos_sdk_version: str = "v0.47.8"
    go_version: str = "go1.21.12 linux/amd64"
    git_commit: str = ""
    listen_addr: str = "tcp://0.0.0.0:26656"

    @property
    def node_id(self) -> str:
        """p2p node id: lower-case hex of sha256(node key)[:20]."""
        return hashlib.sha256(self.node_pub_key).digest()[:20].hex()


def node_info_json(identity: NodeIdentity, chain_id: str, rpc_address: str) -> JSON:
    return {
        "protocol_version": {"p2p": str(P2P_PROTOCOL_VERSION), "block": "11", "app": "0"},
        "id": identity.node_id,
        "listen_addr": identity.listen_addr,
        "network": chain_id,
        "version": COMETBFT_VERSION,
        "channels": NODE_CHANNELS_HEX,
        "moniker": identity.moniker,
        "other": {"tx_index": "on", "rpc_address": rpc_address},
    }


def status_json(
    identity: NodeIdentity, chain_id: str, rpc_address: str, earliest: Block | None, latest: Block | None
) -> JSON:
    def sync(block: Block | None, prefix: str) -> JSON:
        if block is None:
            return {
                f"{prefix}_block_hash": "",
                f"{prefix}_app_hash": "",
                f"{prefix}_block_height": "0",
                f"{prefix}_block_time": ZERO_TIME,
            }
        return {
            f"{prefix}_block_hash": hex_upper(block.hash),
            f"{prefix}_app_hash": hex_upper(block.app_hash),
            f"{prefix}_block_height": str(block.height),
            f"{prefix}_block_time": rfc3339_nano(block.time_ns),
        }

    address = hashlib.sha256(identity.node_pub_key).digest()[:20]
    return {
        "node_info": node_info_json(identity, chain_id, rpc_address),
        "sync_info": {**sync(latest, "latest"), **sync(earliest, "earliest"), "catching_up": False},
        # A full node, not a validator: voting power 0, as `status` shows on a non-validating node.
        "validator_info": {
            "address": hex_upper(address),
            "pub_key": pub_key_json(identity.node_pub_key),
            "voting_power": "0",
        },
    }


def abci_info_json(identity: NodeIdentity, latest: Block | None) -> JSON:
    # ResponseInfo through libs/json: omitempty drops app_version 0 and, before block 1, height/hash.
    response: JSON = {"data": identity.app_name, "version": identity.app_version}
    if latest is not None:
        response["last_block_height"] = str(latest.height)
        if latest.app_hash:
            response["last_block_app_hash"] = b64(latest.app_hash)
    return {"response": response}


# --- commit, genesis, search, proofs, ABCI query ---------------------------------------------------


def seen_commit(block: Block) -> tuple[CommitSig, ...]:
    """The commit for ``block`` before the next block carries it: every validator of ``block``
    voting at its time, exactly as the devnet fills the next block's ``last_commit``."""
    return tuple(CommitSig(v.address, block.time_ns, b"") for v in block.validators)


def commit_json(block: Block, signatures: Sequence[CommitSig]) -> JSON:
    """``types.Commit`` for ``block`` (height, round 0, its block id, the precommits)."""
    return {
        "height": str(block.height),
        "round": 0,
        "block_id": block_id_json(block.block_id),
        "signatures": [commit_sig_json(sig) for sig in signatures],
    }


def result_commit_json(block: Block, signatures: Sequence[CommitSig], canonical: bool) -> JSON:
    """``/commit``: the signed header and whether the commit is the canonical one (from block H+1)."""
    return {
        "signed_header": {"header": header_json(block), "commit": commit_json(block, signatures)},
        "canonical": canonical,
    }


def merkle_proof(items: Sequence[bytes], index: int) -> list[bytes]:
    """The aunts of leaf ``index`` in CometBFT's RFC 6962 tree (``merkle.ProofsFromByteSlices``),
    from the leaf's sibling up to the root's child."""
    if len(items) <= 1:
        return []
    split = 1 << ((len(items) - 1).bit_length() - 1)
    if index < split:
        return [*merkle_proof(items[:split], index), merkle_root(items[split:])]
    return [*merkle_proof(items[split:], index - split), merkle_root(items[:split])]


def tx_proof_json(block: Block, index: int) -> JSON:
    """``types.TxProof`` of transaction ``index``: checkable against the header's ``data_hash``."""
    hashes = list(block.tx_hashes)
    proof: JSON = {
        "total": str(len(hashes)),
        "index": str(index),
        "leaf_hash": b64(hashlib.sha256(b"\x00" + hashes[index]).digest()),
        # `aunts,omitempty`, but libs/json omits only zero values and the node builds a non-nil
        # empty slice for a one-transaction block, so the key is always there.
        "aunts": [b64(aunt) for aunt in merkle_proof(hashes, index)],
    }
    return {"root_hash": hex_upper(block.data_hash), "data": b64(block.txs[index]), "proof": proof}


def result_tx_with_proof_json(block: Block, index: int, prove: bool) -> JSON:
    out = result_tx_json(block, index)
    if prove:
        out["proof"] = tx_proof_json(block, index)
    return out


def result_tx_search_json(txs: Sequence[JSON], total: int) -> JSON:
    return {"txs": list(txs), "total_count": str(total)}


def result_block_search_json(blocks: Sequence[Block], total: int) -> JSON:
    return {"blocks": [result_block_json(block) for block in blocks], "total_count": str(total)}


def result_unconfirmed_txs_json(count: int, total_bytes: int) -> JSON:
    """``/num_unconfirmed_txs``: Go ``int`` counts as strings; ``txs`` is nil there."""
    return {"n_txs": str(count), "total": str(count), "total_bytes": str(total_bytes), "txs": None}


@dataclass(frozen=True)
class GenesisValidatorInfo:
    """A consensus validator as ``GenesisDoc.validators`` lists it."""

    pub_key: bytes
    power: int
    name: str = ""


def genesis_doc_json(
    *,
    chain_id: str,
    genesis_time_ns: int,
    initial_height: int,
    validators: Sequence[GenesisValidatorInfo],
    app_hash: bytes,
    app_state: Any,
) -> JSON:
    """``/genesis``: ``{"genesis": GenesisDoc}`` through libs/json (int64 as strings, HexBytes upper hex;
    ``omitempty`` drops only zero values, ``types.ConsensusParams`` has no omitempty)."""
    doc: JSON = {
        "genesis_time": rfc3339_nano(genesis_time_ns),
        "chain_id": chain_id,
        "initial_height": str(initial_height),
        "consensus_params": {**CONSENSUS_PARAMS, "version": {"app": "0"}},
    }
    if validators:  # `validators,omitempty`
        doc["validators"] = [
            {
                "address": hex_upper(hashlib.sha256(v.pub_key).digest()[:20]),
                "pub_key": pub_key_json(v.pub_key),
                "power": str(v.power),
                "name": v.name,
            }
            for v in validators
        ]
    doc["app_hash"] = hex_upper(app_hash)
    if app_state is not None:  # `app_state,omitempty` (json.RawMessage)
        doc["app_state"] = app_state
    return {"genesis": doc}


def response_query_json(
    *, code: int = 0, log: str = "", value: bytes = b"", height: int = 0, codespace: str = ""
) -> JSON:
    """``/abci_query``: ``ResponseQuery`` has its own MarshalJSON (jsonpb, EmitDefaults, proto3 JSON
    names, so ``proofOps``); gRPC-over-ABCI answers carry no key, index or proof."""
    return {
        "response": {
            "code": code,
            "log": log,
            "info": "",
            "index": "0",
            "key": None,
            "value": b64_or_null(value),
            "proofOps": None,
            "height": str(height),
            "codespace": codespace,
        }
    }
