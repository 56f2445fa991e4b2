"""Just enough Fp / Fp2 arithmetic, in pure Python, to (de)compress points and check curve equations.

Used for the compressed <-> EIP-2537 conversions, which must behave identically whatever backend is
selected. Pairings, scalar multiplication and subgroup checks stay in the backends.
"""

from __future__ import annotations

from relayer.protocol.bls.constants import FIELD_MODULUS, G1_B, G2_B

P = FIELD_MODULUS
HALF_P = (P - 1) // 2
_SQRT_EXPONENT = (P + 1) // 4  # p = 3 (mod 4), so a square root of a square a is a^((p+1)/4)
_INVERSE_OF_TWO = pow(2, -1, P)

Fp2 = tuple[int, int]
"""(c0, c1) meaning c0 + c1*i with i^2 = -1."""


def fp_sqrt(value: int) -> int | None:
    """A square root of ``value`` in Fp, or None when ``value`` is not a square."""
    root = pow(value, _SQRT_EXPONENT, P)
    return root if root * root % P == value % P else None


def fp2_mul(a: Fp2, b: Fp2) -> Fp2:
    return ((a[0] * b[0] - a[1] * b[1]) % P, (a[0] * b[1] + a[1] * b[0]) % P)


def fp2_square(a: Fp2) -> Fp2:
    return ((a[0] + a[1]) * (a[0] - a[1]) % P, 2 * a[0] * a[1] % P)


def fp2_neg(a: Fp2) -> Fp2:
    return (-a[0] % P, -a[1] % P)


def fp2_sqrt(value: Fp2) -> Fp2 | None:
    """A square root of ``value`` in Fp2, or None when ``value`` is not a square.

    Uses the norm: if x^2 = a then N(x)^2 = N(a) = a0^2 + a1^2, which reduces the problem to
    square roots in Fp (Adj & Rodriguez-Henriquez, "Square root computation over even extension
    fields", algorithm 8 specialised to i^2 = -1). The result is checked before it is returned.
    """
    a0, a1 = value[0] % P, value[1] % P
    if a1 == 0:
        root = fp_sqrt(a0)
        if root is not None:
            return (root, 0)
        root = fp_sqrt(-a0 % P)  # (r*i)^2 = -r^2
        return None if root is None else (0, root)
    norm_root = fp_sqrt((a0 * a0 + a1 * a1) % P)
    if norm_root is None:
        return None
    for candidate in ((a0 + norm_root) * _INVERSE_OF_TWO % P, (a0 - norm_root) * _INVERSE_OF_TWO % P):
        x0 = fp_sqrt(candidate)
        if x0 is not None and x0 != 0:
            x1 = a1 * pow(2 * x0, -1, P) % P
            root2 = (x0, x1)
            if fp2_square(root2) == (a0, a1):
                return root2
    return None


def fp_is_larger(y: int) -> bool:
    """The zcash "sign" of an Fp element: is y the lexicographically larger of {y, -y}?"""
    return y > HALF_P


def fp2_is_larger(y: Fp2) -> bool:
    """The zcash "sign" of an Fp2 element: compare c1 first, c0 only when c1 is zero."""
    return y[1] > HALF_P if y[1] != 0 else y[0] > HALF_P


def g1_rhs(x: int) -> int:
    """x^3 + 4, the right-hand side of the G1 curve equation."""
    return (x * x * x + G1_B) % P


def g2_rhs(x: Fp2) -> Fp2:
    """x^3 + 4(1 + i), the right-hand side of the G2 twist equation."""
    cube = fp2_mul(fp2_square(x), x)
    return ((cube[0] + G2_B[0]) % P, (cube[1] + G2_B[1]) % P)


def g1_on_curve(x: int, y: int) -> bool:
    return y * y % P == g1_rhs(x)


def g2_on_curve(x: Fp2, y: Fp2) -> bool:
    return fp2_square(y) == g2_rhs(x)
