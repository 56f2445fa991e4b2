"""Reward-claim, slash-request and equivocation digests (relayer.protocol.claims)."""

from __future__ import annotations

import pytest
from Crypto.Hash import keccak as pycryptodome_keccak
from hypothesis import given
from hypothesis import strategies as st

from relayer.protocol import bls
from relayer.protocol.claims import (
    EQUIVOCATION_DOMAIN,
    PROPORTION_ONE,
    REWARD_CLAIM_DOMAIN,
    SLASH_REQUEST_DOMAIN,
    EquivocationEvidence,
    RewardClaim,
    SlashRequest,
    decode_signing_request,
    format_fixed,
    parse_fixed,
    parse_proportion,
    reward_claim_id,
    task_id_of_response,
    task_response_digest,
)
from relayer.protocol.errors import InvalidLengthError, InvalidValueError
from relayer.protocol.ids import exocore_chain_hash
from relayer.protocol.packets import DOMAIN as PACKET_DOMAIN
from relayer.protocol.types import Address, Amount, Hash32

CHAIN = exocore_chain_hash("exocoredevnet_233-1")
AVS = Address(bytes.fromhex("11" * 20))
TOKEN = Address(bytes.fromhex("22" * 20))
OPERATOR = Address(bytes.fromhex("33" * 20))
ROOT = Hash32(bytes.fromhex("44" * 32))


def keccak(data: bytes) -> bytes:
    """An independent keccak256 (pycryptodome), not the one the module uses."""
    return pycryptodome_keccak.new(digest_bits=256, data=data).digest()


def word(value: int | bytes) -> bytes:
    """One ABI head word, built by hand: ints big-endian, addresses left-padded, bytes32 as is."""
    if isinstance(value, int):
        return value.to_bytes(32, "big")
    return value.rjust(32, b"\x00")


def test_domains_are_keccak_of_their_tags() -> None:
    assert keccak(b"EXORELAY_REWARD_CLAIM_V1") == REWARD_CLAIM_DOMAIN
    assert keccak(b"EXORELAY_SLASH_REQUEST_V1") == SLASH_REQUEST_DOMAIN
    assert keccak(b"EXORELAY_EQUIVOCATION_V1") == EQUIVOCATION_DOMAIN
    assert len({REWARD_CLAIM_DOMAIN, SLASH_REQUEST_DOMAIN, EQUIVOCATION_DOMAIN, PACKET_DOMAIN}) == 4


def test_claim_id_matches_hand_built_abi_encoding() -> None:
    claim = RewardClaim(CHAIN, AVS, 7, TOKEN, Amount(10**21), ROOT)
    expected = keccak(
        word(REWARD_CLAIM_DOMAIN)
        + word(CHAIN)
        + word(AVS)
        + word(7)
        + word(TOKEN)
        + word(10**21)
        + word(ROOT)
    )
    assert claim.claim_id == expected
    assert (
        reward_claim_id(exocore_chain=CHAIN, avs=AVS, epoch=7, token=TOKEN, amount=10**21, tasks_root=ROOT)
        == expected
    )


def test_claim_and_slash_ids_known_answers() -> None:
    # Pinned: a change here changes every claim / slash id the chain, relayer and indexer agree on.
    claim = RewardClaim(CHAIN, AVS, 1, TOKEN, Amount(1000), Hash32(bytes(32)))
    assert claim.claim_id.hex() == "2c4cc9210dfa183384b538b58e43095a99ba027b5f82e7b7643cc542e63ee3f2"
    request = SlashRequest(CHAIN, AVS, 1, OPERATOR, 5 * 10**16, True, Hash32(bytes(32)))
    assert request.slash_id.hex() == "f6dedcc525e9add750d8712e3d90b3da0a6f5844043b3c92bf706b567b23a587"


@pytest.mark.parametrize(
    "field, value",
    [("epoch", 8), ("amount", 10**21 + 1), ("tasks_root", Hash32(bytes(32))), ("token", AVS), ("avs", TOKEN)],
)
def test_every_claim_field_changes_the_id(field: str, value: object) -> None:
    base = RewardClaim(CHAIN, AVS, 7, TOKEN, Amount(10**21), ROOT)
    fields = {
        "exocore_chain": CHAIN,
        "avs": AVS,
        "epoch": 7,
        "token": TOKEN,
        "amount": 10**21,
        "tasks_root": ROOT,
    }
    fields[field] = value
    assert RewardClaim(**fields).claim_id != base.claim_id  # type: ignore[arg-type]


def test_claim_rejects_out_of_range_fields() -> None:
    with pytest.raises(InvalidValueError):
        RewardClaim(CHAIN, AVS, 2**64, TOKEN, Amount(1), ROOT)
    with pytest.raises(InvalidValueError):
        RewardClaim(CHAIN, AVS, 1, TOKEN, Amount(2**256), ROOT)
    with pytest.raises(InvalidLengthError):
        RewardClaim(CHAIN, Address(b"\x01" * 19), 1, TOKEN, Amount(1), ROOT)


def test_slash_id_matches_hand_built_abi_encoding() -> None:
    request = SlashRequest(CHAIN, AVS, 3, OPERATOR, 5 * 10**16, True, ROOT)
    expected = keccak(
        word(SLASH_REQUEST_DOMAIN)
        + word(CHAIN)
        + word(AVS)
        + word(3)
        + word(OPERATOR)
        + word(5 * 10**16)
        + word(1)
        + word(ROOT)
    )
    assert request.slash_id == expected
    unfrozen = SlashRequest(CHAIN, AVS, 3, OPERATOR, 5 * 10**16, False, ROOT)
    assert unfrozen.slash_id != expected


@pytest.mark.parametrize("proportion", [0, PROPORTION_ONE + 1, -1])
def test_slash_request_rejects_bad_proportion(proportion: int) -> None:
    with pytest.raises(InvalidValueError):
        SlashRequest(CHAIN, AVS, 3, OPERATOR, proportion, True, ROOT)


def response(task_id: int, answer: int) -> bytes:
    return task_id.to_bytes(32, "big") + answer.to_bytes(32, "big")


def test_task_response_digest_and_task_id() -> None:
    data = response(9, 81)
    assert task_response_digest(data) == keccak(data)
    assert task_id_of_response(data) == 9
    with pytest.raises(InvalidLengthError):
        task_id_of_response(b"\x00" * 31)
    with pytest.raises(InvalidValueError):
        task_id_of_response((2**64).to_bytes(32, "big"))


def test_equivocation_id_is_order_independent_and_hand_built() -> None:
    a, b = response(9, 81), response(9, 82)
    forward = EquivocationEvidence(CHAIN, AVS, OPERATOR, 9, a, b)
    backward = EquivocationEvidence(CHAIN, AVS, OPERATOR, 9, b, a)
    low, high = sorted([keccak(a), keccak(b)])
    expected = keccak(
        word(EQUIVOCATION_DOMAIN) + word(CHAIN) + word(AVS) + word(OPERATOR) + word(9) + low + high
    )
    assert forward.evidence_id == backward.evidence_id == expected


def test_equivocation_needs_two_different_responses_to_the_same_task() -> None:
    with pytest.raises(InvalidValueError, match="two different"):
        EquivocationEvidence(CHAIN, AVS, OPERATOR, 9, response(9, 1), response(9, 1))
    with pytest.raises(InvalidValueError, match="task 10"):
        EquivocationEvidence(CHAIN, AVS, OPERATOR, 9, response(9, 1), response(10, 1))


def test_equivocation_verify() -> None:
    secret = bls.secret_key_from_seed(b"operator-seed".ljust(32, b"\x00"))
    other = bls.secret_key_from_seed(b"other-seed".ljust(32, b"\x00"))
    evidence = EquivocationEvidence(CHAIN, AVS, OPERATOR, 9, response(9, 1), response(9, 2))
    digest_a, digest_b = evidence.digests
    sig_a, sig_b = bls.sign(secret, digest_a), bls.sign(secret, digest_b)
    key = bls.public_key_of(secret)
    assert evidence.verify(key, sig_a, sig_b)
    assert not evidence.verify(key, sig_a, sig_a)
    assert not evidence.verify(key, sig_a, bls.sign(other, digest_b))
    assert not evidence.verify(bls.public_key_of(other), sig_a, sig_b)


@pytest.mark.parametrize(
    "text, decimals, value",
    [
        ("0", 8, 0),
        ("1", 8, 10**8),
        ("0.05", 18, 5 * 10**16),
        ("3000.12345678", 8, 300012345678),
        ("1.50", 2, 150),
        ("007.5", 1, 75),
    ],
)
def test_parse_fixed(text: str, decimals: int, value: int) -> None:
    assert parse_fixed(text, decimals, "x") == value


@pytest.mark.parametrize("text", ["", "-1", "1e5", "0.123456789", ".5", "5.", "1,5", " "])
def test_parse_fixed_rejects(text: str) -> None:
    with pytest.raises(InvalidValueError):
        parse_fixed(text, 8, "x")


@given(st.integers(min_value=0, max_value=10**40), st.integers(min_value=0, max_value=18))
def test_format_fixed_round_trips(value: int, decimals: int) -> None:
    assert parse_fixed(format_fixed(value, decimals), decimals, "x") == value


def test_parse_proportion_bounds() -> None:
    assert parse_proportion("1") == PROPORTION_ONE
    assert parse_proportion("0.000000000000000001") == 1
    with pytest.raises(InvalidValueError):
        parse_proportion("0")
    with pytest.raises(InvalidValueError):
        parse_proportion("1.000000000000000001")


# --- canonical bytes and signing slots (what the aggregator receives and operators protect) ---------


def _claim(amount: int = 10**18) -> RewardClaim:
    return RewardClaim(
        Hash32(b"\x01" * 32),
        Address(b"\x11" * 20),
        5,
        Address(b"\x22" * 20),
        Amount(amount),
        Hash32(b"\x02" * 32),
    )


def _slash(proportion: int = 10**17) -> SlashRequest:
    return SlashRequest(
        Hash32(b"\x01" * 32),
        Address(b"\x11" * 20),
        5,
        Address(b"\x33" * 20),
        proportion,
        True,
        Hash32(b"\x00" * 32),
    )


def test_signing_requests_round_trip_through_their_canonical_bytes() -> None:
    for request in (_claim(), _slash()):
        assert decode_signing_request(request.canonical_bytes) == request
    assert keccak(_claim().canonical_bytes) == _claim().claim_id
    assert keccak(_slash().canonical_bytes) == _slash().slash_id


def test_conflicting_payloads_share_a_slot_and_differ_in_digest() -> None:
    assert _claim(1).signing_slot == _claim(2).signing_slot
    assert _claim(1).claim_id != _claim(2).claim_id
    assert _slash(1).signing_slot == _slash(2).signing_slot
    assert _claim().signing_slot != _slash().signing_slot


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", InvalidLengthError),
        (b"\x00" * 31, InvalidLengthError),
        (b"\x00" * 224, InvalidValueError),  # no domain tag
        (_claim().canonical_bytes[:-1], InvalidLengthError),
        (_claim().canonical_bytes + b"\x00" * 32, InvalidLengthError),
        (_slash().canonical_bytes[:224], InvalidLengthError),
        # an address word with a high byte set, a bool word of 2, a zero proportion
        (_claim().canonical_bytes[:64] + b"\x01" + _claim().canonical_bytes[65:], InvalidValueError),
        (_slash().canonical_bytes[:223] + b"\x02" + _slash().canonical_bytes[224:], InvalidValueError),
        (_slash().canonical_bytes[:160] + b"\x00" * 32 + _slash().canonical_bytes[192:], InvalidValueError),
    ],
)
def test_malformed_signing_requests_are_typed_refusals(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode_signing_request(data)
