"""The gateway's BLS12-381 arithmetic against the references: RFC 9380 vectors, py_ecc, relayer/protocol."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any, Final

import pytest
from eth_account import Account
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from py_ecc.bls.hash_to_curve import hash_to_G2
from py_ecc.optimized_bls12_381.optimized_curve import normalize
from web3.contract import Contract

from devnet.l1_deploy import contract_at, deploy_contract, deploy_l1
from relayer.errors import ProtocolError
from relayer.l1.artifacts import ContractName
from relayer.protocol.bls import (
    FIELD_MODULUS,
    PublicKey,
    Signature,
    expand_message_xmd,
    fast_aggregate_verify,
)
from relayer.protocol.quorum import SignerBitmap, meets_threshold, signed_power
from tests.support.l1_contracts import EXOCORE_CHAIN, POP_DST, Attestation, System, ValidatorSet, reverts

VECTORS: Final = Path(__file__).resolve().parents[1] / "protocol" / "vectors" / "bls_rfc9380_hash_to_g2.json"

PROPERTY_EXAMPLES: Final = 100
"""Hypothesis examples for the accept-exactly-the-same property (each is two eth_calls)."""


def fp(value: int) -> bytes:
    return bytes(16) + value.to_bytes(48, "big")


def g2_eip2537(x: tuple[int, int], y: tuple[int, int]) -> bytes:
    return fp(x[0]) + fp(x[1]) + fp(y[0]) + fp(y[1])


@pytest.fixture(scope="module")
def harness(module_chain: System) -> Contract:
    deployer = Account.from_key(module_chain.node.dev_accounts()[0].private_key)
    address = deploy_contract(module_chain.w3, deployer, ContractName.BLS12381_HARNESS)
    return contract_at(module_chain.w3, ContractName.BLS12381_HARNESS, address)


def rfc_vectors() -> list[dict[str, Any]]:
    data = json.loads(VECTORS.read_text())
    assert data["dst"] == "QUUX-V01-CS02-with-BLS12381G2_XMD:SHA-256_SSWU_RO_"
    return list(data["vectors"])


@pytest.mark.parametrize("vector", rfc_vectors(), ids=lambda v: v["msg"][:8] or "empty")
def test_hash_to_g2_rfc9380_vectors(harness: Contract, vector: dict[str, Any]) -> None:
    dst = b"QUUX-V01-CS02-with-BLS12381G2_XMD:SHA-256_SSWU_RO_"
    x = tuple(int(c, 16) for c in vector["P"]["x"])
    y = tuple(int(c, 16) for c in vector["P"]["y"])
    expected = g2_eip2537((x[0], x[1]), (y[0], y[1]))
    assert harness.functions.hashToG2(vector["msg"].encode(), dst).call() == expected


def test_hash_to_g2_matches_py_ecc_on_random_digests(harness: Contract) -> None:
    rng = random.Random(2537)
    for length in (0, 1, 31, 32, 33, 64, 200):
        message = rng.randbytes(length)
        # py_ecc's annotation wants a hash object; its own ciphersuites pass hashlib.sha256 like this.
        point = normalize(hash_to_G2(message, POP_DST, hashlib.sha256))  # type: ignore[arg-type]
        x, y = point[0].coeffs, point[1].coeffs
        expected = g2_eip2537((int(x[0]), int(x[1])), (int(y[0]), int(y[1])))
        assert harness.functions.hashToG2(message, POP_DST).call() == expected


def test_expand_message_xmd_matches_protocol(harness: Contract) -> None:
    rng = random.Random(9380)
    for length in (0, 3, 32, 100, 600):
        message = rng.randbytes(length)
        for dst in (POP_DST, b"x", rng.randbytes(255)):
            assert harness.functions.expandMessageXmd(message, dst).call() == expand_message_xmd(
                message, dst, 256
            )


def test_expand_message_xmd_rejects_long_dst(harness: Contract) -> None:
    with reverts("DstTooLong"):
        harness.functions.expandMessageXmd(b"m", bytes(256)).call()


# ---------------------------------------------------------------- accept exactly what the protocol accepts


PROPERTY_SETS: Final = (
    ValidatorSet.generate(1, nonce=1, seed=11, powers=[5]),
    ValidatorSet.generate(9, nonce=1, seed=12, powers=[1, 2, 3, 4, 5, 6, 7, 8, 9]),
    ValidatorSet.generate(20, nonce=1, seed=13, powers=[1000, *[1] * 18, 2**200]),
)
OUTSIDER: Final = ValidatorSet.generate(1, nonce=1, seed=14)
CORRUPTIONS: Final = (
    "none",
    "wrong-message",
    "drop-signer",
    "add-outsider",
    "flip-bit",
    "stray-bit",
    "short-bitmap",
    "infinity",
    "outsider-signature",
    "dirty-padding",
    "coordinate-above-p",
)


@pytest.fixture(scope="module")
def property_gateways(module_chain: System) -> tuple[Contract, ...]:
    key = module_chain.node.dev_accounts()[0].private_key
    gateways = []
    for valset in PROPERTY_SETS:
        deployment = deploy_l1(module_chain.w3, key, valset.genesis(), EXOCORE_CHAIN)
        gateways.append(contract_at(module_chain.w3, ContractName.EXOCORE_GATEWAY, deployment.gateway))
    return tuple(gateways)


def protocol_accepts(valset: ValidatorSet, digest: bytes, att: Attestation) -> bool:
    """The relayer's own verdict: bitmap, quorum (> 2/3 of power), fast aggregate verify."""
    try:
        bitmap = SignerBitmap.decode(att.bitmap, valset.size)
        signature = Signature.from_eip2537(att.signature)
    except ProtocolError:
        return False
    if not meets_threshold(signed_power(valset.members, bitmap), valset.members.total_power):
        return False
    keys = [PublicKey.from_eip2537(valset.pubkeys[i]) for i in bitmap.indices()]
    return fast_aggregate_verify(keys, digest, signature)


def build_attestation(
    valset: ValidatorSet, digest: bytes, signers: set[int], corruption: str, pick: int
) -> Attestation:
    chosen = sorted(signers)

    def signature_over(indices: list[int], message: bytes = digest, extra: bool = False) -> bytes:
        secrets = [valset.secrets[i] for i in indices] + ([OUTSIDER.secrets[0]] if extra else [])
        if not secrets:
            return bytes(256)
        return ValidatorSet(nonce=1, secrets=tuple(secrets), powers=(1,) * len(secrets)).sign_digest(
            message, range(len(secrets))
        )

    bitmap = valset.bitmap(chosen)
    if corruption == "wrong-message":
        return Attestation(bitmap, signature_over(chosen, keccak(digest)))
    if corruption == "drop-signer":
        return Attestation(
            bitmap, signature_over([i for i in chosen if chosen and i != chosen[pick % len(chosen)]])
        )
    if corruption == "add-outsider":
        return Attestation(bitmap, signature_over(chosen, extra=True))
    if corruption == "flip-bit":
        flipped = set(chosen) ^ {pick % valset.size}
        return Attestation(valset.bitmap(flipped), signature_over(chosen))
    if corruption == "stray-bit":
        raw = bytearray(bitmap)
        if valset.size % 8:
            raw[-1] |= 1 << (valset.size % 8 + pick % (8 - valset.size % 8))
        else:
            raw.append(1)
        return Attestation(bytes(raw), signature_over(chosen))
    if corruption == "short-bitmap":
        return Attestation(bitmap[:-1], signature_over(chosen))
    if corruption == "infinity":
        return Attestation(bitmap, bytes(256))
    if corruption == "dirty-padding":
        raw = bytearray(signature_over(chosen))
        raw[(pick % 4) * 64 + pick % 16] |= 1  # a byte of one of the four 16-byte zero paddings
        return Attestation(bitmap, bytes(raw))
    if corruption == "coordinate-above-p":
        raw = bytearray(signature_over(chosen))
        word = (pick % 4) * 64
        raw[word + 16 : word + 64] = (int.from_bytes(raw[word + 16 : word + 64]) + FIELD_MODULUS).to_bytes(
            48
        )[-48:]
        return Attestation(bitmap, bytes(raw))
    if corruption == "outsider-signature":
        return Attestation(bitmap, OUTSIDER.sign_digest(digest, [0]))
    return Attestation(bitmap, signature_over(chosen))


@settings(max_examples=PROPERTY_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_on_chain_check_accepts_exactly_what_the_protocol_accepts(
    property_gateways: tuple[Contract, ...], data: st.DataObject
) -> None:
    which = data.draw(st.integers(0, len(PROPERTY_SETS) - 1), label="set")
    valset = PROPERTY_SETS[which]
    gateway = property_gateways[which]
    members = st.integers(0, valset.size - 1)
    # Half the draws start from everyone and drop a few, so quorum is met often enough to matter.
    signers = data.draw(
        st.one_of(
            st.sets(members),
            st.sets(members, max_size=max(1, valset.size // 4)).map(
                lambda drop: set(range(valset.size)) - drop
            ),
        ),
        label="signers",
    )
    corruption = data.draw(st.one_of(st.just("none"), st.sampled_from(CORRUPTIONS)), label="corruption")
    pick = data.draw(st.integers(0, 255), label="pick")
    digest = keccak(data.draw(st.binary(min_size=1, max_size=8), label="message"))
    att = build_attestation(valset, digest, signers, corruption, pick)

    on_chain = gateway.functions.verifyAttestation(digest, att.as_abi()).call()
    assert on_chain == protocol_accepts(valset, digest, att)
    event(f"accepted={on_chain}")
    status, signed, total = gateway.functions.attestationStatus(digest, att.as_abi()).call()
    assert (status == 0) == on_chain
    try:
        bitmap = SignerBitmap.decode(att.bitmap, valset.size)
    except ProtocolError:
        assert status == 1  # InvalidSignerBitmap
        return
    assert total == valset.total_power
    assert signed == signed_power(valset.members, bitmap)
