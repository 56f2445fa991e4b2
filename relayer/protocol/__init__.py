"""Pure exorelay protocol code: no IO, no clocks, no randomness unless passed in.

Packets and digests, BLS12-381 POP signatures, exact quorum math, OpenZeppelin
compatible Merkle distribution trees and Exocore identifiers. Everything here is deterministic and
safe to call from any layer.
"""
