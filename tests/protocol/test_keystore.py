"""relayer.protocol.keystore against the published EIP-2335 test vectors, plus tampering and round trips.

Vectors: tests/protocol/vectors/eip2335_keystores.json (provenance inside). They use the EIP's own
KDF cost (scrypt n=2^18, PBKDF2 c=2^18); keystores created here use TEST_SCRYPT / TEST_PBKDF2.
"""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relayer.errors import ProtocolError
from relayer.protocol import bls
from relayer.protocol.errors import (
    InvalidValueError,
    KeystoreError,
    KeystoreFormatError,
    KeystoreKeyMismatchError,
    KeystorePasswordError,
)
from relayer.protocol.keystore import (
    Keystore,
    Pbkdf2Cost,
    ScryptCost,
    normalize_password,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "eip2335_keystores.json").read_text()
)
PASSWORD: str = VECTORS["password"]
SECRET = bls.SecretKey(bytes.fromhex(VECTORS["secret"]))
KDFS = ["scrypt", "pbkdf2"]

# Tests that create keystores use tiny work factors (scrypt 128 KiB, PBKDF2 1024 rounds; about a
# millisecond each): what is under test is the format and the checks, not the KDF's cost, and
# hypothesis creates dozens of keystores. The EIP vectors below keep their real 2^18 costs.
TEST_SCRYPT = ScryptCost(n=2**7, r=8, p=1)
TEST_PBKDF2 = Pbkdf2Cost(c=2**10)
TEST_COSTS: dict[str, ScryptCost | Pbkdf2Cost] = {"scrypt": TEST_SCRYPT, "pbkdf2": TEST_PBKDF2}
SALT = bytes(range(32))
IV = bytes(range(100, 116))
KEY_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


def vector(kdf: str) -> dict[str, Any]:
    return copy.deepcopy(VECTORS["keystores"][kdf])


def small_keystore(kdf: str = "scrypt", secret: bls.SecretKey = SECRET, password: str = PASSWORD) -> Keystore:
    return Keystore.encrypt(secret, password, salt=SALT, iv=IV, uuid=KEY_ID, cost=TEST_COSTS[kdf])


# --- the published vectors ----------------------------------------------------------------------------------


def test_password_normalisation_matches_the_eip() -> None:
    assert normalize_password(PASSWORD).hex() == VECTORS["encoded_password"]


@pytest.mark.parametrize("kdf", KDFS)
def test_vector_decrypts_to_the_secret(kdf: str) -> None:
    keystore = Keystore.from_json(vector(kdf))
    assert keystore.decrypt(PASSWORD) == SECRET
    # The pubkey field is the key the bls layer derives from the secret.
    assert keystore.pubkey == SECRET.public_key() == SECRET.public_key("reference")
    assert keystore.to_json() == vector(kdf)


@pytest.mark.parametrize("kdf", KDFS)
def test_vector_is_reproduced_by_encrypt(kdf: str) -> None:
    original = Keystore.from_json(vector(kdf))
    cost = ScryptCost(n=2**18, r=8, p=1) if kdf == "scrypt" else Pbkdf2Cost(c=2**18)
    made = Keystore.encrypt(
        SECRET,
        PASSWORD,
        salt=original.kdf.salt,
        iv=original.iv,
        uuid=original.uuid,
        cost=cost,
        path=original.path,
        description=original.description,
    )
    assert made == original
    assert json.loads(made.dumps()) == vector(kdf)


def test_vector_wrong_password_is_a_checksum_mismatch() -> None:
    keystore = Keystore.from_json(vector("pbkdf2"))
    with pytest.raises(KeystorePasswordError, match="checksum mismatch"):
        keystore.decrypt("testpassword")  # what NFKD makes of the Fraktur letters, without the key emoji


def test_vector_tampered_ciphertext_is_a_checksum_mismatch() -> None:
    document = vector("pbkdf2")
    message = document["crypto"]["cipher"]["message"]
    document["crypto"]["cipher"]["message"] = ("0" if message[0] != "0" else "1") + message[1:]
    with pytest.raises(KeystorePasswordError):
        Keystore.from_json(document).decrypt(PASSWORD)


# --- round trips and tampering on small keystores -----------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    scalar=st.integers(min_value=1, max_value=bls.CURVE_ORDER - 1),
    password=st.text(max_size=20),
    kdf=st.sampled_from(KDFS),
    salt=st.binary(min_size=32, max_size=32),
    iv=st.binary(min_size=16, max_size=16),
)
def test_encrypt_decrypt_round_trip(scalar: int, password: str, kdf: str, salt: bytes, iv: bytes) -> None:
    secret = bls.SecretKey.from_int(scalar)
    keystore = Keystore.encrypt(secret, password, salt=salt, iv=iv, uuid=KEY_ID, cost=TEST_COSTS[kdf])
    reloaded = Keystore.loads(keystore.dumps())
    assert reloaded == keystore
    assert reloaded.decrypt(password) == secret
    assert reloaded.pubkey == secret.public_key()
    # Control codes are not part of the password; NFKD-equivalent spellings are the same password.
    assert reloaded.decrypt("\x00" + password + "\x7f\x9f") == secret


def test_nfkd_equivalent_passwords_open_the_same_keystore() -> None:
    keystore = small_keystore(password="ﬁ café")  # U+FB01 ligature and a precomposed é
    assert keystore.decrypt("fi cafe\u0301") == SECRET
    with pytest.raises(KeystorePasswordError):
        keystore.decrypt("ficafe\u0301")  # space is a real character, not a control code


@pytest.mark.parametrize("kdf", KDFS)
def test_wrong_password(kdf: str) -> None:
    with pytest.raises(KeystorePasswordError):
        small_keystore(kdf).decrypt(PASSWORD + "!")


@pytest.mark.parametrize(
    ("field", "edit"),
    [
        ("salt", lambda doc: doc["crypto"]["kdf"]["params"].update(salt="00" * 32)),
        ("n", lambda doc: doc["crypto"]["kdf"]["params"].update(n=2**8)),
        ("r", lambda doc: doc["crypto"]["kdf"]["params"].update(r=4)),
        ("checksum", lambda doc: doc["crypto"]["checksum"].update(message="00" * 32)),
        ("ciphertext", lambda doc: doc["crypto"]["cipher"].update(message="00" * 32)),
    ],
)
def test_tampered_params_or_ciphertext_fail_the_checksum(field: str, edit: Any) -> None:
    document = small_keystore().to_json()
    edit(document)
    with pytest.raises(KeystorePasswordError):
        Keystore.from_json(document).decrypt(PASSWORD)


def test_tampered_iv_is_caught_by_the_pubkey() -> None:
    # The checksum does not cover the IV: a changed IV decrypts to another scalar, which either is not
    # a secret key or is not the key of `pubkey`.
    document = small_keystore().to_json()
    document["crypto"]["cipher"]["params"]["iv"] = "ff" * 16
    with pytest.raises(KeystoreKeyMismatchError, match="altered iv"):
        Keystore.from_json(document).decrypt(PASSWORD)


def test_swapped_pubkey_is_caught() -> None:
    document = small_keystore().to_json()
    document["pubkey"] = bls.SecretKey.from_int(7).public_key().compressed.hex()
    with pytest.raises(KeystoreKeyMismatchError, match="public key"):
        Keystore.from_json(document).decrypt(PASSWORD)


def test_keystore_without_pubkey_still_decrypts() -> None:
    document = small_keystore().to_json()
    document["pubkey"] = ""
    keystore = Keystore.from_json(document)
    assert keystore.pubkey is None and keystore.decrypt(PASSWORD) == SECRET
    del document["pubkey"], document["description"]
    assert Keystore.from_json(document).decrypt(PASSWORD) == SECRET


# --- format errors ------------------------------------------------------------------------------------------


def _set(path: str, value: Any) -> Any:
    def edit(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = document
        for key in parents:
            node = node[key]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return edit


_DELETE = object()


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (_set("version", 3), "version"),
        (_set("version", True), "version"),
        (_set("crypto", _DELETE), "missing 'crypto'"),
        (_set("uuid", "not-a-uuid"), "uuid"),
        (_set("uuid", _DELETE), "missing 'uuid'"),
        (_set("path", "m/12381/x"), "EIP-2334"),
        (_set("path", "m/12381/4294967296"), "EIP-2334"),
        (_set("path", 5), "path"),
        (_set("description", 5), "description"),
        (_set("pubkey", "00" * 48), "pubkey"),
        (_set("pubkey", "zz"), "pubkey"),
        (_set("crypto.kdf.function", "argon2"), "unsupported"),
        (_set("crypto.kdf.message", "00"), "must be empty"),
        (_set("crypto.kdf.params.n", 1000), "power of two"),
        (_set("crypto.kdf.params.n", "128"), "integer"),
        (_set("crypto.kdf.params.n", 2**30), "memory"),
        (_set("crypto.kdf.params.p", 0), "positive"),
        # Hostile sizes must be refused by cheap checks, not computed with (2^(16·r), int('1' * 5000)).
        (_set("crypto.kdf.params.r", 2**62), "memory"),
        (_set("crypto.kdf.params.p", 2**62), "memory"),
        (_set("path", "m/" + "1" * 5000), "EIP-2334"),
        (_set("crypto.kdf.params", {"dklen": 32, "n": 2**16, "p": 1, "r": 1, "salt": "00" * 32}), "RFC 7914"),
        (_set("crypto.kdf.params.dklen", 16), "dklen"),
        (_set("crypto.kdf.params.salt", "abc"), "hex"),
        (_set("crypto.kdf.params.salt", ""), "empty"),
        (_set("crypto.kdf.params.extra", 1), "unknown"),
        (_set("crypto.checksum.function", "keccak256"), "unsupported"),
        (_set("crypto.checksum.params", {"x": 1}), "unknown"),
        (_set("crypto.checksum.message", "00" * 31), "32 bytes"),
        (_set("crypto.cipher.function", "aes-256-gcm"), "unsupported"),
        (_set("crypto.cipher.params", {}), "missing"),
        (_set("crypto.cipher.params.iv", "00" * 15), "16 bytes"),
        (_set("crypto.cipher.message", "00" * 48), "32 bytes"),
        (_set("crypto.cipher.message", 5), "must be a string"),
        (_set("crypto.cipher", _DELETE), "missing 'cipher'"),
        (_set("crypto.cipher.params", []), "JSON object"),
    ],
)
def test_malformed_keystores_are_format_errors(edit: Any, reason: str) -> None:
    document = small_keystore().to_json()
    edit(document)
    with pytest.raises(KeystoreFormatError, match=reason):
        Keystore.from_json(document)


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (_set("crypto.kdf.params.c", 2**40), "iterations"),
        (_set("crypto.kdf.params.prf", "hmac-sha512"), "unsupported"),
        (_set("crypto.kdf.params.c", _DELETE), "missing"),
    ],
)
def test_malformed_pbkdf2_params(edit: Any, reason: str) -> None:
    document = small_keystore("pbkdf2").to_json()
    edit(document)
    with pytest.raises(KeystoreFormatError, match=reason):
        Keystore.from_json(document)


def test_not_json_and_not_an_object() -> None:
    with pytest.raises(KeystoreFormatError, match="not JSON"):
        Keystore.loads("{")
    with pytest.raises(KeystoreFormatError, match="JSON object"):
        Keystore.loads("[]")


def test_encrypt_argument_errors() -> None:
    with pytest.raises(KeystoreFormatError, match="salt"):
        Keystore.encrypt(SECRET, PASSWORD, salt=b"short", iv=IV, uuid=KEY_ID, cost=TEST_SCRYPT)
    with pytest.raises(KeystoreFormatError, match="iv"):
        Keystore.encrypt(SECRET, PASSWORD, salt=SALT, iv=bytes(8), uuid=KEY_ID, cost=TEST_SCRYPT)
    with pytest.raises(InvalidValueError, match="SecretKey"):
        Keystore.encrypt(SECRET.secret, PASSWORD, salt=SALT, iv=IV, uuid=KEY_ID)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="password"):
        small_keystore().decrypt(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(KeystoreFormatError, match="power of two"):
        Keystore.encrypt(SECRET, PASSWORD, salt=SALT, iv=IV, uuid=KEY_ID, cost=ScryptCost(n=100, r=8, p=1))


def test_errors_are_typed() -> None:
    for error in (KeystoreFormatError, KeystorePasswordError, KeystoreKeyMismatchError):
        assert issubclass(error, KeystoreError) and issubclass(error, ProtocolError)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=70),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


def _leaf_paths(node: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(node, dict):
        paths = [prefix] if prefix else []
        for key, value in node.items():
            paths.extend(_leaf_paths(value, (*prefix, key)))
        return paths
    return [prefix]


SMALL_DOCUMENT_PATHS = _leaf_paths(small_keystore().to_json())


@settings(max_examples=150, deadline=None)
@given(path=st.sampled_from(SMALL_DOCUMENT_PATHS), value=json_values)
def test_any_field_replaced_gives_only_typed_errors(path: tuple[str, ...], value: Any) -> None:
    # A hostile or corrupted file: any field, nested or not, replaced by any JSON value.
    document = small_keystore().to_json()
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    try:
        keystore = Keystore.from_json(document)
    except KeystoreFormatError:
        return
    try:
        secret = keystore.decrypt(PASSWORD)
    except KeystoreError:
        return
    assert secret == SECRET  # whatever still decrypts decrypts to the right key
