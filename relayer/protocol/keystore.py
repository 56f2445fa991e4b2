"""EIP-2335 BLS12-381 keystores: parse, decrypt, encrypt (pure: the caller hands in salt, IV and UUID).

Supported (what EIP-2335 defines and operators' key tools produce): version 4; KDF ``scrypt``
(RFC 7914) or ``pbkdf2`` with ``hmac-sha256`` (RFC 2898); checksum ``sha256`` over
``decryption_key[16:32] || ciphertext``; cipher ``aes-128-ctr`` keyed with ``decryption_key[0:16]``
and the 16-byte ``iv`` as the initial counter block; a 32-byte secret; ``pubkey``, ``path``
(EIP-2334, or empty), ``uuid`` (RFC 4122) and ``description`` fields. The password is normalised
as the EIP says: NFKD, then C0 (U+0000-U+001F), DEL (U+007F) and C1 (U+0080-U+009F) control codes
removed, then UTF-8.

Why not a library: the one maintained PyPI package with EIP-2335 code (ethstaker-deposit) is a CLI
application whose keystore class draws its own randomness, refuses the small KDF parameters tests
need, raises untyped errors and pulls in its CLI's dependencies; this module needs only hashlib
(scrypt, PBKDF2, SHA-256) and pycryptodome (AES-CTR).

Invariants:
- Pure: no files, no clock, no randomness (``salt``, ``iv`` and ``uuid`` are arguments). Reading
  and writing keystore files is the caller's job.
- Every failure is a typed :class:`~relayer.protocol.errors.KeystoreError`: ``KeystoreFormatError``
  (malformed or unsupported JSON, absurd KDF cost), ``KeystorePasswordError`` (checksum mismatch:
  wrong password, or altered KDF params, ciphertext or checksum), ``KeystoreKeyMismatchError`` (the
  decrypted bytes are not a secret key, or not the key of ``pubkey`` — this is what catches an
  altered ``iv``, which the checksum does not cover).
- A keystore file cannot make decryption allocate or compute without bound: scrypt memory and
  PBKDF2 iterations are capped (named constants below).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import unicodedata
import uuid as uuid_module
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from Crypto.Cipher import AES

from relayer.protocol.bls.backend import BackendChoice
from relayer.protocol.bls.constants import CURVE_ORDER
from relayer.protocol.bls.registry import get_backend
from relayer.protocol.bls.values import PublicKey, SecretKey
from relayer.protocol.errors import (
    InvalidValueError,
    KeystoreFormatError,
    KeystoreKeyMismatchError,
    KeystorePasswordError,
)

KEYSTORE_VERSION: Final = 4
DECRYPTION_KEY_BYTES: Final = 32
"""KDF output used: bytes 0-15 key AES-128, bytes 16-31 feed the checksum."""
MAX_DECRYPTION_KEY_BYTES: Final = 64
"""Longer ``dklen`` is allowed by the EIP (only the first 32 bytes are used); more than 64 is a typo."""
SALT_BYTES: Final = 32
IV_BYTES: Final = 16
SECRET_BYTES: Final = 32
CHECKSUM_BYTES: Final = 32

SCRYPT_MAX_MEMORY_BYTES: Final = 1 << 30
"""1 GiB: four times what the EIP's own parameters (n=2^18, r=8: 256 MiB) need; a file asking for more
is a mistake or an attempt to exhaust the operator's memory."""
PBKDF2_MAX_ITERATIONS: Final = 1 << 24
"""64 times the EIP's c=2^18 (~0.2 s here): beyond that decryption would take minutes."""
_SCRYPT_MAXMEM_SLACK_BYTES: Final = 1 << 20
"""hashlib (OpenSSL) counts its scratch buffers slightly differently; 1 MiB headroom over 128·r·(n+p+2)."""

_HEX = re.compile(r"^(?:0x)?((?:[0-9a-fA-F]{2})*)$")
_PATH = re.compile(r"^m(?:/[0-9]{1,10})*$")  # 10 digits hold any uint32 index
_MAX_PATH_INDEX = 2**32 - 1
# C0 (U+0000-U+001F), DEL (U+007F) and C1 (U+0080-U+009F); space (U+0020) stays.
_CONTROL_CODES = {code: None for code in (*range(0x00, 0x20), *range(0x7F, 0xA0))}


# --- KDF parameters -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScryptCost:
    """scrypt work factors: ``n`` (a power of two), ``r`` (block size), ``p`` (parallelism)."""

    n: int
    r: int
    p: int


@dataclass(frozen=True, slots=True)
class Pbkdf2Cost:
    """PBKDF2-HMAC-SHA256 iteration count."""

    c: int


SCRYPT_DEFAULT: Final = ScryptCost(n=2**18, r=8, p=1)
"""The EIP-2335 test vector's and the Ethereum deposit tools' scrypt cost (256 MiB, ~0.5 s here)."""
PBKDF2_DEFAULT: Final = Pbkdf2Cost(c=2**18)
"""The EIP-2335 test vector's and the Ethereum deposit tools' PBKDF2 iteration count."""


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """The ``kdf`` module of a scrypt keystore (validated when built)."""

    n: int
    r: int
    p: int
    salt: bytes
    dklen: int = DECRYPTION_KEY_BYTES

    def __post_init__(self) -> None:
        for name in ("n", "r", "p", "dklen"):
            _positive_int(getattr(self, name), f"crypto.kdf.params.{name}")
        if self.n < 2 or self.n & (self.n - 1):
            raise KeystoreFormatError("crypto.kdf.params.n: must be a power of two greater than 1")
        # The memory cap first: it bounds r and p, so nothing below works on hostile huge numbers.
        if _scrypt_memory(self.n, self.r, self.p) > SCRYPT_MAX_MEMORY_BYTES:
            raise KeystoreFormatError(
                f"crypto.kdf.params: scrypt would need more than {SCRYPT_MAX_MEMORY_BYTES} bytes of memory"
            )
        if self.n.bit_length() > 16 * self.r:  # n < 2^(128·r/8), without computing the power
            raise KeystoreFormatError("crypto.kdf.params.n: must be less than 2^(128·r/8) (RFC 7914)")
        _check_dklen(self.dklen)
        _check_bytes(self.salt, "crypto.kdf.params.salt")

    @property
    def function(self) -> str:
        return "scrypt"

    def derive(self, password: bytes) -> bytes:
        try:
            return hashlib.scrypt(
                password,
                salt=self.salt,
                n=self.n,
                r=self.r,
                p=self.p,
                dklen=self.dklen,
                maxmem=_scrypt_memory(self.n, self.r, self.p) + _SCRYPT_MAXMEM_SLACK_BYTES,
            )
        except (ValueError, MemoryError) as error:
            raise KeystoreFormatError(f"crypto.kdf.params: scrypt refused them ({error})") from None

    def to_json(self) -> dict[str, object]:
        return {"dklen": self.dklen, "n": self.n, "p": self.p, "r": self.r, "salt": self.salt.hex()}


@dataclass(frozen=True, slots=True)
class Pbkdf2Params:
    """The ``kdf`` module of a PBKDF2 keystore (PRF is always ``hmac-sha256``)."""

    c: int
    salt: bytes
    dklen: int = DECRYPTION_KEY_BYTES

    def __post_init__(self) -> None:
        _positive_int(self.c, "crypto.kdf.params.c")
        _positive_int(self.dklen, "crypto.kdf.params.dklen")
        if self.c > PBKDF2_MAX_ITERATIONS:
            raise KeystoreFormatError(f"crypto.kdf.params.c: more than {PBKDF2_MAX_ITERATIONS} iterations")
        _check_dklen(self.dklen)
        _check_bytes(self.salt, "crypto.kdf.params.salt")

    @property
    def function(self) -> str:
        return "pbkdf2"

    def derive(self, password: bytes) -> bytes:
        return hashlib.pbkdf2_hmac("sha256", password, self.salt, self.c, self.dklen)

    def to_json(self) -> dict[str, object]:
        return {"dklen": self.dklen, "c": self.c, "prf": "hmac-sha256", "salt": self.salt.hex()}


KdfParams = ScryptParams | Pbkdf2Params


def normalize_password(password: str) -> bytes:
    """EIP-2335 password bytes: NFKD, strip C0/C1/DEL control codes, UTF-8."""
    if not isinstance(password, str):
        raise InvalidValueError(f"a keystore password must be a str, got {type(password).__name__}")
    return unicodedata.normalize("NFKD", password).translate(_CONTROL_CODES).encode("utf-8")


# --- the keystore ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Keystore:
    """A parsed, validated EIP-2335 keystore. ``pubkey`` is None when the file leaves it empty."""

    kdf: KdfParams
    checksum: bytes
    iv: bytes
    ciphertext: bytes
    pubkey: PublicKey | None
    path: str
    uuid: uuid_module.UUID
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.kdf, ScryptParams | Pbkdf2Params):
            raise KeystoreFormatError("crypto.kdf: must be scrypt or pbkdf2 parameters")
        _check_bytes(self.checksum, "crypto.checksum.message", CHECKSUM_BYTES)
        _check_bytes(self.iv, "crypto.cipher.params.iv", IV_BYTES)
        _check_bytes(self.ciphertext, "crypto.cipher.message", SECRET_BYTES)
        if self.pubkey is not None and not isinstance(self.pubkey, PublicKey):
            raise KeystoreFormatError("pubkey: must be a validated PublicKey or None")
        _check_path(self.path)
        if not isinstance(self.uuid, uuid_module.UUID):
            raise KeystoreFormatError("uuid: must be a UUID")
        if not isinstance(self.description, str):
            raise KeystoreFormatError("description: must be a string")

    # --- decryption ---------------------------------------------------------------------------------

    def decrypt(self, password: str, *, backend: BackendChoice = None) -> SecretKey:
        """The secret key. Raises KeystorePasswordError on a checksum mismatch and
        KeystoreKeyMismatchError if the secret is out of range or not the key of ``pubkey``."""
        decryption_key = self.kdf.derive(normalize_password(password))
        expected = hashlib.sha256(decryption_key[16:32] + self.ciphertext).digest()
        if not hmac.compare_digest(expected, self.checksum):
            raise KeystorePasswordError(
                "keystore checksum mismatch: wrong password, or altered KDF params, ciphertext or checksum"
            )
        plain = _aes_128_ctr(decryption_key[:16], self.iv, self.ciphertext)
        if not 0 < int.from_bytes(plain) < CURVE_ORDER:
            raise KeystoreKeyMismatchError("the decrypted secret is not a BLS12-381 secret key (altered iv?)")
        secret = SecretKey(plain)
        if self.pubkey is not None and secret.public_key(backend) != self.pubkey:
            raise KeystoreKeyMismatchError(
                f"the decrypted secret's public key is not pubkey {self.pubkey.hex()} (altered iv?)"
            )
        return secret

    # --- encryption -----------------------------------------------------------------------------------

    @classmethod
    def encrypt(
        cls,
        secret: SecretKey,
        password: str,
        *,
        salt: bytes,
        iv: bytes,
        uuid: uuid_module.UUID,
        cost: ScryptCost | Pbkdf2Cost = SCRYPT_DEFAULT,
        path: str = "",
        description: str = "",
        backend: BackendChoice = None,
    ) -> Keystore:
        """Encrypt ``secret``. The caller supplies fresh randomness: a 32-byte ``salt``, a 16-byte
        ``iv`` (never reuse one with the same password and salt) and a random (version 4) ``uuid``."""
        if not isinstance(secret, SecretKey):
            raise InvalidValueError("Keystore.encrypt needs a SecretKey")
        _check_bytes(salt, "salt", SALT_BYTES)
        _check_bytes(iv, "iv", IV_BYTES)
        kdf: KdfParams
        if isinstance(cost, ScryptCost):
            kdf = ScryptParams(n=cost.n, r=cost.r, p=cost.p, salt=salt)
        elif isinstance(cost, Pbkdf2Cost):
            kdf = Pbkdf2Params(c=cost.c, salt=salt)
        else:
            raise InvalidValueError("cost must be a ScryptCost or a Pbkdf2Cost")
        decryption_key = kdf.derive(normalize_password(password))
        ciphertext = _aes_128_ctr(decryption_key[:16], iv, secret.secret)
        checksum = hashlib.sha256(decryption_key[16:32] + ciphertext).digest()
        return cls(kdf, checksum, iv, ciphertext, secret.public_key(backend), path, uuid, description)

    # --- JSON -----------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The EIP-2335 JSON object (lower-case hex without 0x, the EIP's field order)."""
        return {
            "crypto": {
                "kdf": {"function": self.kdf.function, "params": self.kdf.to_json(), "message": ""},
                "checksum": {"function": "sha256", "params": {}, "message": self.checksum.hex()},
                "cipher": {
                    "function": "aes-128-ctr",
                    "params": {"iv": self.iv.hex()},
                    "message": self.ciphertext.hex(),
                },
            },
            "description": self.description,
            "pubkey": self.pubkey.compressed.hex() if self.pubkey is not None else "",
            "path": self.path,
            "uuid": str(self.uuid),
            "version": KEYSTORE_VERSION,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=4)

    @classmethod
    def loads(cls, text: str | bytes, *, backend: BackendChoice = None) -> Keystore:
        """Parse keystore JSON text (see :meth:`from_json`)."""
        try:
            document = json.loads(text)
        except (ValueError, TypeError) as error:
            raise KeystoreFormatError(f"keystore is not JSON: {error}") from None
        return cls.from_json(document, backend=backend)

    @classmethod
    def from_json(cls, document: object, *, backend: BackendChoice = None) -> Keystore:
        """Validate a decoded keystore JSON object; a problem is a KeystoreFormatError naming the field."""
        top = _mapping(document, "keystore")
        version = top.get("version")
        if isinstance(version, bool) or version != KEYSTORE_VERSION:
            raise KeystoreFormatError(f"version: must be {KEYSTORE_VERSION}, got {version!r}")
        crypto = _mapping(_required(top, "crypto", "keystore"), "crypto")
        kdf_module = _module(crypto, "kdf")
        checksum_module = _module(crypto, "checksum")
        cipher_module = _module(crypto, "cipher")

        kdf = _parse_kdf(kdf_module)
        if checksum_module["function"] != "sha256":
            raise KeystoreFormatError(
                f"crypto.checksum.function: unsupported {checksum_module['function']!r}"
            )
        _exact_keys(
            _mapping(checksum_module["params"], "crypto.checksum.params"), set(), "crypto.checksum.params"
        )
        checksum = _hex(checksum_module["message"], "crypto.checksum.message")
        if cipher_module["function"] != "aes-128-ctr":
            raise KeystoreFormatError(f"crypto.cipher.function: unsupported {cipher_module['function']!r}")
        cipher_params = _mapping(cipher_module["params"], "crypto.cipher.params")
        _exact_keys(cipher_params, {"iv"}, "crypto.cipher.params")
        iv = _hex(cipher_params["iv"], "crypto.cipher.params.iv")
        ciphertext = _hex(cipher_module["message"], "crypto.cipher.message")

        pubkey_text = top.get("pubkey", "")
        pubkey = None if pubkey_text == "" else _public_key(pubkey_text, backend)
        path = _string(_required(top, "path", "keystore"), "path")
        uuid_text = _string(_required(top, "uuid", "keystore"), "uuid")
        try:
            key_id = uuid_module.UUID(uuid_text)
        except ValueError:
            raise KeystoreFormatError(f"uuid: {uuid_text!r} is not a UUID") from None
        description = _string(top.get("description", ""), "description")
        return cls(kdf, checksum, iv, ciphertext, pubkey, path, key_id, description)


# --- internals ------------------------------------------------------------------------------------------


def _scrypt_memory(n: int, r: int, p: int) -> int:
    return 128 * r * (n + p + 2)


def _aes_128_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    # The whole 16-byte IV is the initial counter block, incremented as one 128-bit big-endian integer.
    return AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=iv).encrypt(data)


def _positive_int(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise KeystoreFormatError(f"{what}: must be a positive integer")


def _check_dklen(dklen: int) -> None:
    if not DECRYPTION_KEY_BYTES <= dklen <= MAX_DECRYPTION_KEY_BYTES:
        raise KeystoreFormatError(
            f"crypto.kdf.params.dklen: must be {DECRYPTION_KEY_BYTES}..{MAX_DECRYPTION_KEY_BYTES}"
        )


def _check_bytes(value: object, what: str, length: int | None = None) -> None:
    if not isinstance(value, bytes):
        raise KeystoreFormatError(f"{what}: must be bytes")
    if length is not None and len(value) != length:
        raise KeystoreFormatError(f"{what}: must be {length} bytes, got {len(value)}")
    if length is None and not value:
        raise KeystoreFormatError(f"{what}: must not be empty")


def _check_path(path: object) -> None:
    if not isinstance(path, str):
        raise KeystoreFormatError("path: must be a string")
    if path == "":
        return
    if not _PATH.match(path) or any(int(index) > _MAX_PATH_INDEX for index in path.split("/")[1:]):
        raise KeystoreFormatError(f"path: {path!r} is not an EIP-2334 path (m/12381/...) or empty")


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise KeystoreFormatError(f"{what}: must be a JSON object")
    return value


def _required(container: Mapping[str, Any], key: str, what: str) -> object:
    if key not in container:
        raise KeystoreFormatError(f"{what}: missing {key!r}")
    return container[key]


def _module(crypto: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """A module: {function: str, params: object, message: str}."""
    module = _mapping(_required(crypto, name, "crypto"), f"crypto.{name}")
    for key in ("function", "params", "message"):
        _required(module, key, f"crypto.{name}")
    if not isinstance(module["function"], str):
        raise KeystoreFormatError(f"crypto.{name}.function: must be a string")
    if not isinstance(module["message"], str):
        raise KeystoreFormatError(f"crypto.{name}.message: must be a string")
    return module


def _exact_keys(params: Mapping[str, Any], expected: set[str], what: str) -> None:
    keys = set(params)
    if keys != expected:
        missing, unknown = sorted(expected - keys), sorted(keys - expected)
        raise KeystoreFormatError(f"{what}: missing {missing}, unknown {unknown}")


def _hex(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise KeystoreFormatError(f"{what}: must be a hex string")
    match = _HEX.match(value)
    if match is None:
        raise KeystoreFormatError(f"{what}: not a hex string of whole bytes")
    return bytes.fromhex(match.group(1))


def _string(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise KeystoreFormatError(f"{what}: must be a string")
    return value


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise KeystoreFormatError(f"{what}: must be an integer")
    return value


def _parse_kdf(module: Mapping[str, Any]) -> KdfParams:
    if module["message"] != "":
        raise KeystoreFormatError("crypto.kdf.message: must be empty")
    params = _mapping(module["params"], "crypto.kdf.params")
    function = module["function"]
    if function == "scrypt":
        _exact_keys(params, {"dklen", "n", "p", "r", "salt"}, "crypto.kdf.params")
        return ScryptParams(
            n=_int(params["n"], "crypto.kdf.params.n"),
            r=_int(params["r"], "crypto.kdf.params.r"),
            p=_int(params["p"], "crypto.kdf.params.p"),
            salt=_hex(params["salt"], "crypto.kdf.params.salt"),
            dklen=_int(params["dklen"], "crypto.kdf.params.dklen"),
        )
    if function == "pbkdf2":
        _exact_keys(params, {"dklen", "c", "prf", "salt"}, "crypto.kdf.params")
        if params["prf"] != "hmac-sha256":
            raise KeystoreFormatError(f"crypto.kdf.params.prf: unsupported {params['prf']!r}")
        return Pbkdf2Params(
            c=_int(params["c"], "crypto.kdf.params.c"),
            salt=_hex(params["salt"], "crypto.kdf.params.salt"),
            dklen=_int(params["dklen"], "crypto.kdf.params.dklen"),
        )
    raise KeystoreFormatError(f"crypto.kdf.function: unsupported {function!r} (scrypt or pbkdf2)")


def _public_key(value: object, backend: BackendChoice) -> PublicKey:
    raw = _hex(value, "pubkey")
    try:
        return get_backend(backend).parse_public_keys([raw])[0]
    except ValueError as error:  # InvalidLengthError / InvalidPointError from the bls layer
        raise KeystoreFormatError(f"pubkey: {error}") from None
