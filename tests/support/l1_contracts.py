"""Contract test helpers: validator sets that sign, packets, calls, named reverts, the deployed `System`."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any, Final

import pytest
from eth_abi.abi import encode as abi_encode
from eth_typing import ChecksumAddress
from eth_utils.crypto import keccak
from py_ecc.fields import optimized_bls12_381_FQ as FQ
from py_ecc.optimized_bls12_381.optimized_curve import G1, add, is_inf, multiply, neg, normalize
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD
from web3.types import TxParams, TxReceipt, Wei

from devnet.anvil import AnvilNode
from devnet.l1_deploy import GenesisValset, L1Deployment, contract_at
from relayer.l1.artifacts import ContractName, load_artifact
from relayer.protocol.bls import CURVE_ORDER, FIELD_MODULUS, SecretKey, pop_prove, sign
from relayer.protocol.merkle import DistributionLeaf, DistributionTree
from relayer.protocol.packets import (
    FundingMode,
    Packet,
    Payload,
    RewardDistributionPayload,
    ValsetUpdatePayload,
)
from relayer.protocol.quorum import MemberList, SignerBitmap
from relayer.protocol.types import Address, Amount, Hash32, Power, as_address

EXOCORE_CHAIN: Final = Hash32(keccak(b"exocoretestnet_233"))
"""keccak256 of the Exocore chain id without its revision, as the gateway stores it."""

POP_DST: Final = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"


@dataclass(frozen=True)
class Attestation:
    """The gateway's ``Attestation`` struct: signer bitmap and EIP-2537 G2 signature."""

    bitmap: bytes
    signature: bytes

    def as_abi(self) -> tuple[bytes, bytes]:
        return (self.bitmap, self.signature)


@dataclass(frozen=True)
class ValidatorSet:
    """An ordered validator set whose secret keys the tests hold."""

    nonce: int
    secrets: tuple[SecretKey, ...]
    powers: tuple[int, ...]

    @classmethod
    def generate(
        cls, size: int, *, nonce: int, seed: int, powers: Sequence[int] | None = None
    ) -> ValidatorSet:
        return _generate(size, nonce, seed, tuple(powers) if powers is not None else None)

    @cached_property
    def pubkeys(self) -> tuple[bytes, ...]:
        """EIP-2537 G1 keys in bitmap order."""
        return tuple(secret.public_key().to_eip2537() for secret in self.secrets)

    @cached_property
    def pops(self) -> tuple[bytes, ...]:
        """Each member's IETF proof of possession (compressed G2)."""
        return tuple(pop_prove(secret).compressed for secret in self.secrets)

    @property
    def size(self) -> int:
        return len(self.secrets)

    @property
    def total_power(self) -> int:
        return sum(self.powers)

    @cached_property
    def members(self) -> MemberList:
        return MemberList.of(zip(self.pubkeys, self.powers, strict=True))

    def genesis(self) -> GenesisValset:
        return GenesisValset(nonce=self.nonce, pubkeys=self.pubkeys, powers=self.powers, pops=self.pops)

    def update_payload(self) -> ValsetUpdatePayload:
        return ValsetUpdatePayload(
            new_valset_nonce=self.nonce, pubkeys=self.pubkeys, powers=tuple(Power(p) for p in self.powers)
        )

    def bitmap(self, signers: Iterable[int]) -> bytes:
        return SignerBitmap.from_indices(signers, self.size).encode()

    def sign_digest(self, digest: bytes, signers: Iterable[int]) -> bytes:
        """Aggregate signature of ``signers`` over ``digest`` (EIP-2537 G2).

        Signing with the sum of the secret keys equals aggregating the individual signatures
        (signatures are linear in the key) and costs one signing operation instead of n.
        """
        scalar = sum(self.secrets[i].to_int() for i in signers) % CURVE_ORDER
        return sign(SecretKey.from_int(scalar), digest).to_eip2537()

    def attest(self, digest: bytes, signers: Iterable[int] | None = None) -> Attestation:
        chosen = sorted(range(self.size) if signers is None else set(signers))
        return Attestation(self.bitmap(chosen), self.sign_digest(digest, chosen))

    def quorum_signers(self) -> list[int]:
        """The smallest prefix of members whose power is strictly above two thirds."""
        chosen: list[int] = []
        signed = 0
        for index, power in enumerate(self.powers):
            chosen.append(index)
            signed += power
            if signed * 3 > self.total_power * 2:
                return chosen
        raise AssertionError("a full set always has quorum")


@cache
def _generate(size: int, nonce: int, seed: int, powers: tuple[int, ...] | None) -> ValidatorSet:
    rng = random.Random(seed)
    secrets = tuple(SecretKey.from_int(rng.randrange(1, CURVE_ORDER)) for _ in range(size))
    return ValidatorSet(nonce=nonce, secrets=secrets, powers=powers or tuple([10] * size))


@dataclass
class System:
    """A deployed gateway with its vaults and token, plus the dev accounts that drive it."""

    w3: Web3
    node: AnvilNode
    deployment: L1Deployment
    valset: ValidatorSet
    accounts: tuple[ChecksumAddress, ...]
    next_nonce: int = 1

    @cached_property
    def gateway(self) -> Contract:
        return contract_at(self.w3, ContractName.EXOCORE_GATEWAY, self.deployment.gateway)

    @cached_property
    def reward_vault(self) -> Contract:
        return contract_at(self.w3, ContractName.REWARD_VAULT, self.deployment.reward_vault)

    @cached_property
    def restaking_vault(self) -> Contract:
        return contract_at(self.w3, ContractName.RESTAKING_VAULT, self.deployment.restaking_vault)

    @cached_property
    def reward_token(self) -> Contract:
        return contract_at(self.w3, ContractName.REWARD_TOKEN, self.deployment.reward_token)

    @cached_property
    def weth(self) -> Contract:
        return contract_at(self.w3, ContractName.WRAPPED_ETHER, self.deployment.weth)

    @property
    def deployer(self) -> ChecksumAddress:
        return self.accounts[0]

    @property
    def gateway_address(self) -> Address:
        return as_address(self.deployment.gateway)

    def packet(self, payload: Payload, *, nonce: int, valset: ValidatorSet | None = None) -> Packet:
        return Packet(
            exocore_chain=EXOCORE_CHAIN,
            l1_chain_id=self.deployment.chain_id,
            gateway=self.gateway_address,
            valset_nonce=(valset or self.valset).nonce,
            nonce=nonce,
            payload=payload,
        )


ENTRY_POINTS: Final = {
    1: "updateValset",
    2: "submitDistribution",
    3: "executeSlash",
    4: "submitWithdrawalApproval",
    5: "submitCumulativeRoot",
}


def packet_call(system: System, packet: Packet, att: Attestation) -> ContractFunction:
    """The gateway entry point for ``packet`` with its arguments bound."""
    function = system.gateway.functions[ENTRY_POINTS[int(packet.kind)]]
    return function(packet.valset_nonce, packet.nonce, packet.payload_bytes, att.as_abi())


def transact(system: System, call: ContractFunction, sender: str | None = None, value: int = 0) -> TxReceipt:
    """Send ``call`` from an unlocked dev account and require success."""
    params: TxParams = {"from": Web3.to_checksum_address(sender or system.deployer), "value": Wei(value)}
    tx_hash = call.transact(params)
    receipt = system.w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1, receipt
    return receipt


def deliver(
    system: System, packet: Packet, signers: Iterable[int] | None = None, valset: ValidatorSet | None = None
) -> TxReceipt:
    """Sign ``packet`` with ``signers`` of the signing set and submit it."""
    att = (valset or system.valset).attest(packet.digest, signers)
    return transact(system, packet_call(system, packet, att))


@cache
def error_selectors() -> dict[bytes, str]:
    """4-byte selector -> error name over every artifact (OZ errors included)."""
    selectors: dict[bytes, str] = {}
    for name in ContractName:
        for entry in load_artifact(name).entries("error"):
            signature = f"{entry['name']}({','.join(_abi_type(i) for i in entry['inputs'])})"
            selectors[keccak(signature.encode())[:4]] = str(entry["name"])
    return selectors


def _abi_type(item: Any) -> str:
    kind = str(item["type"])
    if kind.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in item["components"]) + ")" + kind[len("tuple") :]
    return kind


def revert_name(exc: ContractCustomError) -> str:
    data = exc.data if isinstance(exc.data, str) else str(exc.args[0])
    raw = bytes.fromhex(data.removeprefix("0x"))
    return error_selectors().get(raw[:4], f"unknown selector 0x{raw[:4].hex()}")


@contextmanager
def reverts(name: str) -> Iterator[None]:
    """Expect the enclosed eth_call / transaction to revert with custom error ``name``."""
    with pytest.raises(ContractCustomError) as info:
        yield
    actual = revert_name(info.value)
    assert actual == name, f"reverted with {actual}, expected {name}"


def encode_digest(
    *,
    domain: bytes,
    chain_id: int,
    gateway: str,
    exocore_chain: bytes,
    valset_nonce: int,
    kind: int,
    nonce: int,
    payload_hash: bytes,
) -> Hash32:
    """The digest layout with every field free (to forge digests off by one field)."""
    return Hash32(
        keccak(
            abi_encode(
                ("bytes32", "uint256", "address", "bytes32", "uint64", "uint8", "uint64", "bytes32"),
                (domain, chain_id, gateway, exocore_chain, valset_nonce, kind, nonce, payload_hash),
            )
        )
    )


def distribution_tree(stakers: Sequence[str], amounts: Sequence[int]) -> DistributionTree:
    return DistributionTree.build(
        DistributionLeaf(index=i, staker=as_address(staker), amount=Amount(amount))
        for i, (staker, amount) in enumerate(zip(stakers, amounts, strict=True))
    )


def distribution_payload(
    tree: DistributionTree,
    *,
    token: str,
    funding: FundingMode,
    avs: str,
    total: int | None = None,
    epoch: int = 7,
    claim_id: bytes = b"\x11" * 32,
) -> RewardDistributionPayload:
    return RewardDistributionPayload(
        claim_id=Hash32(claim_id),
        avs=as_address(avs),
        epoch=epoch,
        token=as_address(token),
        funding=funding,
        total=Amount(tree.total if total is None else total),
        leaf_count=len(tree),
        merkle_root=tree.root,
    )


def leaf_abi(leaf: DistributionLeaf) -> tuple[int, str, int]:
    return (leaf.index, Web3.to_checksum_address(leaf.staker), leaf.amount)


def payout_call(
    system: System, distribution_id: bytes, tree: DistributionTree, indices: Iterable[int]
) -> ContractFunction:
    multi = tree.multiproof(list(indices))
    return system.gateway.functions.payout(
        distribution_id, [leaf_abi(leaf) for leaf in multi.leaves], list(multi.proof), list(multi.proof_flags)
    )


def claim_call(
    system: System, distribution_id: bytes, tree: DistributionTree, index: int
) -> ContractFunction:
    return system.gateway.functions.claim(
        distribution_id, leaf_abi(tree.leaf(index)), list(tree.proof(index))
    )


def fresh_addresses(count: int, seed: int) -> list[ChecksumAddress]:
    """Distinct addresses nobody holds keys for (payout recipients)."""
    return [
        Web3.to_checksum_address(keccak(b"staker" + seed.to_bytes(8) + i.to_bytes(8))[12:])
        for i in range(count)
    ]


def events_of(event: Any, receipt: TxReceipt) -> list[Any]:
    """Decode one event type from a receipt, skipping other contracts' logs."""
    return list(event().process_receipt(receipt, errors=DISCARD))


def off_subgroup_g1_point() -> bytes:
    """An EIP-2537 G1 point on the curve y^2 = x^3 + 4 but outside the prime-order subgroup.

    The curve's group has order h * r with a cofactor h > 1; the first x whose y exists is checked
    to give a point of order not dividing r (multiplying by r does not reach the identity).
    """
    p = FIELD_MODULUS
    for x in range(1, 1000):
        rhs = (x**3 + 4) % p
        y = pow(rhs, (p + 1) // 4, p)  # p = 3 mod 4: the square root if one exists
        if y * y % p != rhs:
            continue
        if is_inf(multiply((FQ(x), FQ(y), FQ(1)), CURVE_ORDER)):
            continue
        return bytes(16) + x.to_bytes(48, "big") + bytes(16) + y.to_bytes(48, "big")
    raise AssertionError("no off-subgroup point found among small x")


def rogue_key(honest: Sequence[bytes], attacker_secret: SecretKey) -> bytes:
    """The rogue-key attack: pk_rogue = a·G1 - Σ honest keys (EIP-2537), so that the set
    ``honest + [pk_rogue]`` aggregates to a·G1 and the holder of ``a`` alone signs for all of it.
    Nobody knows the secret of pk_rogue, so no proof of possession for it can be made."""
    point = multiply(G1, attacker_secret.to_int())
    for key in honest:
        x = int.from_bytes(key[16:64], "big")
        y = int.from_bytes(key[80:128], "big")
        point = add(point, neg((FQ(x), FQ(y), FQ(1))))
    x_aff, y_aff = normalize(point)
    return bytes(16) + int(x_aff).to_bytes(48, "big") + bytes(16) + int(y_aff).to_bytes(48, "big")
