"""Cumulative-reward helpers for contract tests: trees of running totals, CUMULATIVE_ROOT payloads,
the RewardVault's push / claim calls and EIP-712 claim signatures."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract.contract import ContractFunction

from relayer.protocol.cumulative import CumulativeLeaf, CumulativeTree, EarnerToken
from relayer.protocol.packets import CumulativeFunding, CumulativeRootPayload, FundingMode
from relayer.protocol.types import Address, Amount, as_address
from tests.support.l1_contracts import System

CLAIM_DEADLINE_S: Final = 3600
"""How far ahead the tests' claim signatures expire (anvil's clock barely moves during a test)."""


def cumulative_tree(totals: Mapping[tuple[ChecksumAddress, ChecksumAddress], int]) -> CumulativeTree:
    """A tree over ``{(earner, token): cumulative}``."""
    return CumulativeTree.build(
        CumulativeLeaf(as_address(earner), as_address(token), Amount(amount))
        for (earner, token), amount in totals.items()
    )


def root_payload(
    tree: CumulativeTree,
    *,
    period: int,
    funding: Mapping[tuple[ChecksumAddress, ChecksumAddress], tuple[FundingMode, int]],
) -> CumulativeRootPayload:
    """``funding``: ``{(avs, token): (mode, funded total)}``."""
    return CumulativeRootPayload(
        period=period,
        root=tree.root,
        leaf_count=len(tree),
        entries=tuple(
            CumulativeFunding(as_address(avs), as_address(token), mode, Amount(total))
            for (avs, token), (mode, total) in funding.items()
        ),
    )


def leaf_abi(leaf: CumulativeLeaf) -> tuple[ChecksumAddress, ChecksumAddress, int]:
    return (Web3.to_checksum_address(leaf.earner), Web3.to_checksum_address(leaf.token), leaf.cumulative)


def keys(pairs: Iterable[tuple[str, str]]) -> list[EarnerToken]:
    return [(as_address(earner), as_address(token)) for earner, token in pairs]


def push_call(
    system: System, period: int, tree: CumulativeTree, pairs: Iterable[tuple[str, str]]
) -> ContractFunction:
    multi = tree.multiproof(keys(pairs))
    return system.reward_vault.functions.pushCumulative(
        period, [leaf_abi(leaf) for leaf in multi.leaves], list(multi.proof), list(multi.proof_flags)
    )


def claim_call(
    system: System,
    period: int,
    tree: CumulativeTree,
    pairs: Iterable[tuple[str, str]],
    recipient: str | None = None,
) -> ContractFunction:
    multi = tree.multiproof(keys(pairs))
    return system.reward_vault.functions.claimCumulative(
        period,
        [leaf_abi(leaf) for leaf in multi.leaves],
        list(multi.proof),
        list(multi.proof_flags),
        Web3.to_checksum_address(recipient or "0x" + "00" * 20),
    )


def claim_signature(system: System, earner_key: bytes, *, recipient: str, nonce: int, deadline: int) -> bytes:
    """The earner's EIP-712 ``CumulativeClaim`` signature for the deployed vault."""
    earner = Account.from_key(earner_key)
    message = encode_typed_data(
        full_message={
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                "CumulativeClaim": [
                    {"name": "earner", "type": "address"},
                    {"name": "recipient", "type": "address"},
                    {"name": "nonce", "type": "uint256"},
                    {"name": "deadline", "type": "uint256"},
                ],
            },
            "primaryType": "CumulativeClaim",
            "domain": {
                "name": "ExorelayRewardVault",
                "version": "1",
                "chainId": system.deployment.chain_id,
                "verifyingContract": system.deployment.reward_vault,
            },
            "message": {
                "earner": earner.address,
                "recipient": Web3.to_checksum_address(recipient),
                "nonce": nonce,
                "deadline": deadline,
            },
        }
    )
    return bytes(earner.sign_message(message).signature)


def claim_with_sig_call(
    system: System,
    period: int,
    tree: CumulativeTree,
    pairs: Sequence[tuple[str, str]],
    *,
    recipient: str,
    deadline: int,
    signature: bytes,
) -> ContractFunction:
    multi = tree.multiproof(keys(pairs))
    return system.reward_vault.functions.claimCumulativeWithSig(
        period,
        [leaf_abi(leaf) for leaf in multi.leaves],
        list(multi.proof),
        list(multi.proof_flags),
        Web3.to_checksum_address(recipient),
        deadline,
        signature,
    )


def address_of(key: bytes) -> Address:
    return as_address(Account.from_key(key).address)
