"""Compressed (zcash) <-> EIP-2537 encodings, the field arithmetic behind them, and their validation."""

from __future__ import annotations

from typing import Any

import pytest
from blspy import G1Element, G2Element
from hypothesis import given, settings
from hypothesis import strategies as st
from py_ecc.bls.point_compression import decompress_G1, decompress_G2
from py_ecc.bls.typing import G1Compressed, G2Compressed
from py_ecc.optimized_bls12_381.optimized_curve import G1 as PY_ECC_G1
from py_ecc.optimized_bls12_381.optimized_curve import G2 as PY_ECC_G2
from py_ecc.optimized_bls12_381.optimized_curve import normalize

from relayer.protocol import bls
from relayer.protocol.bls.constants import CURVE_ORDER, FIELD_MODULUS
from relayer.protocol.bls.encoding import (
    g1_compress,
    g1_decompress,
    g1_from_eip2537,
    g2_compress,
    g2_decompress,
    g2_from_eip2537,
)
from relayer.protocol.bls.fields import fp2_mul, fp2_sqrt, fp2_square, fp_sqrt
from relayer.protocol.errors import InvalidLengthError, InvalidPointError
from tests.support.bls_points import NOT_IN_G2

P = FIELD_MODULUS
BACKENDS = ["fast", "reference"]

# The generators as EIP-2537 and the zcash serialisation spec publish them.
G1_X = 0x17F1D3A73197D7942695638C4FA9AC0FC3688C4F9774B905A14E3A3F171BAC586C55E83FF97A1AEFFB3AF00ADB22C6BB
G1_Y = 0x08B3F481E3AAA0F1A09E30ED741D8AE4FCF5E095D5D00AF600DB18CB2C04B3EDD03CC744A2888AE40CAA232946C5E7E1
G1_COMPRESSED = bytes.fromhex(
    "97f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb"
)
G2_X = (
    0x024AA2B2F08F0A91260805272DC51051C6E47AD4FA403B02B4510B647AE3D1770BAC0326A805BBEFD48056C8C121BDB8,
    0x13E02B6052719F607DACD3A088274F65596BD0D09920B61AB5DA61BBDC7F5049334CF11213945D57E5AC7D055D042B7E,
)
G2_Y = (
    0x0CE5D527727D6E118CC9CDC6DA2E351AADFD9BAA8CBDD3A76D429A695160D12C923AC9CC3BACA289E193548608B82801,
    0x0606C4A02EA734CC32ACD2B02BC28B99CB3E287E85A763AF267492AB572E99AB3F370D275CEC1DA1AAA9075FF05F79BE,
)
G2_COMPRESSED = bytes.fromhex(
    "93e02b6052719f607dacd3a088274f65596bd0d09920b61ab5da61bbdc7f5049334cf11213945d57e5ac7d055d042b7e"
    "024aa2b2f08f0a91260805272dc51051c6e47ad4fa403b02b4510b647ae3d1770bac0326a805bbefd48056c8c121bdb8"
)
# ethereum/bls12-381-tests deserialization_fails_not_in_G1 / _not_in_G2: on the curve, outside the group.
NOT_IN_G1 = bytes.fromhex("8123456789abcdef" + "0123456789abcdef" * 5)


def pad(value: int) -> bytes:
    return value.to_bytes(64)


def coords(point: Any) -> list[int]:
    """Affine coordinates of a py_ecc point, flattened c0-first."""
    out: list[int] = []
    for coordinate in normalize(point):
        if hasattr(coordinate, "coeffs"):
            out.extend(int(c) for c in coordinate.coeffs)
        else:
            out.append(int(coordinate.n))
    return out


# --- known answers ----------------------------------------------------------------------------------


def test_generator_constants_match_py_ecc_and_blspy() -> None:
    assert coords(PY_ECC_G1) == [G1_X, G1_Y]
    assert coords(PY_ECC_G2) == [*G2_X, *G2_Y]
    assert bytes(G1Element.generator()) == G1_COMPRESSED
    assert bytes(G2Element.generator()) == G2_COMPRESSED


@pytest.mark.parametrize("backend", BACKENDS)
def test_g1_generator_eip2537(backend: str) -> None:
    key = bls.SecretKey.from_int(1).public_key(backend)
    assert key.compressed == G1_COMPRESSED
    encoded = key.to_eip2537()
    assert encoded == pad(G1_X) + pad(G1_Y)
    assert encoded[:16] == encoded[64:80] == bytes(16)
    assert bls.PublicKey.from_eip2537(encoded, backend) == key


@pytest.mark.parametrize("backend", BACKENDS)
def test_g2_generator_eip2537_puts_c0_first(backend: str) -> None:
    generator = bls.parse_signature(G2_COMPRESSED, backend=backend)
    encoded = generator.to_eip2537()
    assert encoded == pad(G2_X[0]) + pad(G2_X[1]) + pad(G2_Y[0]) + pad(G2_Y[1])
    # zcash puts x.c1 first: the compressed bytes after the flags are x.c1 then x.c0.
    assert int.from_bytes(G2_COMPRESSED[48:]) == G2_X[0]
    assert bls.Signature.from_eip2537(encoded, backend) == generator


@pytest.mark.parametrize("backend", BACKENDS)
def test_negated_point_flips_sign_flag_and_y(backend: str) -> None:
    negated = bytes([G1_COMPRESSED[0] ^ 0x20]) + G1_COMPRESSED[1:]
    key = bls.parse_public_key(negated, backend=backend)
    assert key.to_eip2537() == pad(G1_X) + pad(P - G1_Y)
    neg_g2 = bls.parse_signature(bytes([G2_COMPRESSED[0] ^ 0x20]) + G2_COMPRESSED[1:], backend=backend)
    assert neg_g2.to_eip2537()[128:] == pad(P - G2_Y[0]) + pad(P - G2_Y[1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_infinity(backend: str) -> None:
    infinity = bls.parse_signature(bytes([0xC0]) + bytes(95), backend=backend)
    assert infinity.is_infinity
    assert infinity.to_eip2537() == bytes(256)
    assert bls.Signature.from_eip2537(bytes(256), backend) == infinity
    with pytest.raises(InvalidPointError, match="infinity"):
        bls.PublicKey.from_eip2537(bytes(128), backend)


# --- rejection ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("size", [0, 127, 129, 48])
def test_g1_eip2537_wrong_length(backend: str, size: int) -> None:
    with pytest.raises(InvalidLengthError):
        bls.PublicKey.from_eip2537(bytes(size), backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("size", [0, 255, 257, 96])
def test_g2_eip2537_wrong_length(backend: str, size: int) -> None:
    with pytest.raises(InvalidLengthError):
        bls.Signature.from_eip2537(bytes(size), backend)


G1_GOOD = pad(G1_X) + pad(G1_Y)
G2_GOOD = pad(G2_X[0]) + pad(G2_X[1]) + pad(G2_Y[0]) + pad(G2_Y[1])


@pytest.mark.parametrize(
    ("encoded", "reason"),
    [
        (b"\x01" + G1_GOOD[1:], "padding"),
        (G1_GOOD[:64] + b"\x00" * 15 + b"\x01" + G1_GOOD[80:], "padding"),
        (pad(P) + pad(G1_Y), "canonical"),
        (pad(G1_X) + pad(G1_Y + P), "canonical"),
        (pad(G1_X) + pad(G1_Y + 1), "not on the curve"),
        (pad(0) + pad(2), "not in the G1 subgroup"),  # (0, 2): a point of order 3
    ],
    ids=["pad-x", "pad-y", "x=p", "y>=p", "off-curve", "order-3"],
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_g1_eip2537_rejects(backend: str, encoded: bytes, reason: str) -> None:
    with pytest.raises(InvalidPointError, match=reason):
        bls.PublicKey.from_eip2537(encoded, backend)


def _not_in_g2_eip2537() -> bytes:
    point = g2_decompress(NOT_IN_G2)
    assert point is not None
    (x0, x1), (y0, y1) = point
    return pad(x0) + pad(x1) + pad(y0) + pad(y1)


@pytest.mark.parametrize(
    ("encoded", "reason"),
    [
        (G2_GOOD[:128] + b"\x80" + G2_GOOD[129:], "padding"),
        (pad(G2_X[0]) + pad(P) + G2_GOOD[128:], "canonical"),
        (G2_GOOD[:192] + pad(G2_Y[1] + 1), "not on the curve"),
        (_not_in_g2_eip2537(), "not in the G2 subgroup"),
    ],
    ids=["pad-y0", "x1=p", "off-curve", "outside-G2"],
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_g2_eip2537_rejects(backend: str, encoded: bytes, reason: str) -> None:
    with pytest.raises(InvalidPointError, match=reason):
        bls.Signature.from_eip2537(encoded, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_not_in_g1_from_eip2537(backend: str) -> None:
    point = g1_decompress(NOT_IN_G1)
    assert point is not None
    with pytest.raises(InvalidPointError, match="not in the G1 subgroup"):
        bls.PublicKey.from_eip2537(pad(point[0]) + pad(point[1]), backend)


# --- properties: pure-Python encoding against py_ecc and blspy ------------------------------------------

scalars = st.integers(min_value=1, max_value=CURVE_ORDER - 1)
field_elements = st.integers(min_value=0, max_value=P - 1)


@settings(max_examples=25, deadline=None)
@given(scalar=scalars, message=st.binary(min_size=32, max_size=32))
def test_round_trips_and_coordinates_match_py_ecc(scalar: int, message: bytes) -> None:
    secret = bls.SecretKey.from_int(scalar)
    key = secret.public_key()
    signature = bls.sign(secret, message)
    key_eip, sig_eip = key.to_eip2537(), signature.to_eip2537()
    assert bls.PublicKey.from_eip2537(key_eip) == key
    assert bls.Signature.from_eip2537(sig_eip) == signature
    from_py_ecc_g1 = coords(decompress_G1(G1Compressed(int.from_bytes(key.compressed))))
    sig_c1, sig_c0 = signature.compressed[:48], signature.compressed[48:]
    from_py_ecc_g2 = coords(decompress_G2(G2Compressed((int.from_bytes(sig_c1), int.from_bytes(sig_c0)))))
    assert [int.from_bytes(key_eip[i : i + 64]) for i in (0, 64)] == from_py_ecc_g1
    assert [int.from_bytes(sig_eip[i : i + 64]) for i in (0, 64, 128, 192)] == from_py_ecc_g2


@settings(max_examples=60, deadline=None)
@given(x=field_elements, larger=st.booleans())
def test_g1_decompress_agrees_with_py_ecc_for_any_x(x: int, larger: bool) -> None:
    encoded = bytearray(x.to_bytes(48))
    encoded[0] |= 0x80 | (0x20 if larger else 0)
    if x == 0:
        return  # py_ecc reads x = 0 as an (ill-flagged) infinity; the vectors cover it
    try:
        expected: list[int] | None = coords(decompress_G1(G1Compressed(int.from_bytes(encoded))))
    except ValueError:
        expected = None
    try:
        ours = g1_decompress(bytes(encoded))
    except InvalidPointError:
        ours = None
    assert (None if ours is None else list(ours)) == expected
    if ours is not None:
        assert g1_compress(ours) == bytes(encoded)


@settings(max_examples=30, deadline=None)
@given(x0=field_elements, x1=field_elements, larger=st.booleans())
def test_g2_decompress_agrees_with_py_ecc_for_any_x(x0: int, x1: int, larger: bool) -> None:
    encoded = bytearray(x1.to_bytes(48) + x0.to_bytes(48))
    encoded[0] |= 0x80 | (0x20 if larger else 0)
    if x0 == x1 == 0:
        return
    try:
        expected: list[int] | None = coords(decompress_G2(G2Compressed((int.from_bytes(encoded[:48]), x0))))
    except ValueError:
        expected = None
    try:
        ours = g2_decompress(bytes(encoded))
    except InvalidPointError:
        ours = None
    assert (None if ours is None else [*ours[0], *ours[1]]) == expected
    if ours is not None:
        assert g2_compress(ours) == bytes(encoded)
        assert g2_from_eip2537(b"".join(pad(v) for v in (*ours[0], *ours[1]))) == bytes(encoded)


@settings(max_examples=200, deadline=None)
@given(a=field_elements, b=field_elements)
def test_fp2_sqrt_of_squares_and_non_squares(a: int, b: int) -> None:
    square = fp2_square((a, b))
    root = fp2_sqrt(square)
    assert root is not None
    assert fp2_square(root) == square
    # 1 + i is not a square in Fp2 for BLS12-381 (the twist is built on it), so neither is (1+i) * s^2.
    if (a, b) != (0, 0):
        assert fp2_sqrt(fp2_mul(square, (1, 1))) is None


@settings(max_examples=100, deadline=None)
@given(a=field_elements)
def test_fp_sqrt(a: int) -> None:
    root = fp_sqrt(a * a % P)
    assert root is not None and root * root % P == a * a % P
    if a != 0:
        assert fp_sqrt(-(a * a) % P) is None  # -1 is not a square since p = 3 (mod 4)


def test_g1_from_eip2537_compresses_to_blspy_bytes() -> None:
    for scalar in (1, 2, 3, CURVE_ORDER - 1):
        key = bls.SecretKey.from_int(scalar).public_key()
        assert g1_from_eip2537(key.to_eip2537()) == key.compressed
