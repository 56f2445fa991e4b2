"""The fast (default) backend: chia's ``blspy`` (C++ over supranational blst).

``blspy.PopSchemeMPL`` is exactly the Ethereum POP ciphersuite (same DSTs, same encodings) and
releases the GIL in its C++ calls, so cold key parsing runs on two threads. Measured on the 2-core
target: ``G1Element.from_bytes`` (decompress + subgroup check) ~45 us, ``from_bytes_unchecked``
~11 us, fast_aggregate_verify over 100 parsed keys ~0.95 ms.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from blspy import G1Element, G2Element, PopSchemeMPL, PrivateKey

from relayer.protocol.bls.backend import BackendBase, rejected_public_key, rejected_signature
from relayer.protocol.bls.constants import PARALLEL_PARSE_MIN_KEYS, PARSE_THREADS
from relayer.protocol.bls.values import PublicKey, SecretKey, Signature
from relayer.protocol.errors import InvalidPointError, InvalidValueError

_IDENTITY_G1 = G1Element()


class FastBackend(BackendBase):
    """blspy/blst backend. Thread-safe. Large cold parses are split over ``parse_threads`` threads
    (the caller's plus helpers created on first use); ``parse_threads=1`` keeps them sequential."""

    def __init__(self, parse_threads: int = PARSE_THREADS) -> None:
        super().__init__()
        if isinstance(parse_threads, bool) or not isinstance(parse_threads, int) or parse_threads < 1:
            raise InvalidValueError("parse_threads must be a positive int")
        self._parse_threads = parse_threads
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    @property
    def name(self) -> str:
        return "fast"

    # --- parsing ----------------------------------------------------------------------------------

    def _decode_public_key(self, index: int, raw: bytes) -> object:
        try:
            return G1Element.from_bytes(raw)
        except (ValueError, RuntimeError):
            raise rejected_public_key(index, raw) from None

    def _decode_public_keys(self, items: Sequence[tuple[int, bytes]]) -> list[object]:
        if self._parse_threads == 1 or len(items) < PARALLEL_PARSE_MIN_KEYS:
            return super()._decode_public_keys(items)
        chunk = -(-len(items) // self._parse_threads)
        chunks = [items[start : start + chunk] for start in range(0, len(items), chunk)]
        executor = self._helper_threads()
        decode_sequentially = super()._decode_public_keys
        pending = [executor.submit(decode_sequentially, part) for part in chunks[1:]]
        try:
            decoded = decode_sequentially(chunks[0])
        finally:
            # Wait for the helpers even when this chunk failed, so no work outlives the call.
            others = [future.exception() for future in pending]
        for future, error in zip(pending, others, strict=True):
            if error is not None:
                raise error
            decoded.extend(future.result())
        return decoded

    def _helper_threads(self) -> ThreadPoolExecutor:
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self._parse_threads - 1, thread_name_prefix="bls-parse"
                )
            return self._executor

    def _decode_signature(self, raw: bytes, infinity: bool) -> object:
        if infinity:
            return G2Element()
        try:
            return G2Element.from_bytes(raw)
        except (ValueError, RuntimeError):
            raise rejected_signature(raw) from None

    def _g1(self, key: PublicKey) -> G1Element:
        native = key._native
        if type(native) is G1Element:
            return native
        # Validated by another backend: the encoding is known good, skip the subgroup check.
        return G1Element.from_bytes_unchecked(key.compressed)

    @staticmethod
    def _g2(signature: Signature) -> G2Element:
        native = signature._native
        if type(native) is G2Element:
            return native
        return G2Element.from_bytes_unchecked(signature.compressed)

    # --- operations -------------------------------------------------------------------------------

    def _public_key_of(self, secret: SecretKey) -> PublicKey:
        point = PrivateKey.from_bytes(secret.secret).get_g1()
        return PublicKey(bytes(point), point)

    def _sign(self, secret: SecretKey, message: bytes) -> Signature:
        point = PopSchemeMPL.sign(PrivateKey.from_bytes(secret.secret), message)
        return Signature(bytes(point), point)

    def _verify(self, public_key: PublicKey, message: bytes, signature: Signature) -> bool:
        return bool(PopSchemeMPL.verify(self._g1(public_key), message, self._g2(signature)))

    def _pop_prove(self, secret: SecretKey) -> Signature:
        point = PopSchemeMPL.pop_prove(PrivateKey.from_bytes(secret.secret))
        return Signature(bytes(point), point)

    def _pop_verify(self, public_key: PublicKey, proof: Signature) -> bool:
        return bool(PopSchemeMPL.pop_verify(self._g1(public_key), self._g2(proof)))

    def _aggregate_signatures(self, signatures: list[Signature]) -> Signature:
        point = PopSchemeMPL.aggregate([self._g2(sig) for sig in signatures])
        return Signature(bytes(point), point)

    def _aggregate_public_keys(self, public_keys: list[PublicKey]) -> PublicKey:
        total = self._g1(public_keys[0])
        for key in public_keys[1:]:
            total = total + self._g1(key)
        if total == _IDENTITY_G1:
            raise InvalidPointError("aggregate_public_keys: the keys sum to the point at infinity")
        return PublicKey(bytes(total), total)

    def _fast_aggregate_verify(
        self, public_keys: list[PublicKey], message: bytes, signature: Signature
    ) -> bool:
        # blst refuses an aggregate key at infinity (as IETF KeyValidate does), so keys that cancel
        # out give False here exactly as in py_ecc; tests pin this.
        points = [self._g1(key) for key in public_keys]
        return bool(PopSchemeMPL.fast_aggregate_verify(points, message, self._g2(signature)))

    def _hash_to_g2(self, message: bytes, dst: bytes) -> bytes:
        return bytes(G2Element.from_message(message, dst))
