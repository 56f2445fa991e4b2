"""Backend selection: a name ("fast"/"blspy", "reference"/"py_ecc") or None -> the process-wide
instance of that backend (each owns its validated-key cache).

Invariant: this is the only module that imports the backends (:mod:`relayer.protocol.bls.fast`,
:mod:`relayer.protocol.bls.reference`, each on first use); they import the interface
(:mod:`relayer.protocol.bls.backend`), never this module, so the package has no import cycle. The
values (:mod:`relayer.protocol.bls.values`) validate themselves through :func:`get_backend`,
handed to them when this module loads (importing :mod:`relayer.protocol.bls` loads it).
"""

from __future__ import annotations

import functools

from relayer.protocol.bls import values
from relayer.protocol.bls.backend import BlsBackend
from relayer.protocol.bls.values import BackendChoice
from relayer.protocol.errors import InvalidValueError

FAST_BACKEND_NAMES = frozenset({"fast", "blspy"})
REFERENCE_BACKEND_NAMES = frozenset({"reference", "py_ecc", "py-ecc"})
DEFAULT_BACKEND_NAME = "fast"


@functools.cache
def _backend_named(canonical: str) -> BlsBackend:
    # One instance per backend for the whole process: each owns the validated-key cache.
    if canonical == "fast":
        from relayer.protocol.bls.fast import FastBackend  # noqa: PLC0415 - imported on first use

        return FastBackend()
    from relayer.protocol.bls.reference import ReferenceBackend  # noqa: PLC0415 - py_ecc is slow to import

    return ReferenceBackend()


def get_backend(choice: BackendChoice = None) -> BlsBackend:
    """Resolve a backend: an instance is returned as is, a name is looked up, None is the default."""
    if choice is None:
        return _backend_named(DEFAULT_BACKEND_NAME)
    if isinstance(choice, str):
        name = choice.strip().lower()
        if name in FAST_BACKEND_NAMES:
            return _backend_named("fast")
        if name in REFERENCE_BACKEND_NAMES:
            return _backend_named("reference")
        known = ", ".join(sorted(FAST_BACKEND_NAMES | REFERENCE_BACKEND_NAMES))
        raise InvalidValueError(f"unknown BLS backend {choice!r} (known: {known})")
    if isinstance(choice, BlsBackend):
        return choice
    raise InvalidValueError(f"a BLS backend must be a backend, a name or None, got {type(choice).__name__}")


values.use_backends(get_backend)
