"""Distribution Merkle tree benchmark: build + every single proof, time and peak RSS per size.

Run: ``.venv/bin/python bench/merkle_tree.py [--sizes 10000,100000,1000000]`` (``--quick``: 10k
and 100k leaves).

Each (size, keccak backend) runs in its own subprocess so peak RSS figures do not pollute each
other. Targets: 100k leaves build + all proofs <= 2 s; 1M leaves <= 1.5 GB peak RSS. The
pycryptodome rows are the baseline the default (safe-pysha3) backend is compared against.

Same-run floor: in the same subprocess, over the same leaves and with the same keccak function, a
plain keccak tree — each leaf's 96-byte ABI encoding double-hashed (the leaf hash the contracts
check), then levels of ``keccak(left + right)`` with an odd node carried up: the same number of
hashes and nothing else (no validation, no sorting, no OZ layout) — and its every proof (one
sibling per level, walked from each leaf). "x plain" = our time / the plain tree's time.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time

from relayer.protocol import merkle
from relayer.protocol.merkle import DistributionLeaf, DistributionTree, verify_proof
from relayer.protocol.types import Address, Amount

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
BASELINE_MAX_SIZE = 100_000  # the slow pycryptodome baseline is only run up to this size
SAMPLE_VERIFY_EVERY = 997  # spot-check proofs while iterating, without dominating the timing
TARGET_100K_S = 2.0
TARGET_1M_RSS_MB = 1500.0
QUICK_SIZES = (10_000, 100_000)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def make_leaves(count: int) -> list[DistributionLeaf]:
    rng = random.Random(count)
    indices = list(range(count))
    rng.shuffle(indices)
    return [
        DistributionLeaf(index, Address(position.to_bytes(20, "big")), Amount(rng.randrange(1, 10**24)))
        for position, index in enumerate(indices)
    ]


def plain_tree(leaves: list[DistributionLeaf]) -> list[list[bytes]]:
    """The floor: every level of a plain pairwise keccak tree, leaves first, root last."""
    new_keccak = merkle._new_keccak  # the backend this subprocess measures
    padding = bytes(12)
    level = [
        new_keccak(
            new_keccak(
                leaf.index.to_bytes(32, "big") + padding + leaf.staker + leaf.amount.to_bytes(32, "big")
            ).digest()
        ).digest()
        for leaf in leaves
    ]
    levels = [level]
    while len(level) > 1:
        paired = [new_keccak(level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
        levels.append(level)
    return levels


def plain_proofs(levels: list[list[bytes]]) -> int:
    """Every leaf's proof in the plain tree (sibling per level); returns the elements produced."""
    elements = 0
    for leaf in range(len(levels[0])):
        position, proof = leaf, []
        for level in levels[:-1]:
            sibling = position ^ 1
            if sibling < len(level):
                proof.append(level[sibling])
            position >>= 1
        elements += len(proof)
    return elements


def child(count: int, backend: str) -> dict[str, float | int | str]:
    if backend == "pycryptodome":
        setattr(merkle, "_new_keccak", merkle._pycryptodome_factory)  # noqa: B010
    rss_start = peak_rss_mb()
    started = time.perf_counter()
    leaves = make_leaves(count)
    leaves_s = time.perf_counter() - started

    started = time.perf_counter()
    tree = DistributionTree.build(leaves)
    build_s = time.perf_counter() - started

    started = time.perf_counter()
    proof_elements = 0
    for leaf, proof in tree.proofs():
        proof_elements += len(proof)
        if leaf.index % SAMPLE_VERIFY_EVERY == 0:
            assert verify_proof(tree.root, leaf, proof)
    proofs_s = time.perf_counter() - started

    started = time.perf_counter()
    levels = plain_tree(leaves)
    plain_build_s = time.perf_counter() - started
    assert len(levels[-1]) == 1
    started = time.perf_counter()
    plain_elements = plain_proofs(levels)
    plain_proofs_s = time.perf_counter() - started
    return {
        "leaves": count,
        "backend": backend,
        "make_leaves_s": leaves_s,
        "build_s": build_s,
        "all_proofs_s": proofs_s,
        "proof_elements": proof_elements,
        "plain_build_s": plain_build_s,
        "plain_proofs_s": plain_proofs_s,
        "plain_proof_elements": plain_elements,
        "rss_start_mb": rss_start,
        "peak_rss_mb": peak_rss_mb(),
    }


def run_child(count: int, backend: str) -> dict[str, float | int | str]:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", str(count), "--backend", backend],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float | int | str] = json.loads(completed.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES))
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--backend", default="default", choices=["default", "pycryptodome"])
    parser.add_argument("--quick", action="store_true", help="10k and 100k leaves only")
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.backend)))
        return

    sizes = list(QUICK_SIZES) if args.quick else [int(s) for s in args.sizes.split(",")]
    print(f"keccak backend: {merkle.KECCAK_BACKEND} (baseline: pycryptodome)")
    print("plain = a pairwise keccak tree over the same leaves, same backend, same subprocess (the floor)")
    header = (
        f"{'leaves':>9} {'backend':>12} {'make leaves':>12} {'build':>8} {'all proofs':>11} "
        f"{'build+proofs':>13} {'vs baseline':>11} {'peak RSS':>10} "
        f"{'plain build':>12} {'x plain':>8} {'plain proofs':>13} {'x plain':>8}"
    )
    print(header)
    print("-" * len(header))
    summary: list[tuple[str, str, str, str, str, str]] = []
    for count in sizes:
        rows = [run_child(count, "default")]
        if count <= BASELINE_MAX_SIZE:
            rows.append(run_child(count, "pycryptodome"))
        work = [float(row["build_s"]) + float(row["all_proofs_s"]) for row in rows]
        for row, seconds in zip(rows, work, strict=True):
            ratio = f"{work[-1] / seconds:.2f}x" if len(rows) > 1 else "-"
            build_x = float(row["build_s"]) / float(row["plain_build_s"])
            proofs_x = float(row["all_proofs_s"]) / float(row["plain_proofs_s"])
            print(
                f"{count:>9} {row['backend']!s:>12} {float(row['make_leaves_s']):>11.2f}s "
                f"{float(row['build_s']):>7.2f}s {float(row['all_proofs_s']):>10.2f}s {seconds:>12.2f}s "
                f"{ratio:>11} {float(row['peak_rss_mb']):>7.0f} MB "
                f"{float(row['plain_build_s']):>11.2f}s {build_x:>7.2f}x "
                f"{float(row['plain_proofs_s']):>12.2f}s {proofs_x:>7.2f}x"
            )
        ours = rows[0]
        plain_work = float(ours["plain_build_s"]) + float(ours["plain_proofs_s"])
        summary.append(
            (
                f"{count:,} leaves build",
                f"{float(ours['build_s']):.2f} s",
                f"plain tree {float(ours['plain_build_s']):.2f} s",
                f"{float(ours['build_s']) / float(ours['plain_build_s']):.2f}x",
                "-",
                "-",
            )
        )
        summary.append(
            (
                f"{count:,} leaves build+proofs",
                f"{work[0]:.2f} s",
                f"plain tree {plain_work:.2f} s",
                f"{work[0] / plain_work:.2f}x",
                f"<= {TARGET_100K_S} s (absolute)" if count == 100_000 else "-",
                verdict_of(work[0] <= TARGET_100K_S) if count == 100_000 else "-",
            )
        )
        if count == 100_000:
            verdict = "OK" if work[0] <= TARGET_100K_S else "MISSED"
            print(f"  target 100k build+proofs <= {TARGET_100K_S} s: {verdict}")
        if count == 1_000_000:
            rss = float(rows[0]["peak_rss_mb"])
            verdict = "OK" if rss <= TARGET_1M_RSS_MB else "MISSED"
            print(f"  target 1M peak RSS <= {TARGET_1M_RSS_MB:.0f} MB: {verdict}")
            summary.append(
                (
                    "1,000,000 leaves peak RSS",
                    f"{rss:.0f} MB",
                    "-",
                    "-",
                    f"<= {TARGET_1M_RSS_MB:.0f} MB (absolute)",
                    verdict_of(rss <= TARGET_1M_RSS_MB),
                )
            )
    print_summary(summary)


def verdict_of(ok: bool) -> str:
    return "met" if ok else "MISSED"


def print_summary(rows: list[tuple[str, str, str, str, str, str]]) -> None:
    """figure | value | same-run anchor | ratio | goal | verdict (default keccak backend)."""
    table = [("figure", "value", "same-run anchor", "ratio", "goal", "verdict"), *rows]
    widths = [max(len(row[column]) for row in table) for column in range(6)]
    print(f"\nsummary ({merkle.KECCAK_BACKEND}; anchors measured in the same subprocess, same leaves)")
    for row in table:
        print(
            ("  " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))).rstrip()
        )


if __name__ == "__main__":
    main()
