"""BLS fast-aggregate-verify benchmark: our API vs the raw blspy binding and the py_ecc reference.

Run: ``.venv/bin/python bench/bls_verify.py [--sizes 1,10,100,1000] [--reference-max 100] [--repeats 30]``
(``--quick``: 1, 10 and 100 keys, 5 repeats, a few seconds.)

"Cold" = what a packet costs the first time its signer set is seen: every key arrives as 48
compressed bytes and is decompressed and subgroup-checked (no cache, two parse threads from
``PARALLEL_PARSE_MIN_KEYS`` keys on), the 96-byte signature is parsed, then fast-aggregate-verify.
"Warm" = the same with the keys already in the backend's validated-key cache (the relayer's steady
state: every packet is checked against the same validator set); the signature is still parsed.
Two anchors are measured in the same run, on the same bytes:

- the raw binding: blspy called directly, without our wrapper (``G1Element.from_bytes`` per key on
  one thread, ``G2Element.from_bytes``, ``PopSchemeMPL.fast_aggregate_verify``; warm = keys parsed
  beforehand). "vs raw" = our time / raw time: what the wrapper (validation, cache, error mapping,
  parse threads) costs or saves;
- py_ecc's own ``G2ProofOfPossession.FastAggregateVerify`` (it KeyValidates every key and
  subgroup-checks the signature, i.e. it is cold too): the slow reference, "speedup" = py_ecc / ours.

Targets: 100 keys cold <= 3 ms and >= 300x faster than py_ecc (the raw-binding ratio is reported,
no goal is set for it).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from blspy import G1Element, G2Element, PopSchemeMPL
from eth_typing import BLSPubkey, BLSSignature
from py_ecc.bls.ciphersuites import G2ProofOfPossession

from relayer.protocol import bls
from relayer.protocol.bls.constants import PARALLEL_PARSE_MIN_KEYS
from relayer.protocol.bls.fast import FastBackend

DEFAULT_SIZES = (1, 10, 100, 1000)
DEFAULT_REFERENCE_MAX = 100  # py_ecc at 1000 keys takes ~10 s per run; opt in with --reference-max
TARGET_100_COLD_MS = 3.0
TARGET_SPEEDUP = 300.0
QUICK_SIZES = (1, 10, 100)
QUICK_REPEATS = 5
MESSAGE = bytes.fromhex("5656565656565656565656565656565656565656565656565656565656565656")
KEY_SCALAR_BASE = 7_000_000  # secret keys are KEY_SCALAR_BASE + i: deterministic, distinct


def timed_ms(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(median, min) wall time in ms over ``repeats`` runs, after one untimed warm-up run."""
    run()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), min(samples)


def make_case(count: int) -> tuple[list[bytes], bytes]:
    secrets = [bls.SecretKey.from_int(KEY_SCALAR_BASE + i) for i in range(count)]
    keys = [secret.public_key().compressed for secret in secrets]
    signature = bls.aggregate_signatures([bls.sign(secret, MESSAGE) for secret in secrets])
    return keys, signature.compressed


def py_ecc_fast_aggregate_verify(keys: list[bytes], signature: bytes) -> bool:
    return bool(
        G2ProofOfPossession.FastAggregateVerify(
            [BLSPubkey(key) for key in keys], MESSAGE, BLSSignature(signature)
        )
    )


def raw_cold(keys: list[bytes], signature: bytes) -> bool:
    """The anchor: the binding alone, every key decoded and subgroup-checked on this one thread."""
    points = [G1Element.from_bytes(key) for key in keys]
    return bool(PopSchemeMPL.fast_aggregate_verify(points, MESSAGE, G2Element.from_bytes(signature)))


def raw_warm(points: list[G1Element], signature: bytes) -> bool:
    """The warm anchor: keys already decoded, the signature still parsed."""
    return bool(PopSchemeMPL.fast_aggregate_verify(points, MESSAGE, G2Element.from_bytes(signature)))


def verdict_of(ok: bool) -> str:
    return "met" if ok else "MISSED"


def print_summary(rows: list[tuple[str, str, str, str, str, str]]) -> None:
    """figure | value | same-run anchor | ratio | goal | verdict."""
    table = [("figure", "value", "same-run anchor", "ratio", "goal", "verdict"), *rows]
    widths = [max(len(row[column]) for row in table) for column in range(6)]
    print("\nsummary (every anchor measured in this run, on the same bytes)")
    for row in table:
        print(
            ("  " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))).rstrip()
        )


def repeats_for(count: int, requested: int) -> int:
    return max(3, requested // max(1, count // 100))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    parser.add_argument("--reference-max", type=int, default=DEFAULT_REFERENCE_MAX)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="1, 10 and 100 keys, few repeats")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.repeats = ",".join(map(str, QUICK_SIZES)), QUICK_REPEATS
    sizes = [int(item) for item in args.sizes.split(",")]

    print(f"fast-aggregate-verify, message = 32 bytes; two parse threads from {PARALLEL_PARSE_MIN_KEYS} keys")
    header = [
        "keys", "fast cold ms", "min", "fast warm ms", "py_ecc cold ms", "ratio",
        "raw cold ms", "vs raw", "raw warm ms", "vs raw",
    ]  # fmt: skip
    widths = [5, 12, 7, 12, 14, 5, 11, 6, 11, 6]
    print(" | ".join(f"{name:>{width}}" for name, width in zip(header, widths, strict=True)))
    print("-" * 121)
    cold_100: float | None = None
    ratio_100: float | None = None
    summary: list[tuple[str, str, str, str, str, str]] = []
    for count in sizes:
        keys, signature = make_case(count)
        repeats = repeats_for(count, args.repeats)

        def cold(keys: list[bytes] = keys, signature: bytes = signature) -> None:
            assert bls.fast_aggregate_verify_encoded(
                keys, MESSAGE, signature, backend="fast", use_cache=False
            )

        def warm(keys: list[bytes] = keys, signature: bytes = signature) -> None:
            assert bls.fast_aggregate_verify_encoded(keys, MESSAGE, signature, backend="fast")

        points = [G1Element.from_bytes(key) for key in keys]

        def raw_cold_run(keys: list[bytes] = keys, signature: bytes = signature) -> None:
            assert raw_cold(keys, signature)

        def raw_warm_run(points: list[G1Element] = points, signature: bytes = signature) -> None:
            assert raw_warm(points, signature)

        cold_median, cold_min = timed_ms(cold, repeats)
        warm_median, _ = timed_ms(warm, repeats)
        raw_cold_median, _ = timed_ms(raw_cold_run, repeats)
        raw_warm_median, _ = timed_ms(raw_warm_run, repeats)
        if count <= args.reference_max:
            started = time.perf_counter()
            assert py_ecc_fast_aggregate_verify(keys, signature)
            elapsed_ms = (time.perf_counter() - started) * 1000
            reference_ms: float | None = elapsed_ms
            reference_text, ratio_text = f"{elapsed_ms:14.1f}", f"{elapsed_ms / cold_median:5.0f}x"
        else:
            reference_ms, reference_text, ratio_text = None, f"{'skipped':>14}", "    -"
        cold_vs_raw, warm_vs_raw = cold_median / raw_cold_median, warm_median / raw_warm_median
        print(
            f"{count:5d} | {cold_median:12.3f} | {cold_min:7.3f} | {warm_median:12.3f} | "
            f"{reference_text} | {ratio_text} | {raw_cold_median:11.3f} | {cold_vs_raw:5.2f}x | "
            f"{raw_warm_median:11.3f} | {warm_vs_raw:5.2f}x"
        )
        summary.append(
            (
                f"{count} keys cold",
                f"{cold_median:.3f} ms",
                f"raw blspy {raw_cold_median:.3f} ms",
                f"{cold_vs_raw:.2f}x",
                "-",
                "-",
            )
        )
        summary.append(
            (
                f"{count} keys warm",
                f"{warm_median:.3f} ms",
                f"raw blspy {raw_warm_median:.3f} ms",
                f"{warm_vs_raw:.2f}x",
                "-",
                "-",
            )
        )
        if reference_ms is not None:
            speedup = reference_ms / cold_median
            summary.append(
                (
                    f"{count} keys cold",
                    f"{cold_median:.3f} ms",
                    f"py_ecc {reference_ms:.1f} ms",
                    f"{speedup:.0f}x faster",
                    f">= {TARGET_SPEEDUP:.0f}x at 100 keys" if count == 100 else "-",
                    verdict_of(speedup >= TARGET_SPEEDUP) if count == 100 else "-",
                )
            )
        if count == 100:
            cold_100 = cold_median
            ratio_100 = None if reference_ms is None else reference_ms / cold_median
    print(
        "(fast and raw: median of several runs after a warm-up, fast also min; py_ecc: a single run;"
        " ratios use the medians;\n raw = blspy called directly on one thread, vs raw = ours / raw)"
    )

    print("\nbreakdown, fast backend, 100 keys (median ms):")
    keys, signature = make_case(100)
    single, double = FastBackend(parse_threads=1), FastBackend()
    parsed = double.parse_public_keys(keys)
    parsed_signature = double.parse_signature(signature)
    rows: list[tuple[str, Callable[[], object]]] = [
        ("parse 100 keys, 1 thread", lambda: single.parse_public_keys(keys, use_cache=False)),
        ("parse 100 keys, 2 threads", lambda: double.parse_public_keys(keys, use_cache=False)),
        ("parse 100 keys, cached", lambda: double.parse_public_keys(keys)),
        ("parse signature", lambda: double.parse_signature(signature)),
        (
            "fast_aggregate_verify on parsed",
            lambda: double.fast_aggregate_verify(parsed, MESSAGE, parsed_signature),
        ),
    ]
    measured = {label: timed_ms(run, args.repeats)[0] for label, run in rows}
    for label, value in measured.items():
        print(f"  {label:<34} {value:8.3f}")
    floor = (
        measured["parse 100 keys, 1 thread"] / 2
        + measured["parse signature"]
        + measured["fast_aggregate_verify on parsed"]
    )
    print(f"  {'floor on 2 cores':<34} {floor:8.3f}  (1-thread parse / 2 + signature + verify)")

    if cold_100 is not None:
        verdict = "met" if cold_100 <= TARGET_100_COLD_MS else "MISSED"
        print(f"\ntarget 100 keys cold <= {TARGET_100_COLD_MS} ms: {cold_100:.3f} ms ({verdict})")
    if ratio_100 is not None:
        verdict = "met" if ratio_100 >= TARGET_SPEEDUP else "MISSED"
        print(f"target >= {TARGET_SPEEDUP:.0f}x py_ecc at 100 keys: {ratio_100:.0f}x ({verdict})")
    print_summary(summary)


if __name__ == "__main__":
    main()
