"""Property tests: the fast backend (blspy) and the reference (py_ecc) give the same bytes and booleans.

py_ecc is slow (~0.12 s per sign, ~0.3 s per verify), so the examples that touch it are few; the
fast-only properties run more. Every comparison includes tampered inputs, so agreement is not just
"both say True".
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relayer.protocol import bls
from relayer.protocol.bls.constants import CURVE_ORDER, FIELD_MODULUS
from relayer.protocol.errors import InvalidPointError

FAST = bls.get_backend("fast")
REFERENCE = bls.get_backend("reference")

seeds = st.binary(min_size=32, max_size=32)
messages = st.binary(min_size=32, max_size=32)
bit_positions = st.integers(min_value=0, max_value=255)

# py_ecc-bound properties: a handful of examples each keeps the whole file well under 30 s.
REFERENCE_SETTINGS = settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
FAST_SETTINGS = settings(max_examples=60, deadline=None)


def flip_bit(data: bytes, position: int) -> bytes:
    out = bytearray(data)
    out[position // 8] ^= 1 << (position % 8)
    return bytes(out)


@REFERENCE_SETTINGS
@given(seed=seeds, other_seed=seeds, message=messages, position=bit_positions)
def test_sign_verify_agree(seed: bytes, other_seed: bytes, message: bytes, position: int) -> None:
    secret, other = bls.SecretKey.from_seed(seed), bls.SecretKey.from_seed(other_seed)
    fast_key, reference_key = FAST.public_key_of(secret), REFERENCE.public_key_of(secret)
    assert fast_key.compressed == reference_key.compressed
    fast_sig, reference_sig = FAST.sign(secret, message), REFERENCE.sign(secret, message)
    assert fast_sig.compressed == reference_sig.compressed
    tampered = flip_bit(message, position)
    wrong_key = FAST.public_key_of(other)
    for key, msg, expected in (
        (fast_key, message, True),
        (fast_key, tampered, False),
        (wrong_key, message, seed == other_seed),
    ):
        assert FAST.verify(key, msg, fast_sig) is expected
        assert REFERENCE.verify(key, msg, fast_sig) is expected


@REFERENCE_SETTINGS
@given(seed=seeds, other_seed=seeds)
def test_pop_agree(seed: bytes, other_seed: bytes) -> None:
    secret, other = bls.SecretKey.from_seed(seed), bls.SecretKey.from_seed(other_seed)
    proof = FAST.pop_prove(secret)
    assert proof.compressed == REFERENCE.pop_prove(secret).compressed
    key, other_key = FAST.public_key_of(secret), FAST.public_key_of(other)
    assert FAST.pop_verify(key, proof) and REFERENCE.pop_verify(key, proof)
    same = seed == other_seed
    assert FAST.pop_verify(other_key, proof) is same
    assert REFERENCE.pop_verify(other_key, proof) is same


@REFERENCE_SETTINGS
@given(
    scalars=st.lists(
        st.integers(min_value=1, max_value=CURVE_ORDER - 1), min_size=2, max_size=4, unique=True
    ),
    message=messages,
    position=bit_positions,
)
def test_aggregates_agree(scalars: list[int], message: bytes, position: int) -> None:
    secrets = [bls.SecretKey.from_int(scalar) for scalar in scalars]
    keys = [FAST.public_key_of(secret) for secret in secrets]
    signatures = [FAST.sign(secret, message) for secret in secrets]
    aggregate = FAST.aggregate_signatures(signatures)
    assert aggregate.compressed == REFERENCE.aggregate_signatures(signatures).compressed
    assert FAST.aggregate_public_keys(keys).compressed == REFERENCE.aggregate_public_keys(keys).compressed
    one_short = FAST.aggregate_signatures(signatures[:-1])
    cases = (
        (keys, message, aggregate, True),
        (keys, flip_bit(message, position), aggregate, False),
        (keys[:-1], message, aggregate, False),  # a signer missing from the key list
        (keys, message, one_short, False),  # a key that did not sign
    )
    for case_keys, case_message, case_signature, expected in cases:
        assert FAST.fast_aggregate_verify(case_keys, case_message, case_signature) is expected
        assert REFERENCE.fast_aggregate_verify(case_keys, case_message, case_signature) is expected


@REFERENCE_SETTINGS
@given(message=st.binary(max_size=200), dst=st.binary(min_size=1, max_size=255))
def test_hash_to_g2_agree(message: bytes, dst: bytes) -> None:
    assert FAST.hash_to_g2(message, dst) == REFERENCE.hash_to_g2(message, dst)


@settings(max_examples=8, deadline=None)
@given(x=st.integers(min_value=1, max_value=FIELD_MODULUS - 1), larger=st.booleans())
def test_random_g1_encodings_rejected_alike(x: int, larger: bool) -> None:
    # A random x is on the curve half the time and (cofactor ~2^126) essentially never in G1.
    encoded = bytearray(x.to_bytes(48))
    encoded[0] |= 0x80 | (0x20 if larger else 0)
    outcomes = []
    for backend in (FAST, REFERENCE):
        try:
            backend.parse_public_keys([bytes(encoded)], use_cache=False)
            outcomes.append("accepted")
        except InvalidPointError as exc:
            outcomes.append(str(exc))
    assert outcomes[0] == outcomes[1] != "accepted"


# --- fast-backend-only properties (cheap, more examples) ------------------------------------------------


@FAST_SETTINGS
@given(seed=seeds, message=messages, position=bit_positions)
def test_signature_bit_flips_never_verify(seed: bytes, message: bytes, position: int) -> None:
    secret = bls.SecretKey.from_seed(seed)
    key = FAST.public_key_of(secret)
    signature = FAST.sign(secret, message)
    flipped = flip_bit(signature.compressed, position)
    try:
        tampered = FAST.parse_signature(flipped)
    except InvalidPointError:
        return  # most flips give an invalid encoding, which is refused outright
    assert FAST.verify(key, message, tampered) is (tampered == signature)


@FAST_SETTINGS
@given(
    scalars=st.lists(
        st.integers(min_value=1, max_value=CURVE_ORDER - 1), min_size=1, max_size=40, unique=True
    )
)
def test_aggregate_key_is_key_of_summed_secret(scalars: list[int]) -> None:
    total = sum(scalars) % CURVE_ORDER
    keys = FAST.parse_public_keys([FAST.public_key_of(bls.SecretKey.from_int(s)).compressed for s in scalars])
    if total == 0:
        with pytest.raises(InvalidPointError, match="infinity"):
            FAST.aggregate_public_keys(keys)
        return
    assert FAST.aggregate_public_keys(keys) == FAST.public_key_of(bls.SecretKey.from_int(total))
