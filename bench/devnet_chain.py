"""Devnet chain benchmarks: reward distribution for many stakers, and block production under load.

    .venv/bin/python bench/devnet_chain.py            # 10k and 100k stakers, 1k-tx blocks
    .venv/bin/python bench/devnet_chain.py --quick    # 10k stakers only, fewer blocks

1. Distribution: one verified claim over a committee of 20 operators whose pools hold N delegations
   (two assets). Timed: the whole ``SubmitRewardClaim`` transaction (aggregate signature check, the
   exact split, N DistributionLeaf values, the Merkle tree, the packet and its validator signatures),
   and its parts. The pools are filled directly in the state: setting up 100k delegations through
   transactions would measure the setup, not the distribution. Target: 100k stakers <= 5 s.
2. Blocks: 1,000 ``MsgDelegation`` transactions are admitted (each executed on admission) and the
   block sealed (end-block, CometBFT block, SQLite append); repeated; blocks/s and tx/s sustained.

Same-run anchors: the claim is set against its two inherent parts measured alone on the same
inputs (the exact split + the Merkle tree): "x parts" is what the transaction costs beyond them
(signature check, leaf values, packet, its signatures). A loaded block is set against an empty
block of the same node (the fixed per-block cost of end-block, CometBFT block and SQLite append).
"""

from __future__ import annotations

import argparse
import gc
import resource
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from devnet import scenario as sc
from devnet.chain.blockstore import BlockStore
from devnet.chain.node import DevnetNode
from devnet.chain.params import DEVNET_LZ_CHAIN_ID, Genesis, devnet_validators
from devnet.chain.rewards import OperatorShare, delegator_weights, plan_distribution
from relayer.protocol import bls
from relayer.protocol.ids import asset_id
from relayer.protocol.merkle import DistributionLeaf, DistributionTree
from relayer.protocol.types import Address, Amount, Hash32

CHAIN_ID = "exocoredevnet_233-1"
SEED = "bench"
OPERATORS = 20
WETH = asset_id(Address(b"\xc0" * 20), DEVNET_LZ_CHAIN_ID)
STETH = asset_id(Address(b"\xc1" * 20), DEVNET_LZ_CHAIN_ID)
REWARD_TOKEN = "0x" + "e0" * 20
TARGET_100K_S = 5.0
TXS_PER_BLOCK = 1000


def rss_mb() -> float:
    """Peak resident set size of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def genesis(epoch_blocks: int = 2) -> Genesis:
    return Genesis(
        chain_id=CHAIN_ID,
        seed=SEED,
        l1_chain_id=31337,
        gateway=Address(b"\x6a" * 20),
        validators=devnet_validators(SEED, 4),
        genesis_time_ns=1_700_000_000 * 10**9,
        epoch_blocks=epoch_blocks,
    )


def distribution_world(stakers: int) -> tuple[DevnetNode, sc.CommitteeView, dict[bytes, bls.SecretKey]]:
    node = DevnetNode(genesis(), BlockStore(CHAIN_ID))
    node.submit(sc.set_price_msg(WETH, "3000", 18))
    node.submit(sc.set_price_msg(STETH, "2999.5", 18))
    avs = "0x" + "aa" * 20
    node.submit(
        sc.AvsRules(
            address=avs,
            name="bench",
            asset_ids=(WETH, STETH),
            reward_tokens=((REWARD_TOKEN, 1),),
            committee_size=OPERATORS,
        ).msg()
    )
    secrets: dict[bytes, bls.SecretKey] = {}
    accounts = []
    for index in range(OPERATORS):
        account = sc.operator_account(SEED, index)
        accounts.append(str(account))
        node.submit(sc.register_operator_msg(account, sc.operator_reward_address(SEED, index), "0.1"))
        secret = sc.operator_bls_secret(SEED, index, avs)
        secrets[bls.public_key_of(secret).compressed] = secret
        node.submit(sc.opt_in_msg(CHAIN_ID, account, avs, secret))
    for index in range(stakers):
        staker = Address(index.to_bytes(4, "big") + b"\x5a" * 16)
        operator = node.state.operators[accounts[index % OPERATORS]]
        pool = operator.pools.setdefault(WETH if index % 3 else STETH, {})
        pool[staker] = (index % 97 + 1) * 10**16 + index
    node.advance(3)  # into epoch 2: committees elected
    proto = node.committee(avs, 0)
    assert proto is not None
    return node, sc.CommitteeView.from_proto(proto), secrets


def bench_distribution(stakers: int) -> dict[str, float]:
    node, committee, secrets = distribution_world(stakers)
    gc.collect()
    state = node.state
    avs = state.avss[committee.avs]
    # The parts, measured on their own (same inputs the claim uses).
    started = time.perf_counter()
    shares = [
        OperatorShare(
            m.operator,
            m.power,
            state.operators[m.operator].commission_rate,
            state.operators[m.operator].reward_address,
            delegator_weights(state.operators[m.operator], avs.asset_ids, state.assets),
        )
        for m in state.committees[(committee.avs, committee.epoch)].members
    ]
    plan = plan_distribution(10**24, state.genesis.community_tax, shares)
    split_s = time.perf_counter() - started
    started = time.perf_counter()
    DistributionTree.build(
        DistributionLeaf(i, s, Amount(a))
        for i, (s, a) in enumerate(zip(plan.stakers, plan.amounts, strict=True))
    )
    tree_s = time.perf_counter() - started
    msg = sc.reward_claim_msg(
        chain_id=CHAIN_ID,
        committee=committee,
        secrets=secrets,
        signer_indices=range(OPERATORS),
        token=REWARD_TOKEN,
        amount=10**24,
    )
    started = time.perf_counter()
    response = node.submit_reward_claim(msg)
    claim_s = time.perf_counter() - started
    record = state.claims[Hash32(response.claim_id)]
    assert record.distribution_nonce, record.reject_reason
    started = time.perf_counter()
    node.produce_block()
    seal_s = time.perf_counter() - started
    return {
        "stakers": stakers,
        "leaves": state.distributions[record.distribution_nonce].leaf_count,
        "claim_s": claim_s,
        "split_s": split_s,
        "tree_s": tree_s,
        "seal_s": seal_s,
        "rss_mb": rss_mb(),
    }


def bench_blocks(blocks: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        store = BlockStore(CHAIN_ID, Path(directory) / "bench.sqlite")
        node = DevnetNode(genesis(epoch_blocks=10), store)
        node.submit(sc.set_price_msg(WETH, "3000", 18))
        accounts = []
        for index in range(OPERATORS):
            account = sc.operator_account(SEED, index)
            accounts.append(account)
            node.submit(sc.register_operator_msg(account, sc.operator_reward_address(SEED, index), "0.1"))
        node.produce_block()
        messages = [
            sc.delegate_msg(Address(i.to_bytes(20, "big")), WETH, accounts[i % OPERATORS], 10**18 + i)
            for i in range(TXS_PER_BLOCK * blocks)
        ]
        admit_s = 0.0
        seal_s = 0.0
        started = time.perf_counter()
        for block in range(blocks):
            t0 = time.perf_counter()
            for msg in messages[block * TXS_PER_BLOCK : (block + 1) * TXS_PER_BLOCK]:
                node.submit(msg)
            t1 = time.perf_counter()
            node.produce_block()
            t2 = time.perf_counter()
            admit_s += t1 - t0
            seal_s += t2 - t1
        total_s = time.perf_counter() - started
        empty_started = time.perf_counter()
        node.advance(200)
        empty_s = time.perf_counter() - empty_started
        store.close()
    return {
        "blocks": blocks,
        "blocks_per_s": blocks / total_s,
        "txs_per_s": blocks * TXS_PER_BLOCK / total_s,
        "admit_ms_per_tx": 1000 * admit_s / (blocks * TXS_PER_BLOCK),
        "seal_ms_per_block": 1000 * seal_s / blocks,
        "empty_blocks_per_s": 200 / empty_s,
    }


DISTRIBUTION_WIDTHS = (8, 8, 11, 8, 7, 7, 13, 8)
BLOCK_WIDTHS = (7, 9, 8, 12, 14, 15, 8)


def print_row(cells: Sequence[str], widths: Sequence[int]) -> None:
    print(" ".join(f"{cell:>{width}}" for cell, width in zip(cells, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k stakers and 3 loaded blocks only")
    args = parser.parse_args()
    sizes = [10_000] if args.quick else [10_000, 100_000]
    print("Reward distribution (one claim, committee of 20, 2 assets); x parts = claim / (split + tree)")
    print_row(
        ("stakers", "leaves", "claim tx s", "split s", "tree s", "seal s", "peak RSS MiB", "x parts"),
        DISTRIBUTION_WIDTHS,
    )
    summary: list[tuple[str, str, str, str, str, str]] = []
    for stakers in sizes:
        row = bench_distribution(stakers)
        parts_s = row["split_s"] + row["tree_s"]
        print_row(
            [f"{row['stakers']:,.0f}", f"{row['leaves']:,.0f}"]
            + [f"{row[key]:.2f}" for key in ("claim_s", "split_s", "tree_s", "seal_s")]
            + [f"{row['rss_mb']:.0f}", f"{row['claim_s'] / parts_s:.2f}x"],
            DISTRIBUTION_WIDTHS,
        )
        at_target = stakers == 100_000
        if at_target:
            verdict = "meets" if row["claim_s"] <= TARGET_100K_S else "MISSES"
            print(f"  100k-staker claim {row['claim_s']:.2f} s {verdict} the {TARGET_100K_S:.0f} s target")
        summary.append(
            (
                f"claim tx, {stakers:,} stakers",
                f"{row['claim_s']:.2f} s",
                f"split + tree alone {parts_s:.2f} s",
                f"{row['claim_s'] / parts_s:.2f}x",
                f"<= {TARGET_100K_S:.0f} s (absolute)" if at_target else "-",
                ("met" if row["claim_s"] <= TARGET_100K_S else "MISSED") if at_target else "-",
            )
        )
    row = bench_blocks(3 if args.quick else 10)
    print(f"\nBlock production with {TXS_PER_BLOCK} pending MsgDelegation per block (SQLite block store)")
    print("  x empty = loaded block time (admit + seal) / empty block time, same node")
    print_row(
        ("blocks", "blocks/s", "tx/s", "admit ms/tx", "seal ms/block", "empty blocks/s", "x empty"),
        BLOCK_WIDTHS,
    )
    x_empty = row["empty_blocks_per_s"] / row["blocks_per_s"]
    print_row(
        [
            f"{row['blocks']:.0f}",
            f"{row['blocks_per_s']:.2f}",
            f"{row['txs_per_s']:.0f}",
            f"{row['admit_ms_per_tx']:.3f}",
            f"{row['seal_ms_per_block']:.1f}",
            f"{row['empty_blocks_per_s']:.0f}",
            f"{x_empty:.0f}x",
        ],
        BLOCK_WIDTHS,
    )
    summary.append(
        (
            f"block of {TXS_PER_BLOCK} MsgDelegation",
            f"{1000 / row['blocks_per_s']:.0f} ms",
            f"empty block {1000 / row['empty_blocks_per_s']:.1f} ms",
            f"{x_empty:.0f}x",
            "-",
            "-",
        )
    )
    table = [("figure", "value", "same-run anchor", "ratio", "goal", "verdict"), *summary]
    widths = [max(len(line[column]) for line in table) for column in range(6)]
    print("\nsummary (anchors measured in this run, same inputs, same node)")
    for line in table:
        print(
            ("  " + " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))).rstrip()
        )


if __name__ == "__main__":
    main()
