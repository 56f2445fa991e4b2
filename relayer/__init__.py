"""exorelay: the verified return path from Exocore (rewards, slashing) to L1 client-chain contracts."""

import sys as _sys

import py_ecc as _py_ecc  # noqa: F401 - imported for its side effect, undone just below

__version__ = "0.1.0"

RECURSION_LIMIT_FRAMES = 1000
"""Python's default. py_ecc (pulled in by web3 and eth-account too) raises the limit to 100,000 when
imported; at that depth the C JSON decoder overflows the C stack on hostile nested input such as
``[[[[...]]]]`` from an RPC endpoint and the process dies with SIGSEGV instead of raising
RecursionError. Importing py_ecc here first makes its one-time side effect happen now, so restoring
the limit once is enough for the whole process."""

if _sys.getrecursionlimit() > RECURSION_LIMIT_FRAMES:
    _sys.setrecursionlimit(RECURSION_LIMIT_FRAMES)
