"""The custody invariant of a devnet stack, read from both chains: per restaked token, what the L1
RestakingVault holds plus what it paid out against withdrawal approvals equals what Exocore holds of
the asset (delegated + unbonding + approved). Every stake enters through ``RestakingVault.delegate``
and every slash moves on L1 what Exocore computed, so the two agree once every SLASH packet Exocore
created has been delivered."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import grpc
from web3 import Web3

from devnet.chain.params import DEVNET_LZ_CHAIN_ID
from relayer.exocore.proto.operator.v1 import query_pb2 as operator_query
from relayer.exocore.proto.operator.v1 import query_pb2_grpc as operator_grpc
from relayer.l1.artifacts import ContractName, load_artifact
from relayer.protocol.ids import asset_id
from relayer.protocol.types import Address


def custody_sides(manifest: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """Per restaked token (lower-case address): (L1 custody + paid approvals, Exocore's holding)."""
    l1, exocore = manifest["l1"], manifest["exocore"]
    w3 = Web3(Web3.HTTPProvider(l1["rpc_url"]))
    vault = w3.eth.contract(
        address=Web3.to_checksum_address(l1["contracts"]["restaking_vault"]),
        abi=load_artifact(ContractName.RESTAKING_VAULT).abi,
    )
    tokens = [l1["contracts"]["weth"], l1["contracts"]["reward_token"]]
    token_of = {
        bytes(e.args.approvalId): str(e.args.token).lower()
        for e in vault.events.ApprovalsRegistered.get_logs(from_block=0)
    }
    paid: dict[str, int] = defaultdict(int)
    for event in vault.events.WithdrawalPaid.get_logs(from_block=0):
        paid[token_of[bytes(event.args.approvalId)]] += int(event.args.amount)
    channel = grpc.insecure_channel(exocore["grpc_target"])
    try:
        stub = operator_grpc.QueryStub(channel)
        sides: dict[str, tuple[int, int]] = {}
        for token in tokens:
            asset = asset_id(Address(bytes.fromhex(token.removeprefix("0x"))), DEVNET_LZ_CHAIN_ID)
            held = stub.QueryAssetCustody(operator_query.QueryAssetCustodyRequest(asset_id=asset), timeout=30)
            on_l1 = int(vault.functions.totalPrincipal(Web3.to_checksum_address(token)).call())
            sides[token.lower()] = (
                on_l1 + paid[token.lower()],
                int(held.delegated) + int(held.unbonding) + int(held.approved),
            )
        return sides
    finally:
        channel.close()


def assert_custody_matches(manifest: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """Assert the custody invariant; returns the sides (each token's must be non-zero to be a test)."""
    sides = custody_sides(manifest)
    mismatched = {token: pair for token, pair in sides.items() if pair[0] != pair[1]}
    assert not mismatched, f"L1 custody (+paid) != Exocore's stake per token: {mismatched}"
    return sides
