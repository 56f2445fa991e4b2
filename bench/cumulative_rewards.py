"""Cumulative reward roots vs today's per-distribution push: L1 gas for the same distributions.

Run: ``.venv/bin/python bench/cumulative_rewards.py [--quick]`` (starts its own anvil).

1. MEASURED on anvil (real transactions against the real contracts, 100-validator set, 67%+ signed):
   a REWARD_DISTRIBUTION packet, a payout batch of 100 fresh leaves (per leaf), a CUMULATIVE_ROOT
   packet (3 AVSs), a ``pushCumulative`` batch of 100 earners (first payment: fresh ``claimed``
   slots and balances; and a repeat payment after a newer root), and an earner's self-claim of one
   and of two tokens.
2. COMPUTED from those measurements: the same run of distributions both ways. ``--stakers`` stakers
   (default 100k) with Pareto-skewed stakes (a few large, a long tail), ``--avss`` AVSs (3) each
   distributing once a day for ``--days`` days (10: 30 distributions); each staker restakes into each
   AVS with probability ``AVS_MEMBERSHIP``. (a) today: every distribution is one packet plus every
   leaf pushed. (b) cumulative: one root per day per client chain, pushes chosen by
   ``relayer.pipeline.push_policy`` at ``FEE_PER_GAS_GWEI`` and ``TOKEN_PRICE_ETH`` with a
   ``GAS_MULTIPLE`` threshold and a ``MAX_DELAY_DAYS`` bound; everyone else accrues and can claim.
   Checked every simulated day: every balance above its threshold has waited at most the maximum
   delay. Goal: (b) >= 20x less gas than (a).
3. MEASURED: building a cumulative tree of ``--tree-size`` earners (1M; ``--quick`` 20k) and all its
   proofs vs the same-run anchor, today's DistributionTree over as many leaves (bench/merkle_tree.py's
   object), each in its own subprocess for a clean peak RSS. Goal: time and RSS within 1.25x.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from fractions import Fraction
from typing import Final

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.types import TxParams, Wei

from devnet.anvil import AnvilConfig, AnvilNode
from devnet.l1_deploy import GenesisValset, L1Deployment, contract_at, deploy_l1
from relayer.l1.artifacts import ContractName
from relayer.pipeline.push_policy import Balance, PushPolicy, decide
from relayer.protocol.bls import CURVE_ORDER, SecretKey, pop_prove, sign
from relayer.protocol.cumulative import CumulativeLeaf, CumulativeTree
from relayer.protocol.merkle import DistributionLeaf, DistributionTree
from relayer.protocol.packets import (
    CumulativeFunding,
    CumulativeRootPayload,
    FundingMode,
    Packet,
    Payload,
    RewardDistributionPayload,
)
from relayer.protocol.quorum import SignerBitmap
from relayer.protocol.types import Address, Amount, Hash32, as_address

EXOCORE_CHAIN: Final = Hash32(keccak(b"exocoretestnet_233"))
VALIDATORS: Final = 100
BATCH: Final = 100
BLOCK_GAS_LIMIT: Final = 60_000_000
DAY: Final = 86_400
TOKEN: Final = 10**18

AVS_MEMBERSHIP: Final = 0.6
"""Chance a staker restakes into a given AVS: most stakers are in some AVSs, not all."""
PARETO_ALPHA: Final = 1.16
"""Stake skew: alpha 1.16 is the "80/20" Pareto law (a few whales, a long tail)."""
DAILY_REWARD_PER_STAKER: Final = Fraction(3, 100)
"""What each AVS distributes per day per staker of the run (18-decimal tokens): 3,000 a day at
100k stakers, ~1M tokens a year over three AVSs; scaled with --stakers so --quick keeps the same
per-staker economics."""
TOKEN_PRICE_ETH: Final = Fraction(1, 1000)
"""The reward token's configured price: 0.001 ETH."""
FEE_PER_GAS_GWEI: Final = 20
GAS_MULTIPLE: Final = Fraction(10)
"""A push must be worth at least ten times its gas: a relayer spends at most ~10 % on delivery."""
MAX_DELAY_DAYS: Final = 7
GOAL_RATIO: Final = 20.0
TREE_GOAL_RATIO: Final = 1.25


# ---------------------------------------------------------------------------------------- anvil


class Signers:
    def __init__(self, size: int) -> None:
        rng = random.Random(size)
        self.secrets = tuple(SecretKey.from_int(rng.randrange(1, CURVE_ORDER)) for _ in range(size))

    def genesis(self) -> GenesisValset:
        return GenesisValset(
            nonce=1,
            pubkeys=tuple(s.public_key().to_eip2537() for s in self.secrets),
            powers=(100,) * len(self.secrets),
            pops=tuple(pop_prove(s).compressed for s in self.secrets),
        )

    def attest(self, digest: bytes) -> tuple[bytes, bytes]:
        signers = list(range(len(self.secrets) * 2 // 3 + 1))
        bitmap = SignerBitmap.from_indices(signers, len(self.secrets)).encode()
        scalar = sum(self.secrets[i].to_int() for i in signers) % CURVE_ORDER
        return bitmap, sign(SecretKey.from_int(scalar), digest).to_eip2537()


class Chain:
    def __init__(self, node: AnvilNode, signers: Signers) -> None:
        self.w3 = Web3(Web3.HTTPProvider(node.rpc_url, request_kwargs={"timeout": 120}))
        self.accounts = node.dev_accounts()
        self.sender = to_checksum_address(self.accounts[0].address)
        self.signers = signers
        self.deployment: L1Deployment = deploy_l1(
            self.w3, self.accounts[0].private_key, signers.genesis(), EXOCORE_CHAIN
        )
        self.gateway = contract_at(self.w3, ContractName.EXOCORE_GATEWAY, self.deployment.gateway)
        self.vault = contract_at(self.w3, ContractName.REWARD_VAULT, self.deployment.reward_vault)
        self.nonce = 10

    def gas(self, call: ContractFunction, sender: str | None = None) -> int:
        params: TxParams = {"from": to_checksum_address(sender or self.sender), "value": Wei(0)}
        params["gas"] = BLOCK_GAS_LIMIT - 1
        receipt = self.w3.eth.wait_for_transaction_receipt(call.transact(params))
        if receipt["status"] != 1:
            raise RuntimeError(f"benchmark transaction reverted: {receipt['transactionHash'].hex()}")
        return int(receipt["gasUsed"])

    def deliver(self, payload: Payload) -> tuple[int, Packet]:
        self.nonce += 1
        packet = Packet(
            exocore_chain=EXOCORE_CHAIN,
            l1_chain_id=self.deployment.chain_id,
            gateway=as_address(self.deployment.gateway),
            valset_nonce=1,
            nonce=self.nonce,
            payload=payload,
        )
        entry = {2: "submitDistribution", 5: "submitCumulativeRoot"}[int(packet.kind)]
        call = self.gateway.functions[entry](
            1, packet.nonce, packet.payload_bytes, self.signers.attest(packet.digest)
        )
        return self.gas(call), packet


def fresh(count: int, seed: int) -> list[Address]:
    return [
        Address(keccak(b"bench" + seed.to_bytes(4, "big") + i.to_bytes(8, "big"))[12:]) for i in range(count)
    ]


def measure(quick: bool) -> dict[str, int]:
    del quick  # the samples are small already; gas does not depend on the machine
    figures: dict[str, int] = {}
    config = AnvilConfig(block_gas_limit=BLOCK_GAS_LIMIT, accounts=6)
    with AnvilNode(config) as node:
        chain = Chain(node, Signers(VALIDATORS))
        token = chain.deployment.reward_token
        avss = [to_checksum_address(a.address) for a in chain.accounts[1:4]]
        # (a) today: a distribution packet and a payout batch of 100 fresh leaves (MINT).
        stakers = fresh(BATCH, 1)
        tree = DistributionTree.build(
            DistributionLeaf(i, s, Amount(10**15 + i)) for i, s in enumerate(stakers)
        )
        dist_payload = RewardDistributionPayload(
            claim_id=Hash32(b"\x01" * 32), avs=as_address(avss[0]), epoch=1, token=as_address(token),
            funding=FundingMode.MINT, total=tree.total, leaf_count=len(tree), merkle_root=tree.root,
        )  # fmt: skip
        chain.deliver(dist_payload)  # first packet warms the nonce word
        figures["distribution_packet"], packet = chain.deliver(dist_payload)
        multi = tree.multiproof(range(BATCH))
        leaves = [(x.index, to_checksum_address(x.staker), x.amount) for x in multi.leaves]
        payout = chain.gateway.functions.payout(
            packet.distribution_id, leaves, list(multi.proof), list(multi.proof_flags)
        )
        figures["payout_per_leaf"] = chain.gas(payout) // BATCH
        # (b) cumulative: roots, pushes (first and repeat), self-claims.
        earners = fresh(BATCH, 2)
        claimers = [as_address(a.address) for a in chain.accounts[4:6]]
        weth = as_address(chain.deployment.weth)
        deposit = chain.vault.functions.depositETH(avss[2])
        chain.w3.eth.wait_for_transaction_receipt(deposit.transact({"from": avss[2], "value": Wei(10**18)}))

        def root(period: int, scale: int) -> CumulativeTree:
            totals = {(e, as_address(token)): (10**15 + i) * scale for i, e in enumerate(earners)}
            for c in claimers:
                totals[(c, as_address(token))] = 10**16 * scale
                totals[(c, weth)] = 10**12 * scale
            ctree = CumulativeTree.build(CumulativeLeaf(e, t, Amount(v)) for (e, t), v in totals.items())
            minted = sum(v for (_, t), v in totals.items() if t != weth)
            share = minted // 2
            entries = (
                CumulativeFunding(as_address(avss[0]), as_address(token), FundingMode.MINT, Amount(share)),
                CumulativeFunding(
                    as_address(avss[1]), as_address(token), FundingMode.MINT, Amount(minted - share)
                ),
                CumulativeFunding(
                    as_address(avss[2]), weth, FundingMode.VAULT, Amount(len(claimers) * 10**12 * scale)
                ),
            )
            gas, _ = chain.deliver(
                CumulativeRootPayload(period=period, root=ctree.root, leaf_count=len(ctree), entries=entries)
            )
            figures[f"root_packet_{period}"] = gas
            return ctree

        def push(period: int, ctree: CumulativeTree) -> int:
            m = ctree.multiproof((e, as_address(token)) for e in earners)
            call = chain.vault.functions.pushCumulative(
                period,
                [
                    (to_checksum_address(x.earner), to_checksum_address(x.token), x.cumulative)
                    for x in m.leaves
                ],
                list(m.proof),
                list(m.proof_flags),
            )
            return chain.gas(call) // BATCH

        def claim(period: int, ctree: CumulativeTree, claimer: Address, tokens: Sequence[Address]) -> int:
            m = ctree.multiproof((claimer, t) for t in tokens)
            call = chain.vault.functions.claimCumulative(
                period,
                [
                    (to_checksum_address(x.earner), to_checksum_address(x.token), x.cumulative)
                    for x in m.leaves
                ],
                list(m.proof),
                list(m.proof_flags),
                to_checksum_address(claimer),
            )
            return chain.gas(call, sender=to_checksum_address(claimer))

        first = root(1, 1)
        figures["push_first_per_leaf"] = push(1, first)
        figures["claim_one_token"] = claim(1, first, claimers[0], [as_address(token)])
        figures["claim_two_tokens"] = claim(1, first, claimers[1], [as_address(token), weth])
        second = root(2, 2)
        figures["push_repeat_per_leaf"] = push(2, second)
        figures["root_packet"] = figures["root_packet_2"]
    return figures


# ---------------------------------------------------------------------------------------- model


def pareto_stakes(count: int, rng: random.Random) -> list[float]:
    return [rng.paretovariate(PARETO_ALPHA) for _ in range(count)]


def simulate(stakers: int, avss: int, days: int, gas: dict[str, int]) -> dict[str, float]:
    rng = random.Random(2026)
    stakes = pareto_stakes(stakers, rng)
    membership = [[i for i in range(stakers) if rng.random() < AVS_MEMBERSHIP] for _ in range(avss)]
    weights = [sum(stakes[i] for i in members) for members in membership]
    daily = int(DAILY_REWARD_PER_STAKER * stakers * TOKEN)
    token = Address(b"\x01" * 20)
    policy = PushPolicy(
        gas_multiple=GAS_MULTIPLE,
        max_delay_s=MAX_DELAY_DAYS * DAY,
        period_s=DAY,
        token_price_wei={token: TOKEN_PRICE_ETH * 10**18 / TOKEN},
        gas_per_leaf=gas["push_repeat_per_leaf"],
        gas_per_batch=0,
    )
    fee = FEE_PER_GAS_GWEI * 10**9
    earned = [0] * stakers
    paid = [0] * stakers
    unpaid_since = [0] * stakers
    ever_pushed = [False] * stakers
    today_gas = 0
    today_leaves = 0
    cumulative_gas = 0
    pushes_first = 0
    pushes_repeat = 0
    late = 0
    for day in range(days):
        now = day * DAY
        for avs in range(avss):
            members = membership[avs]
            total_weight = weights[avs]
            leaves = 0
            for i in members:
                amount = int(daily * stakes[i] / total_weight)
                if amount:
                    if earned[i] == paid[i]:
                        unpaid_since[i] = now
                    earned[i] += amount
                    leaves += 1
            today_leaves += leaves
            today_gas += gas["distribution_packet"] + leaves * gas["payout_per_leaf"]
        cumulative_gas += gas["root_packet"]  # one root a day for the client chain, any staker count
        balances = [
            Balance(Address(i.to_bytes(20, "big")), token, Amount(earned[i] - paid[i]), unpaid_since[i])
            for i in range(stakers)
            if earned[i] > paid[i]
        ]
        decision = decide(policy, balances, now_s=now, fee_per_gas_wei=fee)
        for item in decision.push:
            i = int.from_bytes(item.earner, "big")
            paid[i] = earned[i]
            if ever_pushed[i]:
                pushes_repeat += 1
                cumulative_gas += gas["push_repeat_per_leaf"]
            else:
                ever_pushed[i] = True
                pushes_first += 1
                cumulative_gas += gas["push_first_per_leaf"]
        # Above the threshold and not pushed: still within the bound (held one more period).
        late += sum(1 for item in decision.hold if now - item.unpaid_since_s > policy.max_delay_s)
    distributed = sum(earned)
    return {
        "distributions": avss * days,
        "today_gas": today_gas,
        "today_leaves": today_leaves,
        "cumulative_gas": cumulative_gas,
        "roots": days,
        "pushes_first": pushes_first,
        "pushes_repeat": pushes_repeat,
        "distributed": distributed,
        "pushed": sum(paid),
        "claimable": distributed - sum(paid),
        "earners_pushed": sum(ever_pushed),
        "late": late,
    }


# ---------------------------------------------------------------------------------------- trees


def tree_child(kind: str, size: int) -> dict[str, float]:
    rng = random.Random(size)
    token = Address(b"\x07" * 20)
    started = time.perf_counter()
    proofs = 0
    if kind == "cumulative":
        ctree = CumulativeTree.build(
            CumulativeLeaf(Address(i.to_bytes(20, "big")), token, Amount(rng.randrange(1, 10**24)))
            for i in range(1, size + 1)
        )
        for _ in ctree.proofs():
            proofs += 1
    else:
        dtree = DistributionTree.build(
            DistributionLeaf(i, Address((i + 1).to_bytes(20, "big")), Amount(rng.randrange(1, 10**24)))
            for i in range(size)
        )
        for _ in dtree.proofs():
            proofs += 1
    elapsed = time.perf_counter() - started
    assert proofs == size
    return {"seconds": elapsed, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_tree_child(kind: str, size: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--tree-child", kind, "--tree-size", str(size)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(out)
    return result


# ---------------------------------------------------------------------------------------- main


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="2k stakers, 20k-earner tree")
    parser.add_argument("--stakers", type=int, default=None)
    parser.add_argument("--avss", type=int, default=3)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--tree-size", type=int, default=None)
    parser.add_argument("--tree-child", choices=("cumulative", "distribution"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tree_child:
        print(json.dumps(tree_child(args.tree_child, args.tree_size)))
        return
    stakers = args.stakers or (2_000 if args.quick else 100_000)
    tree_size = args.tree_size or (20_000 if args.quick else 1_000_000)
    started = time.monotonic()

    gas = measure(args.quick)
    print("MEASURED on anvil (gasUsed of real transactions; 100 validators, 67%+ signed; batches of 100):")
    rows = [
        ("REWARD_DISTRIBUTION packet (today, per distribution)", gas["distribution_packet"]),
        ("payout, per leaf (today)", gas["payout_per_leaf"]),
        ("CUMULATIVE_ROOT packet (3 AVS x token entries)", gas["root_packet"]),
        ("pushCumulative, per leaf, first payment to an earner", gas["push_first_per_leaf"]),
        ("pushCumulative, per leaf, repeat payment", gas["push_repeat_per_leaf"]),
        ("claimCumulative by the earner, one token", gas["claim_one_token"]),
        ("claimCumulative by the earner, two tokens (MINT + VAULT)", gas["claim_two_tokens"]),
    ]
    for label, value in rows:
        print(f"  {label:<58} {value:>10,}")

    sim = simulate(stakers, args.avss, args.days, gas)
    ratio = sim["today_gas"] / sim["cumulative_gas"]
    per_today = sim["today_gas"] / sim["today_leaves"]
    per_cumulative = sim["cumulative_gas"] / sim["today_leaves"]
    print(
        f"\nCOMPUTED from the measured gas: {stakers:,} stakers (Pareto {PARETO_ALPHA}), {args.avss} AVSs x "
        f"{args.days} days = {sim['distributions']} distributions, "
        f"{sim['today_leaves']:,} staker-distributions"
    )
    print(
        f"  policy: push if worth >= {GAS_MULTIPLE}x its gas at {FEE_PER_GAS_GWEI} gwei, token at "
        f"{float(TOKEN_PRICE_ETH)} ETH; max delay {MAX_DELAY_DAYS} days; one root a day"
    )
    print(
        f"  (a) per-distribution push: {sim['today_gas']:,.0f} gas ({per_today:,.0f} per staker-distribution)"
    )
    print(
        f"  (b) cumulative + policy:    {sim['cumulative_gas']:,.0f} gas "
        f"({per_cumulative:,.1f} per staker-distribution): "
        f"{sim['roots']} roots, {sim['pushes_first']:,} first + {sim['pushes_repeat']:,} repeat pushes"
    )
    pushed_share = sim["pushed"] / sim["distributed"]
    print(
        f"  tokens reaching stakers: (a) {sim['distributed'] / TOKEN:,.1f} (all, pushed); (b) "
        f"{sim['pushed'] / TOKEN:,.1f} pushed ({pushed_share:.1%}) to {sim['earners_pushed']:,} earners, "
        f"{sim['claimable'] / TOKEN:,.1f} accrued and claimable by the others at any time"
    )
    print(f"  balances above the threshold held past the maximum delay: {sim['late']:.0f}")

    cumulative_tree = run_tree_child("cumulative", tree_size)
    distribution_tree = run_tree_child("distribution", tree_size)
    time_ratio = cumulative_tree["seconds"] / distribution_tree["seconds"]
    rss_ratio = cumulative_tree["rss_mb"] / distribution_tree["rss_mb"]
    print(f"\nMEASURED: build + every proof of a {tree_size:,}-leaf tree, each in its own subprocess:")
    for label, figures in (
        ("cumulative tree:  ", cumulative_tree),
        ("distribution tree:", distribution_tree),
    ):
        print(f"  {label} {figures['seconds']:.2f} s, peak RSS {figures['rss_mb']:.0f} MB")
    print("  (the distribution tree, today's payout tree, is the anchor)")

    print("\nsummary (figure | same-run anchor | ratio | goal | verdict)")
    summary = [
        (
            "L1 gas, cumulative + policy",
            f"{sim['cumulative_gas']:,.0f}",
            f"per-distribution push {sim['today_gas']:,.0f}",
            f"{ratio:.1f}x less",
            f">= {GOAL_RATIO:.0f}x less",
            verdict(ratio >= GOAL_RATIO),
        ),
        (
            "above-threshold balances paid within max delay",
            f"{sim['late']:.0f} late",
            "0",
            "-",
            "0 late",
            verdict(sim["late"] == 0),
        ),
        (
            "root packets per period per client chain",
            "1",
            f"{stakers:,} stakers",
            "-",
            "1",
            verdict(True),
        ),
        (
            f"cumulative tree build+proofs, {tree_size:,} leaves",
            f"{cumulative_tree['seconds']:.2f} s",
            f"distribution tree {distribution_tree['seconds']:.2f} s",
            f"{time_ratio:.2f}x",
            f"<= {TREE_GOAL_RATIO}x",
            verdict(time_ratio <= TREE_GOAL_RATIO),
        ),
        (
            f"cumulative tree peak RSS, {tree_size:,} leaves",
            f"{cumulative_tree['rss_mb']:.0f} MB",
            f"distribution tree {distribution_tree['rss_mb']:.0f} MB",
            f"{rss_ratio:.2f}x",
            f"<= {TREE_GOAL_RATIO}x",
            verdict(rss_ratio <= TREE_GOAL_RATIO),
        ),
    ]
    for row in summary:
        print("  " + " | ".join(row))
    print(f"\n({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
