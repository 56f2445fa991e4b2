"""Packet payload encodings and digests against hand-built ABI bytes and independently computed hashes.

The literal payload hashes and digests below were computed once with @metamask/abi-utils +
ethereum-cryptography keccak under node (independent of eth_abi and of this package); the payload
bytes are written out word by word from the Solidity ABI spec.
"""

from __future__ import annotations

import dataclasses

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from relayer.errors import ProtocolError
from relayer.protocol.errors import (
    DuplicateKeyError,
    EncodingError,
    InvalidLengthError,
    InvalidPointError,
    InvalidValueError,
)
from relayer.protocol.packets import (
    DOMAIN,
    GATEWAY_MAX_DISTRIBUTION_TOTAL,
    GATEWAY_MAX_VALIDATORS,
    MAX_PAYLOAD_BYTES,
    PAYLOAD_ABI_TYPES,
    FundingMode,
    Packet,
    PacketKind,
    Payload,
    RewardDistributionPayload,
    SlashPayload,
    ValsetUpdatePayload,
    WithdrawalApprovalPayload,
    check_gateway_limits,
    decode_payload,
    distribution_id,
    encode_payload,
    packet_digest,
    payload_hash,
)
from relayer.protocol.types import Address, Amount, Hash32, Power


def word(value: int | str) -> str:
    """One 32-byte ABI word as hex: ints left-padded; hex strings left-padded (addresses, uints)."""
    if isinstance(value, int):
        return f"{value:064x}"
    return value.rjust(64, "0")


def words(*items: int | str) -> bytes:
    return bytes.fromhex("".join(word(item) for item in items))


EXOCORE_CHAIN = Hash32(bytes.fromhex("20b53dd7035b5eebaf5e8f2a04d8ce9609821ff69ceb681455fde90ce9a3dc6f"))
L1_CHAIN_ID = 31337
GATEWAY = Address(bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3"))
VALSET_NONCE = 1

KEY_1 = bytes(16) + b"\x01" * 48 + bytes(16) + b"\x02" * 48
KEY_2 = bytes(16) + b"\x03" * 48 + bytes(16) + b"\x04" * 48

VALSET = ValsetUpdatePayload(2, (KEY_1, KEY_2), (Power(100), Power(50)))
VALSET_BYTES = words(
    2,  # newValsetNonce
    0x60,  # offset of bytes[] pubkeys
    0x200,  # offset of uint256[] powers = 0x60 + 13 words of pubkeys
    2,  # pubkeys.length
    0x40,  # offset of pubkeys[0], relative to the first offset word
    0xE0,  # offset of pubkeys[1] = 0x40 + 32 + 128
    0x80,  # pubkeys[0].length
    "01" * 16,
    "01" * 32,  # x = 16 zero bytes then 48 bytes of 0x01, as two words
    "02" * 16,
    "02" * 32,
    0x80,  # pubkeys[1].length
    "03" * 16,
    "03" * 32,
    "04" * 16,
    "04" * 32,
    2,  # powers.length
    100,
    50,
)
VALSET_PAYLOAD_HASH = "aca4ed29d17d614a9fa24d2d57e1124185a2ab1d67b9d55e9a43bcf3a058903b"
VALSET_DIGEST = "c866020b4d09e5a98502866a2f2c9002e7ec46a626d85742d8d1d52c56cc94a0"

ROOT = "03178350ae01b2ca35f700a9bc22f40f1e1ef38830331ca046d113d4fa32b22d"
REWARD = RewardDistributionPayload(
    claim_id=Hash32(b"\xaa" * 32),
    avs=Address(b"\x11" * 20),
    epoch=42,
    token=Address(b"\x22" * 20),
    funding=FundingMode.VAULT,
    total=Amount(10**18),
    leaf_count=3,
    merkle_root=Hash32(bytes.fromhex(ROOT)),
)
REWARD_BYTES = words("aa" * 32, "11" * 20, 42, "22" * 20, 2, 10**18, 3, ROOT)
REWARD_PAYLOAD_HASH = "cd90cf5895b0f8df2a99d95fd9d46d581b54fda49bfe56d501ab152091c5616c"
REWARD_DIGEST = "e3e96301fb60bfde5744479bdefa3dd1963ec7c7c43ec8cbf97f8b36210047da"
REWARD_DISTRIBUTION_ID = "efb403ab06cb1187835a6401fd0480fa5c3c88a413385af22d9e68fc7259ccba"

SLASH = SlashPayload(
    slash_id=Hash32(b"\xbb" * 32),
    operator=Address(b"\x33" * 20),
    avs=Address(b"\x11" * 20),
    tokens=(Address(b"\x44" * 20), Address(b"\x55" * 20)),
    amounts=(Amount(5), Amount(6)),
    freeze=True,
)
SLASH_BYTES = words(
    "bb" * 32,
    "33" * 20,
    "11" * 20,
    0xC0,  # offset of tokens: 6 head words
    0x120,  # offset of amounts: 0xc0 + 3 words
    1,  # freeze
    2,
    "44" * 20,
    "55" * 20,
    2,
    5,
    6,
)
SLASH_PAYLOAD_HASH = "251ef9e0af8b70e71c27befc7f899a15f45383d473053f77e25987ac0e148118"
SLASH_DIGEST = "02a485787c674c49e963989000c9edc233a7856f4270127c4a7b604ffc24b5a1"

CASES: list[tuple[Payload, bytes, int, str, str]] = [
    (VALSET, VALSET_BYTES, 1, VALSET_PAYLOAD_HASH, VALSET_DIGEST),
    (REWARD, REWARD_BYTES, 7, REWARD_PAYLOAD_HASH, REWARD_DIGEST),
    (SLASH, SLASH_BYTES, 8, SLASH_PAYLOAD_HASH, SLASH_DIGEST),
]


def test_domain_constant() -> None:
    assert DOMAIN.hex() == "6f87aaf03e7870384696e6966fc514c37d132a9dcb7eb44c656e01aa1d0f3875"
    assert keccak(b"EXORELAY_PACKET_V1") == DOMAIN


@pytest.mark.parametrize(("payload", "expected", "nonce", "hash_hex", "digest_hex"), CASES)
def test_known_answers(payload: Payload, expected: bytes, nonce: int, hash_hex: str, digest_hex: str) -> None:
    assert encode_payload(payload) == expected
    # The payload is a parameter list, not a struct: eth_abi of the flat types gives the same bytes.
    values = [getattr(payload, f.name) for f in dataclasses.fields(payload)]
    assert (
        abi_encode(
            list(PAYLOAD_ABI_TYPES[payload.kind]), [list(v) if isinstance(v, tuple) else v for v in values]
        )
        == expected
    )
    assert payload_hash(payload).hex() == hash_hex
    assert decode_payload(payload.kind, expected) == payload
    packet = Packet(EXOCORE_CHAIN, L1_CHAIN_ID, GATEWAY, VALSET_NONCE, nonce, payload)
    assert packet.kind == payload.kind
    assert packet.payload_bytes == expected
    assert packet.payload_hash.hex() == hash_hex
    assert packet.digest.hex() == digest_hex
    preimage = DOMAIN + words(
        L1_CHAIN_ID, GATEWAY.hex(), EXOCORE_CHAIN.hex(), VALSET_NONCE, int(payload.kind), nonce, hash_hex
    )
    assert keccak(preimage).hex() == digest_hex
    assert (
        packet_digest(
            l1_chain_id=L1_CHAIN_ID,
            gateway=GATEWAY,
            exocore_chain=EXOCORE_CHAIN,
            valset_nonce=VALSET_NONCE,
            kind=payload.kind,
            nonce=nonce,
            payload_hash=Hash32(bytes.fromhex(hash_hex)),
        ).hex()
        == digest_hex
    )
    rebuilt = Packet.from_payload_bytes(
        exocore_chain=EXOCORE_CHAIN,
        l1_chain_id=L1_CHAIN_ID,
        gateway=GATEWAY,
        valset_nonce=VALSET_NONCE,
        nonce=nonce,
        kind=int(payload.kind),
        payload_bytes=expected,
    )
    assert rebuilt == packet and rebuilt.digest == packet.digest


def test_struct_encoding_would_differ() -> None:
    """Guards the fixed decision: abi.encode(struct) prefixes a 0x20 offset for dynamic tuples."""
    struct_encoding = abi_encode(["(uint64,bytes[],uint256[])"], [(2, [KEY_1, KEY_2], [100, 50])])
    assert struct_encoding == words(0x20) + VALSET_BYTES
    assert encode_payload(VALSET) != struct_encoding


def test_distribution_id() -> None:
    assert distribution_id(EXOCORE_CHAIN, 7).hex() == REWARD_DISTRIBUTION_ID
    packet = Packet(EXOCORE_CHAIN, L1_CHAIN_ID, GATEWAY, VALSET_NONCE, 7, REWARD)
    assert packet.distribution_id.hex() == REWARD_DISTRIBUTION_ID
    with pytest.raises(InvalidValueError):
        _ = Packet(EXOCORE_CHAIN, L1_CHAIN_ID, GATEWAY, VALSET_NONCE, 8, SLASH).distribution_id


def test_digest_binds_every_field() -> None:
    base = Packet(EXOCORE_CHAIN, L1_CHAIN_ID, GATEWAY, VALSET_NONCE, 7, REWARD)
    variants = [
        dataclasses.replace(base, exocore_chain=Hash32(b"\x01" * 32)),
        dataclasses.replace(base, l1_chain_id=1),
        dataclasses.replace(base, gateway=Address(b"\x01" * 20)),
        dataclasses.replace(base, valset_nonce=2),
        dataclasses.replace(base, nonce=8),
        dataclasses.replace(base, payload=dataclasses.replace(REWARD, epoch=43)),
    ]
    digests = {base.digest, *(v.digest for v in variants)}
    assert len(digests) == len(variants) + 1


# ----------------------------------------------------------------------------------------------
# Decoding rejections


def test_unknown_kind() -> None:
    for kind in (0, 6, 255, -1):
        with pytest.raises(EncodingError, match="unknown packet kind"):
            decode_payload(kind, REWARD_BYTES)
    with pytest.raises(EncodingError):
        decode_payload(True, REWARD_BYTES)


APPROVAL = WithdrawalApprovalPayload(
    epoch=9,
    token=Address(b"\x22" * 20),
    total=Amount(7 * 10**18 + 1),
    leaf_count=4,
    merkle_root=Hash32(bytes.fromhex(ROOT)),
)
APPROVAL_BYTES = words(9, "22" * 20, 7 * 10**18 + 1, 4, ROOT)


def test_withdrawal_approval_encoding_is_the_parameter_list_and_decodes_back() -> None:
    assert APPROVAL.kind is PacketKind.WITHDRAWAL_APPROVAL
    assert encode_payload(APPROVAL) == APPROVAL_BYTES
    assert decode_payload(4, APPROVAL_BYTES) == APPROVAL
    # Its leaves have an L1 id like a distribution's: keccak256(abi.encode(exocoreChain, nonce)).
    packet = Packet(
        exocore_chain=Hash32(b"\x01" * 32),
        l1_chain_id=1,
        gateway=Address(b"\x02" * 20),
        valset_nonce=1,
        nonce=12,
        payload=APPROVAL,
    )
    assert packet.distribution_id == distribution_id(Hash32(b"\x01" * 32), 12)


def test_withdrawal_approval_construction_rules() -> None:
    fields = {
        "epoch": 1,
        "token": Address(b"\x22" * 20),
        "total": Amount(1),
        "leaf_count": 1,
        "merkle_root": Hash32(b"\x01" * 32),
    }
    for name, bad in (("leaf_count", 0), ("token", Address(bytes(20))), ("merkle_root", Hash32(bytes(32)))):
        with pytest.raises(InvalidValueError):
            WithdrawalApprovalPayload(**{**fields, name: bad})  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError):
        check_gateway_limits(WithdrawalApprovalPayload(**{**fields, "total": Amount(1 << 128)}))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "data"), [(1, VALSET_BYTES), (2, REWARD_BYTES), (3, SLASH_BYTES), (4, APPROVAL_BYTES)]
)
def test_trailing_and_truncated(kind: int, data: bytes) -> None:
    with pytest.raises(EncodingError, match="trailing"):
        decode_payload(kind, data + b"\x00")
    with pytest.raises(EncodingError, match="trailing"):
        decode_payload(kind, data + bytes(32))
    for cut in (1, 31, 32, len(data) - 1):
        with pytest.raises(EncodingError):
            decode_payload(kind, data[: len(data) - cut])
    with pytest.raises(EncodingError):
        decode_payload(kind, b"")


def patched(data: bytes, word_index: int, new_word: bytes) -> bytes:
    assert len(new_word) == 32
    return data[: 32 * word_index] + new_word + data[32 * (word_index + 1) :]


def test_integer_overflow_and_dirty_padding() -> None:
    # epoch is uint64: a value needing 65 bits is not a canonical uint64 word
    with pytest.raises(EncodingError):
        decode_payload(2, patched(REWARD_BYTES, 2, words(2**64)))
    # leafCount is uint32
    with pytest.raises(EncodingError):
        decode_payload(2, patched(REWARD_BYTES, 6, words(2**32)))
    # funding is uint8
    with pytest.raises(EncodingError):
        decode_payload(2, patched(REWARD_BYTES, 4, words(0x102)))
    # address with a dirty high byte
    with pytest.raises(EncodingError):
        decode_payload(2, patched(REWARD_BYTES, 1, bytes.fromhex("01" + "00" * 11 + "11" * 20)))
    # newValsetNonce is uint64
    with pytest.raises(EncodingError):
        decode_payload(1, patched(VALSET_BYTES, 0, words(2**64)))
    # address inside address[] with dirty padding
    with pytest.raises(EncodingError):
        decode_payload(3, patched(SLASH_BYTES, 7, bytes.fromhex("ff" + "00" * 11 + "44" * 20)))


def test_bad_bool_and_funding() -> None:
    with pytest.raises(EncodingError, match="Boolean"):
        decode_payload(3, patched(SLASH_BYTES, 5, words(2)))
    for funding in (0, 4, 255):
        with pytest.raises(InvalidValueError, match="funding"):
            decode_payload(2, patched(REWARD_BYTES, 4, words(funding)))


def test_non_canonical_offsets_and_bytes_padding() -> None:
    # Offsets that point elsewhere still decode in eth_abi but are not the canonical layout:
    # a gap word before the tokens tail...
    gapped = words("bb" * 32, "33" * 20, "11" * 20, 0xE0, 0x140, 1, 0, 2, "44" * 20, "55" * 20, 2, 5, 6)
    with pytest.raises(EncodingError, match="not canonically"):
        decode_payload(3, gapped)
    # ...and amounts aliasing the tokens array (decodes as the addresses' integer values).
    aliased = patched(SLASH_BYTES, 4, words(0xC0))
    with pytest.raises(EncodingError):
        decode_payload(3, aliased)
    # A key that is not 128 bytes is well-formed ABI but not an EIP-2537 G1 point.
    short_key_payload = abi_encode(["uint64", "bytes[]", "uint256[]"], [1, [b"\x01" * 100], [1]])
    with pytest.raises(InvalidLengthError):
        decode_payload(1, short_key_payload)


def test_semantic_rules_on_decode() -> None:
    empty = abi_encode(["uint64", "bytes[]", "uint256[]"], [1, [], []])
    with pytest.raises(InvalidLengthError):
        decode_payload(1, empty)
    zero_power = abi_encode(["uint64", "bytes[]", "uint256[]"], [1, [KEY_1], [0]])
    with pytest.raises(InvalidValueError, match="positive"):
        decode_payload(1, zero_power)
    duplicate = abi_encode(["uint64", "bytes[]", "uint256[]"], [1, [KEY_1, KEY_1], [1, 1]])
    with pytest.raises(DuplicateKeyError):
        decode_payload(1, duplicate)
    mismatch = abi_encode(["uint64", "bytes[]", "uint256[]"], [1, [KEY_1], [1, 2]])
    with pytest.raises(InvalidLengthError):
        decode_payload(1, mismatch)
    duplicate_token = abi_encode(
        ["bytes32", "address", "address", "address[]", "uint256[]", "bool"],
        [b"\x01" * 32, b"\x02" * 20, b"\x03" * 20, [b"\x04" * 20, b"\x04" * 20], [1, 2], False],
    )
    with pytest.raises(InvalidValueError, match="twice"):
        decode_payload(3, duplicate_token)


def test_payload_size_limit() -> None:
    with pytest.raises(EncodingError, match="limit"):
        decode_payload(1, bytes(MAX_PAYLOAD_BYTES + 32))


@settings(max_examples=300, deadline=None)
@given(kind=st.integers(1, 3), data=st.binary(max_size=700))
def test_random_bytes_only_raise_protocol_errors(kind: int, data: bytes) -> None:
    try:
        payload = decode_payload(kind, data)
    except ProtocolError:
        return
    assert encode_payload(payload) == data


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from([1, 2, 3]), position=st.integers(0, 10_000), value=st.integers(0, 255))
def test_single_byte_mutations_are_rejected_or_canonical(kind: int, position: int, value: int) -> None:
    original = {1: VALSET_BYTES, 2: REWARD_BYTES, 3: SLASH_BYTES}[kind]
    index = position % len(original)
    mutated = original[:index] + bytes([value]) + original[index + 1 :]
    try:
        payload = decode_payload(kind, mutated)
    except ProtocolError:
        return
    assert encode_payload(payload) == mutated


# ----------------------------------------------------------------------------------------------
# Construction rules


def test_valset_construction_rules() -> None:
    with pytest.raises(InvalidLengthError):
        ValsetUpdatePayload(1, (KEY_1[:-1],), (Power(1),))
    with pytest.raises(InvalidPointError, match="padding"):
        ValsetUpdatePayload(1, (b"\x01" + KEY_1[1:],), (Power(1),))
    with pytest.raises(InvalidPointError, match="infinity"):
        ValsetUpdatePayload(1, (bytes(128),), (Power(1),))
    p_word = bytes(16) + bytes.fromhex(
        "1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab"
    )
    with pytest.raises(InvalidPointError, match="field element"):
        ValsetUpdatePayload(1, (p_word + KEY_1[64:],), (Power(1),))
    with pytest.raises(InvalidValueError):
        ValsetUpdatePayload(2**64, (KEY_1,), (Power(1),))
    with pytest.raises(InvalidValueError, match="uint256"):
        ValsetUpdatePayload(1, (KEY_1, KEY_2), (Power(2**256 - 1), Power(1)))
    assert VALSET.total_power == 150


def test_reward_construction_rules() -> None:
    with pytest.raises(InvalidValueError, match="at least one leaf"):
        dataclasses.replace(REWARD, leaf_count=0)
    with pytest.raises(InvalidValueError):
        dataclasses.replace(REWARD, leaf_count=2**32)
    with pytest.raises(InvalidValueError, match="funding"):
        dataclasses.replace(REWARD, funding=4)  # type: ignore[arg-type]
    with pytest.raises(InvalidLengthError):
        dataclasses.replace(REWARD, avs=Address(b"\x01" * 19))
    with pytest.raises(InvalidValueError, match="zero address"):
        dataclasses.replace(REWARD, token=Address(bytes(20)))
    with pytest.raises(InvalidValueError, match="merkleRoot"):
        dataclasses.replace(REWARD, merkle_root=Hash32(bytes(32)))
    hex_avs = dataclasses.replace(REWARD, avs="0x" + "11" * 20)  # type: ignore[arg-type]
    assert hex_avs == REWARD
    assert dataclasses.replace(REWARD, funding=1).funding is FundingMode.MINT  # type: ignore[arg-type]


def test_slash_construction_rules() -> None:
    with pytest.raises(InvalidLengthError):
        dataclasses.replace(SLASH, tokens=(), amounts=())
    with pytest.raises(InvalidLengthError):
        dataclasses.replace(SLASH, amounts=(Amount(1),))
    with pytest.raises(InvalidValueError, match="bool"):
        dataclasses.replace(SLASH, freeze=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError):
        dataclasses.replace(SLASH, amounts=(Amount(1), Amount(2**256)))


def test_packet_field_validation() -> None:
    with pytest.raises(InvalidValueError):
        Packet(EXOCORE_CHAIN, L1_CHAIN_ID, GATEWAY, 2**64, 1, REWARD)
    with pytest.raises(InvalidValueError):
        Packet(EXOCORE_CHAIN, -1, GATEWAY, 1, 1, REWARD)
    with pytest.raises(InvalidLengthError):
        Packet(Hash32(b"\x00" * 31), L1_CHAIN_ID, GATEWAY, 1, 1, REWARD)
    with pytest.raises(InvalidValueError):
        Packet(EXOCORE_CHAIN, L1_CHAIN_ID, GATEWAY, 1, 1, "payload")  # type: ignore[arg-type]
    assert int(PacketKind.SLASH) == 3 and int(FundingMode.VAULT) == 2


def _distinct_g1_key(i: int) -> bytes:
    # Well-formed EIP-2537 padding with distinct, non-zero coordinates (< p): enough for the structural check.
    x = (i + 1).to_bytes(48, "big")
    return bytes(16) + x + bytes(16) + x


def test_gateway_limits_match_the_contract() -> None:
    check_gateway_limits(REWARD)
    check_gateway_limits(SLASH)
    at_cap = dataclasses.replace(REWARD, total=Amount(GATEWAY_MAX_DISTRIBUTION_TOTAL))
    check_gateway_limits(at_cap)
    with pytest.raises(InvalidValueError, match="uint128"):
        check_gateway_limits(dataclasses.replace(REWARD, total=Amount(GATEWAY_MAX_DISTRIBUTION_TOTAL + 1)))

    def valset(n: int) -> ValsetUpdatePayload:
        keys = tuple(_distinct_g1_key(i) for i in range(n))
        return ValsetUpdatePayload(2, keys, tuple(Power(1) for _ in range(n)))

    check_gateway_limits(valset(GATEWAY_MAX_VALIDATORS))
    with pytest.raises(InvalidValueError, match="190"):
        check_gateway_limits(valset(GATEWAY_MAX_VALIDATORS + 1))
