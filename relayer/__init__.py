"""exorelay: the verified return path from Exocore (rewards, slashing) to L1 client-chain contracts.

Invariant: once ``relayer`` is imported, the interpreter's recursion limit stays at
:data:`RECURSION_LIMIT_FRAMES` even after py_ecc is imported (by web3, eth-account or our reference
BLS backend) — without importing py_ecc here, so commands that never touch BLS or L1 (``exorelay
--help``, ``config validate``) do not pay for it.
"""

from __future__ import annotations

import sys as _sys
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

__version__ = "0.1.0"

RECURSION_LIMIT_FRAMES = 1000
"""Python's default. py_ecc (pulled in by web3 and eth-account too) raises the limit to 100,000 when
imported; at that depth the C JSON decoder overflows the C stack on hostile nested input such as
``[[[[...]]]]`` from an RPC endpoint and the process dies with SIGSEGV instead of raising
RecursionError."""

_PY_ECC = "py_ecc"


def _bound_recursion_limit() -> None:
    if _sys.getrecursionlimit() > RECURSION_LIMIT_FRAMES:
        _sys.setrecursionlimit(RECURSION_LIMIT_FRAMES)


def _then_bound(exec_module: Callable[[ModuleType], None]) -> Callable[[ModuleType], None]:
    def exec_then_bound(module: ModuleType) -> None:
        try:
            exec_module(module)
        finally:
            _bound_recursion_limit()

    return exec_then_bound


class _BoundRecursionAfterPyEcc:
    """A meta-path finder that only intervenes for ``py_ecc`` itself: it finds py_ecc's spec with the
    finders after it and wraps the loader so the limit is restored right after py_ecc's one-time
    ``sys.setrecursionlimit`` has run. Every other import costs one string comparison."""

    @classmethod
    def find_spec(
        cls, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name != _PY_ECC:
            return None
        for finder in _sys.meta_path:
            if finder is cls or not hasattr(finder, "find_spec"):
                continue
            spec: ModuleSpec | None = finder.find_spec(name, path, target)
            if spec is None:
                continue
            if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                setattr(spec.loader, "exec_module", _then_bound(spec.loader.exec_module))  # noqa: B010
            return spec
        return None


_bound_recursion_limit()  # py_ecc may have been imported before exorelay
if _BoundRecursionAfterPyEcc not in _sys.meta_path:
    _sys.meta_path.insert(0, _BoundRecursionAfterPyEcc)
