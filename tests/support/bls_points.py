"""Byte strings the BLS tests share: `NOT_IN_G2`, a compressed G2 encoding of a point on the curve
but outside the prime-order subgroup.
"""

from __future__ import annotations

NOT_IN_G2 = bytes.fromhex("8123456789abcdef" + "0123456789abcdef" * 11)
