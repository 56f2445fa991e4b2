"""The operator's BLS signing keys: EIP-2335 keystores (``relayer.protocol.keystore``) unlocked with a
password from a file or an environment variable.

Invariants: the password is read once, at start, never logged and never kept after decryption; a
password file's trailing newline (what ``echo pw > file`` writes) is stripped, nothing else; a
keystore that does not decrypt, or whose ``pubkey`` does not match its secret, stops the start
(:class:`OperatorKeyError`), it is never skipped.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from avs.operator.errors import OperatorKeyError
from relayer.errors import ProtocolError
from relayer.protocol import bls
from relayer.protocol.keystore import Keystore


@dataclass(frozen=True, slots=True)
class PasswordSource:
    """Where a keystore's password comes from: ``file`` if set, else the variable ``env``."""

    env: str
    file: Path | None = None

    def read(self, environ: Mapping[str, str] | None = None) -> str:
        if self.file is not None:
            try:
                text = self.file.read_text(encoding="utf-8")
            except OSError as exc:
                raise OperatorKeyError(f"cannot read keystore password file {self.file}: {exc}") from exc
            return text.removesuffix("\n").removesuffix("\r")
        environ = os.environ if environ is None else environ
        value = environ.get(self.env)
        if value is None:
            raise OperatorKeyError(f"keystore password not found: set {self.env} or a keystore_password_file")
        return value


@dataclass(frozen=True, slots=True)
class OperatorKey:
    secret: bls.SecretKey
    public_key: bls.PublicKey

    @property
    def pubkey_bytes(self) -> bytes:
        return self.public_key.compressed

    def sign(self, digest: bytes) -> bls.Signature:
        return bls.sign(self.secret, digest)


def load_keystore(
    path: Path, password: PasswordSource, environ: Mapping[str, str] | None = None
) -> OperatorKey:
    """Decrypt the EIP-2335 keystore at ``path``; typed errors name the file, never the password."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise OperatorKeyError(f"cannot read keystore {path}: {exc}") from exc
    try:
        keystore = Keystore.loads(text)
        secret = keystore.decrypt(password.read(environ))
    except ProtocolError as exc:
        raise OperatorKeyError(f"keystore {path}: {type(exc).__name__}: {exc}") from exc
    return OperatorKey(secret, bls.public_key_of(secret))
