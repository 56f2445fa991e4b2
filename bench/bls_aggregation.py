"""BLS signature collection: one verification per signature vs aggregate-once with bisection.

Run from the repository root:

    .venv/bin/python bench/bls_aggregation.py            # committees of 100 and 1,000, 5 repeats
    .venv/bin/python bench/bls_aggregation.py --quick    # the same figures from 1 timed run each

A committee of N members all sign one 32-byte digest. The baseline ("naive") verifies each
signature on its own: N verifications. ``relayer.protocol.signature_batch.verify_signature_batch``
aggregates once (1 verification when all are valid) and bisects when the aggregate fails (1 and 10
bad signatures, at fixed pseudo-random positions). Signatures are handed over already parsed, so
the times compare verification work only; parsing N signatures from wire bytes costs the same in
both and is printed on its own line. Times are CPU time of this process (``time.process_time``; all
of it single-threaded here), the median of the timed runs after one warm-up run, on the fast
(blspy/blst) backend: on the shared 2-core machine wall time mostly measured the other tenants.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as `python bench/bls_aggregation.py`: this file's directory would shadow the `relayer` package.
    _here = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _here]

import argparse
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from relayer.protocol import bls
from relayer.protocol.signature_batch import SignatureShare, verification_bound, verify_signature_batch

COMMITTEES = (100, 1_000)
BAD_COUNTS = (0, 1, 10)
DIGEST = bytes.fromhex("a5" * 32)
OTHER_DIGEST = bytes.fromhex("5a" * 32)  # bad signatures are valid signatures over this digest
KEY_SCALAR_BASE = 8_000_000  # member i's secret is KEY_SCALAR_BASE + i: deterministic, distinct
BAD_POSITIONS_SEED = 2335  # fixed so every run bisects the same tree
DEFAULT_REPEATS = 5


@dataclass(frozen=True)
class Row:
    members: int
    bad: int
    naive_ms: float
    batch_ms: float
    batch_verifications: int

    @property
    def time_ratio(self) -> float:
        return self.naive_ms / self.batch_ms

    @property
    def verification_ratio(self) -> float:
        return self.members / self.batch_verifications


def median_ms(run: Callable[[], object], repeats: int) -> float:
    run()  # warm-up: caches, allocator
    samples = []
    for _ in range(repeats):
        started = time.process_time()
        run()
        samples.append((time.process_time() - started) * 1000)
    return statistics.median(samples)


def committee(size: int) -> tuple[list[bls.SecretKey], list[bls.PublicKey]]:
    secrets = [bls.SecretKey.from_int(KEY_SCALAR_BASE + i) for i in range(size)]
    return secrets, [secret.public_key() for secret in secrets]


def shares_with_bad(
    secrets: Sequence[bls.SecretKey], keys: Sequence[bls.PublicKey], good: Sequence[bls.Signature], bad: int
) -> list[SignatureShare]:
    positions = set(random.Random(BAD_POSITIONS_SEED + bad).sample(range(len(secrets)), bad))
    return [
        SignatureShare(i, keys[i], bls.sign(secrets[i], OTHER_DIGEST) if i in positions else good[i])
        for i in range(len(secrets))
    ]


def naive(shares: Sequence[SignatureShare]) -> list[bool]:
    results = []
    for share in shares:
        assert isinstance(share.signature, bls.Signature)
        results.append(bls.verify(share.public_key, DIGEST, share.signature))
    return results


def measure(size: int, repeats: int) -> tuple[list[Row], float]:
    secrets, keys = committee(size)
    good = [bls.sign(secret, DIGEST) for secret in secrets]
    encoded = [signature.compressed for signature in good]
    parse_ms = median_ms(lambda: [bls.parse_signature(raw) for raw in encoded], repeats)
    rows = []
    for bad in BAD_COUNTS:
        shares = shares_with_bad(secrets, keys, good, bad)
        expected = naive(shares)
        result = verify_signature_batch(DIGEST, shares)
        assert [item.valid for item in result.verdicts] == expected, "batch verdicts differ from naive"
        assert result.verifications <= verification_bound(size, bad)
        naive_ms = median_ms(lambda shares=shares: naive(shares), repeats)  # type: ignore[misc]
        batch_ms = median_ms(lambda shares=shares: verify_signature_batch(DIGEST, shares), repeats)  # type: ignore[misc]
        rows.append(Row(size, bad, naive_ms, batch_ms, result.verifications))
    return rows, parse_ms


def print_row(cells: Sequence[str], widths: Sequence[int]) -> None:
    print(" ".join(f"{cell:>{width}}" for cell, width in zip(cells, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one timed run per figure instead of several")
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="timed runs per figure")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats

    print(f"BLS signature collection over one digest, fast backend, CPU ms, median of {repeats} run(s)\n")
    widths = (8, 4, 12, 12, 10, 10, 11, 11)
    print_row(
        ("members", "bad", "naive ms", "batch ms", "naive ver", "batch ver", "time ratio", "ver ratio"),
        widths,
    )
    rows: list[Row] = []
    for size in COMMITTEES:
        size_rows, parse_ms = measure(size, repeats)
        for row in size_rows:
            print_row(
                (
                    f"{row.members:,}",
                    str(row.bad),
                    f"{row.naive_ms:.2f}",
                    f"{row.batch_ms:.2f}",
                    f"{row.members:,}",
                    str(row.batch_verifications),
                    f"{row.time_ratio:.1f}x",
                    f"{row.verification_ratio:.1f}x",
                ),
                widths,
            )
        print(f"{'':>8} (parsing {size:,} signatures from bytes: {parse_ms:.2f} ms in both; not included)")
        rows.extend(size_rows)

    print("\nSummary (anchor = naive one-verification-per-signature on the same input)")
    summary_widths = (44, 14, 14, 9)
    print_row(("figure", "value", "anchor", "ratio"), summary_widths)
    for row in rows:
        label = f"{row.members:,} members, {row.bad} bad: batch ms"
        print_row(
            (label, f"{row.batch_ms:.2f}", f"{row.naive_ms:.2f}", f"{row.time_ratio:.1f}x"), summary_widths
        )
        label = f"{row.members:,} members, {row.bad} bad: verifications"
        print_row(
            (label, str(row.batch_verifications), f"{row.members:,}", f"{row.verification_ratio:.1f}x"),
            summary_widths,
        )


if __name__ == "__main__":
    main()
