"""relayer.protocol.bls API: typed rejections, values, the key cache, threaded parsing, Exocore PoP."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest
from eth_hash.auto import keccak as eth_hash_keccak

from relayer.errors import ProtocolError
from relayer.protocol import bls
from relayer.protocol.bls.cache import BoundedLruCache
from relayer.protocol.bls.constants import CURVE_ORDER, PARALLEL_PARSE_MIN_KEYS
from relayer.protocol.bls.fast import FastBackend
from relayer.protocol.bls.reference import ReferenceBackend
from relayer.protocol.errors import (
    DuplicateKeyError,
    IdentifierError,
    InvalidLengthError,
    InvalidPointError,
    InvalidValueError,
    SignatureError,
)

BACKENDS = ["fast", "reference"]
MESSAGE = bytes(range(32))
SEEDS = [bytes([i]) * 32 for i in range(1, 4)]


@pytest.fixture(scope="module")
def secrets() -> list[bls.SecretKey]:
    return [bls.secret_key_from_seed(seed) for seed in SEEDS]


@pytest.fixture(scope="module")
def keys(secrets: list[bls.SecretKey]) -> list[bls.PublicKey]:
    return [secret.public_key() for secret in secrets]


# --- backend selection --------------------------------------------------------------------------------


def test_backend_names() -> None:
    fast = bls.get_backend()
    assert fast is bls.get_backend("fast") is bls.get_backend("blspy") is bls.get_backend(" Fast ")
    assert bls.get_backend("reference") is bls.get_backend("py_ecc")
    assert isinstance(bls.get_backend(), FastBackend)
    assert isinstance(bls.get_backend("py_ecc"), ReferenceBackend)
    backend = bls.get_backend("reference")
    assert bls.get_backend(backend) is backend
    assert isinstance(backend, bls.BlsBackend)
    with pytest.raises(InvalidValueError, match="unknown BLS backend"):
        bls.get_backend("milagro")


def test_a_value_module_imported_alone_validates_through_the_default_backend(
    keys: list[bls.PublicKey],
) -> None:
    """values.py imports no backend (the package has no import cycle): importing it alone still
    loads the package, whose registry hands the values the default backend."""
    script = (
        "import sys\n"
        "from relayer.protocol.bls.values import PublicKey\n"
        f"key = PublicKey(bytes.fromhex('{keys[0].compressed.hex()}'))\n"
        "print(type(key._native).__module__, 'relayer.protocol.bls.fast' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split() == ["blspy", "True"]


# --- values -------------------------------------------------------------------------------------------


def test_secret_key_repr_never_shows_the_secret(secrets: list[bls.SecretKey]) -> None:
    secret = secrets[0]
    rendered = [repr(secret), str(secret), f"{secret}", f"{secret!r}", repr([secret]), repr({"k": secret})]
    for text in rendered:
        assert secret.secret.hex() not in text
        assert str(secret.to_int()) not in text
        assert "redacted" in text


def test_secret_key_validation() -> None:
    with pytest.raises(InvalidLengthError):
        bls.SecretKey(bytes(31))
    with pytest.raises(InvalidValueError):
        bls.SecretKey(bytes(32))
    with pytest.raises(InvalidValueError):
        bls.SecretKey(CURVE_ORDER.to_bytes(32))
    with pytest.raises(InvalidValueError):
        bls.SecretKey.from_int(0)
    with pytest.raises(InvalidValueError):
        bls.SecretKey("00" * 32)  # type: ignore[arg-type]
    with pytest.raises(InvalidLengthError, match="at least 32"):
        bls.secret_key_from_seed(bytes(31))
    top = bls.SecretKey.from_int(CURVE_ORDER - 1)
    assert top == bls.SecretKey((CURVE_ORDER - 1).to_bytes(32))
    assert pickle.loads(pickle.dumps(top)) == top


def test_key_info_changes_the_key() -> None:
    assert bls.secret_key_from_seed(SEEDS[0]) != bls.secret_key_from_seed(SEEDS[0], b"exorelay")


def test_values_validate_on_construction(keys: list[bls.PublicKey]) -> None:
    key = bls.PublicKey(keys[0].compressed)  # validated by the default backend
    assert key == keys[0] and hash(key) == hash(keys[0])
    assert repr(key) == f"PublicKey({keys[0].hex()})"
    assert bytes(key) == keys[0].compressed
    with pytest.raises(InvalidPointError, match="infinity"):
        bls.PublicKey(bytes([0xC0]) + bytes(47))
    with pytest.raises(InvalidLengthError):
        bls.PublicKey(bytes(47))
    with pytest.raises(InvalidLengthError):
        bls.Signature(bytes(95))
    assert bls.PublicKey(bytearray(keys[0].compressed)).compressed == keys[0].compressed  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError):
        bls.PublicKey(keys[0].hex())  # type: ignore[arg-type]


def test_values_pickle(secrets: list[bls.SecretKey], keys: list[bls.PublicKey]) -> None:
    signature = bls.sign(secrets[0], MESSAGE)
    key, restored = pickle.loads(pickle.dumps((keys[0], signature)))
    assert key == keys[0] and restored == signature
    assert bls.verify(key, MESSAGE, restored)


def test_values_from_another_backend_are_usable(secrets: list[bls.SecretKey]) -> None:
    # Values made by the reference backend carry no blspy point; the fast backend rebuilds it.
    reference_key = bls.public_key_of(secrets[0], backend="reference")
    fast_signature = bls.sign(secrets[0], MESSAGE)
    reference_signature = bls.Signature.from_bytes(fast_signature.compressed, "reference")
    assert bls.verify(reference_key, MESSAGE, reference_signature)


# --- typed rejections -------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_sign_and_verify_take_only_32_byte_digests(
    backend: str, size: int, secrets: list[bls.SecretKey], keys: list[bls.PublicKey]
) -> None:
    signature = bls.sign(secrets[0], MESSAGE)
    message = bytes(size)
    with pytest.raises(InvalidLengthError, match="32-byte digest"):
        bls.sign(secrets[0], message, backend=backend)
    with pytest.raises(InvalidLengthError, match="32-byte digest"):
        bls.verify(keys[0], message, signature, backend=backend)
    with pytest.raises(InvalidLengthError, match="32-byte digest"):
        bls.fast_aggregate_verify(keys[:1], message, signature, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_lists_are_errors(backend: str) -> None:
    signature = bls.parse_signature(bytes([0xC0]) + bytes(95))
    with pytest.raises(InvalidValueError, match="empty"):
        bls.aggregate_signatures([], backend=backend)
    with pytest.raises(InvalidValueError, match="empty"):
        bls.aggregate_public_keys([], backend=backend)
    with pytest.raises(InvalidValueError, match="empty"):
        bls.fast_aggregate_verify([], MESSAGE, signature, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_duplicate_keys_are_errors(
    backend: str, secrets: list[bls.SecretKey], keys: list[bls.PublicKey]
) -> None:
    signature = bls.aggregate_signatures([bls.sign(s, MESSAGE) for s in (secrets[0], secrets[1], secrets[0])])
    duplicated = [keys[0], keys[1], bls.PublicKey(keys[0].compressed)]
    with pytest.raises(DuplicateKeyError, match="#2"):
        bls.aggregate_public_keys(duplicated, backend=backend)
    with pytest.raises(DuplicateKeyError, match="#2"):
        bls.fast_aggregate_verify(duplicated, MESSAGE, signature, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_wrong_value_types_are_errors(backend: str, keys: list[bls.PublicKey]) -> None:
    signature = bls.parse_signature(bytes([0xC0]) + bytes(95))
    with pytest.raises(InvalidValueError, match="public key"):
        bls.verify(keys[0].compressed, MESSAGE, signature, backend=backend)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="signature"):
        bls.verify(keys[0], MESSAGE, signature.compressed, backend=backend)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="must be bytes"):
        bls.parse_public_keys(["0x00"], backend=backend)  # type: ignore[list-item]


@pytest.mark.parametrize("backend", BACKENDS)
def test_keys_that_cancel_out(backend: str, keys: list[bls.PublicKey]) -> None:
    # P and -P: PoP forbids it, but if it happened the aggregate is the identity and must not verify.
    negated = bls.parse_public_key(bytes([keys[0].compressed[0] ^ 0x20]) + keys[0].compressed[1:])
    infinity_signature = bls.parse_signature(bytes([0xC0]) + bytes(95))
    with pytest.raises(InvalidPointError, match="sum to the point at infinity"):
        bls.aggregate_public_keys([keys[0], negated], backend=backend)
    cancelling = [keys[0], negated]
    assert bls.fast_aggregate_verify(cancelling, MESSAGE, infinity_signature, backend=backend) is False


@pytest.mark.parametrize("backend", BACKENDS)
def test_infinity_signature_never_verifies(backend: str, keys: list[bls.PublicKey]) -> None:
    infinity_signature = bls.parse_signature(bytes([0xC0]) + bytes(95), backend=backend)
    assert bls.verify(keys[0], MESSAGE, infinity_signature, backend=backend) is False
    assert bls.pop_verify(keys[0], infinity_signature, backend=backend) is False


def test_hash_to_g2_dst_bounds() -> None:
    with pytest.raises(InvalidLengthError):
        bls.hash_to_g2(b"abc", b"")
    with pytest.raises(InvalidLengthError):
        bls.hash_to_g2(b"abc", b"x" * 256)
    with pytest.raises(InvalidValueError):
        bls.expand_message_xmd(b"abc", b"DST", 255 * 32 + 1)
    assert len(bls.hash_to_g2(b"", b"x" * 255)) == 96


def test_every_error_is_a_protocol_error_and_a_value_error() -> None:
    errors = (InvalidLengthError, InvalidPointError, DuplicateKeyError, SignatureError, InvalidValueError)
    for error in errors:
        assert issubclass(error, ProtocolError) and issubclass(error, ValueError)


# --- raising variants ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_or_raise_variants(backend: str, secrets: list[bls.SecretKey], keys: list[bls.PublicKey]) -> None:
    signature = bls.sign(secrets[0], MESSAGE)
    bls.verify_or_raise(keys[0], MESSAGE, signature, backend=backend)
    with pytest.raises(SignatureError):
        bls.verify_or_raise(keys[1], MESSAGE, signature, backend=backend)
    proof = bls.pop_prove(secrets[0])
    bls.pop_verify_or_raise(keys[0], proof, backend=backend)
    with pytest.raises(SignatureError, match="proof of possession"):
        bls.pop_verify_or_raise(keys[1], proof, backend=backend)
    aggregate = bls.aggregate_signatures([bls.sign(s, MESSAGE) for s in secrets[:2]])
    bls.fast_aggregate_verify_or_raise(keys[:2], MESSAGE, aggregate, backend=backend)
    with pytest.raises(SignatureError, match="3 keys"):
        bls.fast_aggregate_verify_or_raise(keys, MESSAGE, aggregate, backend=backend)


def test_pop_is_not_a_signature_over_the_key(secrets: list[bls.SecretKey], keys: list[bls.PublicKey]) -> None:
    # The PoP uses its own DST, so it differs from an ordinary signature of the same bytes.
    proof = bls.pop_prove(secrets[0])
    assert bls.pop_verify(keys[0], proof)
    key_bytes = keys[0].compressed
    assert bls.hash_to_g2(key_bytes, bls.POP_DST) != bls.hash_to_g2(key_bytes, bls.SIGNATURE_DST)
    assert bls.pop_verify(keys[0], bls.pop_prove(secrets[1])) is False


# --- the validated-key cache and the cold path -----------------------------------------------------------


def test_cache_warm_path_reuses_validated_keys(keys: list[bls.PublicKey]) -> None:
    backend = FastBackend()
    encoded = [key.compressed for key in keys]
    first = backend.parse_public_keys(encoded)
    stats = backend.cache_stats()
    assert (stats.hits, stats.misses, stats.size) == (0, 3, 3)
    second = backend.parse_public_keys(encoded)
    assert all(a is b for a, b in zip(first, second, strict=True))
    assert backend.cache_stats().hits == 3
    cold = backend.parse_public_keys(encoded, use_cache=False)
    assert cold == first and all(a is not b for a, b in zip(first, cold, strict=True))
    assert backend.cache_stats().hits == 3  # the cold path neither reads nor writes the cache
    backend.clear_cache()
    assert backend.cache_stats().size == 0


def test_lru_evicts_least_recently_used() -> None:
    cache: BoundedLruCache[str, int] = BoundedLruCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
    assert len(cache) == 2
    with pytest.raises(InvalidValueError):
        BoundedLruCache(0)


def _many_keys(count: int) -> list[bls.PublicKey]:
    return [bls.SecretKey.from_int(1000 + i).public_key() for i in range(count)]


def test_parallel_parse_matches_sequential() -> None:
    backend = FastBackend()
    keys = _many_keys(PARALLEL_PARSE_MIN_KEYS + 9)
    parsed = backend.parse_public_keys([key.compressed for key in keys], use_cache=False)
    assert parsed == keys
    assert backend._executor is not None  # the two-thread path ran
    assert bls.fast_aggregate_verify(
        parsed,
        MESSAGE,
        bls.aggregate_signatures(
            [bls.sign(bls.SecretKey.from_int(1000 + i), MESSAGE) for i in range(len(keys))]
        ),
    )


@pytest.mark.parametrize("bad_index", [0, PARALLEL_PARSE_MIN_KEYS + 5])
def test_parallel_parse_reports_the_bad_key(bad_index: int) -> None:
    backend = FastBackend()
    encoded = [key.compressed for key in _many_keys(PARALLEL_PARSE_MIN_KEYS + 9)]
    encoded[bad_index] = bytes.fromhex("8123456789abcdef" + "0123456789abcdef" * 5)  # on curve, not in G1
    with pytest.raises(InvalidPointError, match=f"public key #{bad_index}: not in the G1 subgroup"):
        backend.parse_public_keys(encoded, use_cache=False)
    assert backend.cache_stats().size == 0


def test_fast_aggregate_verify_encoded_cold_and_warm(
    secrets: list[bls.SecretKey], keys: list[bls.PublicKey]
) -> None:
    aggregate = bls.aggregate_signatures([bls.sign(s, MESSAGE) for s in secrets])
    encoded = [key.compressed for key in keys]
    for use_cache in (False, True, True):
        assert bls.fast_aggregate_verify_encoded(encoded, MESSAGE, aggregate.compressed, use_cache=use_cache)
    assert not bls.fast_aggregate_verify_encoded(encoded[:2], MESSAGE, aggregate.compressed)


# --- Exocore key registration -------------------------------------------------------------------------------


def test_exocore_pop_message() -> None:
    chain, operator = "imuachainlocalnet_232", "im16tltge7d4yr0wtkr7ut6dwwnqgnwm2ge63djdp"
    spelled_out = (
        b"BLS12-381 Signed Message\nChainIDWithoutRevision: imuachainlocalnet_232"
        b"\nAccAddressBech32: im16tltge7d4yr0wtkr7ut6dwwnqgnwm2ge63djdp"
    )
    digest = bls.exocore_pop_message(chain, operator)
    assert digest == eth_hash_keccak(spelled_out)
    assert len(digest) == 32
    secret = bls.secret_key_from_seed(SEEDS[0])
    assert bls.verify(secret.public_key(), digest, bls.sign(secret, digest))


@pytest.mark.parametrize(
    ("chain", "operator"),
    [
        ("imuachainlocalnet_232-1", "im1abc"),  # revision not stripped (upstream IsRevisionFormat)
        ("exocoretestnet_233-42", "im1abc"),
        ("", "im1abc"),
        ("imua\nAccAddressBech32: x", "im1abc"),
        ("imua", "im1 abc"),
        ("imua", "im1ü"),
    ],
)
def test_exocore_pop_message_rejects(chain: str, operator: str) -> None:
    with pytest.raises(IdentifierError):
        bls.exocore_pop_message(chain, operator)


def test_exocore_pop_message_accepts_hyphenated_chain_without_revision() -> None:
    # Only "-<digits>" at the end is a revision; "-0" or an inner hyphen is part of the id.
    assert len(bls.exocore_pop_message("my-chain_9000", "im1abc")) == 32
    assert len(bls.exocore_pop_message("chain-0", "im1abc")) == 32
