"""Gas of the L1 contracts on anvil: packet verification, valset rotation, payouts, claims.

Run: ``.venv/bin/python bench/l1_gas.py`` (starts its own anvil; ~1 minute). Prints one table per
operation with its targets and reference points:

- a 100-validator packet verified for <= 250k gas (re-sending every key in calldata ≈ 480k;
  Celestia Blobstream's ECDSA 30-of-100 check ≈ 329k);
- payout <= 35k gas per leaf at batch 100 (mint to fresh addresses);
- custody: a SLASH of an operator with 1,000 stakers next to one with a single staker (the packet
  moves an amount per token; per-staker bookkeeping is Exocore's, so the ratio must stay ~1), and a
  WITHDRAWAL_APPROVAL batch per leaf next to the reward VAULT payout per leaf of the same run.

Where the previous gateway's figure is known (measured by this script before the gateway kept every
valset's range, skipped paid leaves in a batch and checked key subgroups with one G1MSM; recorded in
contracts/README.md) it is printed next to today's as "before". The install-time subgroup check is
also measured both ways (one MSM over all keys vs. G1ADD aggregation plus a one-point MSM per key)
from the precompiles' own cost.

"verify" is a transaction calling ``verifyAttestation(digest, att)`` (21k intrinsic + calldata +
the check), so it isolates what a packet pays for being authenticated; "exec" subtracts the
intrinsic and calldata cost. Packet rows are full transactions of the entry point.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.types import TxParams, Wei

from devnet.anvil import AnvilConfig, AnvilNode
from devnet.chain.model import Asset, Operator
from devnet.chain.slashing import slash_stake, snapshot_pools
from devnet.l1_deploy import GenesisValset, L1Deployment, contract_at, deploy_l1
from relayer.l1.artifacts import ContractName
from relayer.protocol.bls import CURVE_ORDER, SecretKey, pop_prove, sign
from relayer.protocol.ids import asset_id
from relayer.protocol.merkle import DistributionLeaf, DistributionTree
from relayer.protocol.packets import (
    FundingMode,
    Packet,
    Payload,
    RewardDistributionPayload,
    SlashPayload,
    ValsetUpdatePayload,
    WithdrawalApprovalPayload,
)
from relayer.protocol.quorum import SignerBitmap
from relayer.protocol.types import Address, Amount, Hash32, Power, as_address

EXOCORE_CHAIN: Final = Hash32(keccak(b"exocorebench_1"))
VALSET_SIZES: Final = (4, 50, 100)
BATCH_SIZES: Final = (1, 10, 100, 500)
TREE_LEAVES: Final = 1000
"""Leaves of the benchmark distribution: batches are cut from a realistic tree, not a tailored one."""
BLOCK_GAS_LIMIT: Final = 60_000_000
"""Room for the 500-leaf batches (anvil's default 30M block would be the binding limit, not gas/leaf)."""
VERIFY_TARGET_GAS: Final = 250_000
RESEND_KEYS_BASELINE_GAS: Final = 480_000
BLOBSTREAM_BASELINE_GAS: Final = 329_000
PAYOUT_TARGET_GAS_PER_LEAF: Final = 35_000
INTRINSIC_GAS: Final = 21_000
BEFORE_PACKET_GAS: Final = {
    (100, "100%"): (193_583, 297_978, 3_267_327),
    (100, "67%+"): (223_343, 327_750, 3_297_123),
}
"""(verify tx, submitDistribution, updateValset) of the previous gateway at 100 validators, Prague."""
BEFORE_PAYOUT_GAS_PER_LEAF: Final = {("MINT", 100): 31_135, ("VAULT", 100): 31_763}
"""Per-leaf gas of the previous gateway's payout at batch 100 (fresh recipients), Prague."""
CUSTODY_STAKERS: Final = (1, 1_000)
"""Stakers of the slashed operator on Exocore's ledger (the L1 slash must not grow with them)."""
CUSTODY_SLASH_PROPORTION: Final = 5 * 10**16
"""5 %, the devnet AVSs' default slash proportion (18 decimals)."""
CUSTODY_BATCH: Final = 100
LZ_CHAIN_ID: Final = 31337
G1MSM: Final = "0x000000000000000000000000000000000000000c"
G1ADD_GAS: Final = 375
"""EIP-2537's fixed G1ADD price. Not measurable as a lone transaction: 256 bytes of calldata put it
under the EIP-7623 calldata floor, which hides the 375."""
CALLDATA_FLOOR_GAS_PER_TOKEN: Final = 10
"""EIP-7623 (Prague): a transaction pays at least 21k + 10 per calldata token (zero byte 1, other 4)."""


@dataclass(frozen=True)
class Signers:
    secrets: tuple[SecretKey, ...]
    powers: tuple[int, ...]
    nonce: int

    @classmethod
    def generate(cls, size: int, nonce: int, seed: int) -> Signers:
        rng = random.Random(seed)
        return cls(
            tuple(SecretKey.from_int(rng.randrange(1, CURVE_ORDER)) for _ in range(size)),
            (100,) * size,
            nonce,
        )

    def pubkeys(self) -> tuple[bytes, ...]:
        return tuple(secret.public_key().to_eip2537() for secret in self.secrets)

    def pops(self) -> tuple[bytes, ...]:
        return tuple(pop_prove(secret).compressed for secret in self.secrets)

    def minimal_quorum(self) -> list[int]:
        # Equal powers: the fewest signers strictly above two thirds.
        return list(range(len(self.secrets) * 2 // 3 + 1))

    def attest(self, digest: bytes, signers: Sequence[int]) -> tuple[bytes, bytes]:
        bitmap = SignerBitmap.from_indices(signers, len(self.secrets)).encode()
        scalar = sum(self.secrets[i].to_int() for i in signers) % CURVE_ORDER
        return bitmap, sign(SecretKey.from_int(scalar), digest).to_eip2537()


class Bench:
    def __init__(self, node: AnvilNode) -> None:
        self.node = node
        self.w3 = Web3(Web3.HTTPProvider(node.rpc_url, request_kwargs={"timeout": 120}))
        accounts = node.dev_accounts()
        self.key = accounts[0].private_key
        self.sender = to_checksum_address(accounts[0].address)
        self.avs = to_checksum_address(accounts[1].address)

    def deploy(self, signers: Signers) -> tuple[L1Deployment, Contract]:

        genesis = GenesisValset(
            nonce=signers.nonce, pubkeys=signers.pubkeys(), powers=signers.powers, pops=signers.pops()
        )
        deployment = deploy_l1(self.w3, self.key, genesis, EXOCORE_CHAIN)
        return deployment, contract_at(self.w3, ContractName.EXOCORE_GATEWAY, deployment.gateway)

    def gas(self, call: ContractFunction, value: int = 0) -> int:
        params: TxParams = {"from": self.sender, "value": Wei(value), "gas": BLOCK_GAS_LIMIT - 1}
        receipt = self.w3.eth.wait_for_transaction_receipt(call.transact(params))
        if receipt["status"] != 1:
            raise RuntimeError(f"benchmark transaction reverted: {receipt['transactionHash'].hex()}")
        return int(receipt["gasUsed"])

    def packet(self, deployment: L1Deployment, signers: Signers, nonce: int, payload: Payload) -> Packet:
        return Packet(
            exocore_chain=EXOCORE_CHAIN,
            l1_chain_id=deployment.chain_id,
            gateway=as_address(deployment.gateway),
            valset_nonce=signers.nonce,
            nonce=nonce,
            payload=payload,
        )


def calldata_gas(call: ContractFunction) -> int:
    data = bytes.fromhex(call._encode_transaction_data()[2:])
    return sum(16 if byte else 4 for byte in data)


def distribution_payload(
    tree: DistributionTree, token: str, funding: FundingMode, avs: str
) -> RewardDistributionPayload:
    return RewardDistributionPayload(
        claim_id=Hash32(keccak(tree.root)),
        avs=as_address(avs),
        epoch=1,
        token=as_address(token),
        funding=funding,
        total=tree.total,
        leaf_count=len(tree),
        merkle_root=tree.root,
    )


def fresh_tree(count: int, seed: int) -> DistributionTree:
    rng = random.Random(seed)
    return DistributionTree.build(
        DistributionLeaf(
            index=i, staker=as_address(rng.randbytes(20)), amount=Amount(rng.randrange(10**15, 10**18))
        )
        for i in range(count)
    )


def table(title: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    rendered = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rendered)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rendered:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))


def bench_packets(bench: Bench) -> None:
    rows: list[tuple[object, ...]] = []
    for size in VALSET_SIZES:
        signers = Signers.generate(size, nonce=1, seed=size)
        deployment, gateway = bench.deploy(signers)
        tree = fresh_tree(16, seed=size)
        next_nonce = 10
        for label, chosen in (("100%", list(range(size))), ("67%+", signers.minimal_quorum())):
            # Isolated verification.
            digest = keccak(label.encode() + bytes([size]))
            verify = gateway.functions.verifyAttestation(digest, signers.attest(digest, chosen))
            verify_gas = bench.gas(verify)
            verify_exec = verify_gas - INTRINSIC_GAS - calldata_gas(verify)
            # A distribution packet (second one into the same nonce word: steady-state storage cost).
            gas_dist = []
            for nonce in (next_nonce, next_nonce + 1):
                payload = distribution_payload(tree, deployment.reward_token, FundingMode.MINT, bench.avs)
                packet = bench.packet(deployment, signers, nonce, payload)
                call = gateway.functions.submitDistribution(
                    packet.valset_nonce,
                    packet.nonce,
                    packet.payload_bytes,
                    signers.attest(packet.digest, chosen),
                )
                gas_dist.append(bench.gas(call))
            next_nonce += 2
            # A valset update to a new set of the same size, rolled back afterwards.
            snapshot = bench.node.snapshot()
            successor = Signers.generate(size, nonce=2, seed=size + 1000)
            update = ValsetUpdatePayload(
                new_valset_nonce=2,
                pubkeys=successor.pubkeys(),
                powers=tuple(Power(p) for p in successor.powers),
            )
            packet = bench.packet(deployment, signers, 20, update)
            call = gateway.functions.updateValset(
                packet.valset_nonce, packet.nonce, packet.payload_bytes, signers.attest(packet.digest, chosen)
            )
            gas_update = bench.gas(call)
            bench.node.revert(snapshot)
            before = BEFORE_PACKET_GAS.get((size, label))
            rows.append(
                (
                    size,
                    f"{label} ({len(chosen)})",
                    f"{verify_gas:,}" + (f" (before {before[0]:,})" if before else ""),
                    f"{verify_exec:,}",
                    f"{VERIFY_TARGET_GAS / verify_gas:.2f}x",
                    f"{RESEND_KEYS_BASELINE_GAS / verify_gas:.2f}x",
                    f"{BLOBSTREAM_BASELINE_GAS / verify_gas:.2f}x",
                    f"{gas_dist[1]:,}" + (f" (before {before[1]:,})" if before else ""),
                    f"{gas_update:,}" + (f" (before {before[2]:,})" if before else ""),
                )
            )
    table(
        "Packets (gas). verify = tx calling verifyAttestation; target <= 250k at 100 validators",
        (
            "validators",
            "signers",
            "verify tx",
            "verify exec",
            "target/verify",
            "480k-resend/verify",
            "blobstream/verify",
            "submitDistribution",
            "updateValset",
        ),
        rows,
    )


@dataclass(frozen=True)
class PaidBatches:
    """One fresh distribution and the batches of ``BATCH_SIZES`` paid from it, in tree order."""

    distribution_id: bytes
    tree: DistributionTree
    by_position: list[int]
    """Leaf indices in tree order (the relayer's batching order)."""
    cursor: int
    """Leaves of ``by_position`` paid so far."""
    distribution_gas: int
    """Gas of the ``submitDistribution`` transaction."""
    gas: dict[int, tuple[int, int]]
    """batch size -> (proof nodes, tx gas)."""


def pay_batches(
    bench: Bench,
    deployment: L1Deployment,
    gateway: Contract,
    signers: Signers,
    funding: FundingMode,
    nonce: int,
) -> PaidBatches:
    """A fresh ``TREE_LEAVES``-leaf distribution (fresh recipients) submitted and paid in batches of
    ``BATCH_SIZES`` one after the other, each batch the next tree-adjacent leaves."""
    tree = fresh_tree(TREE_LEAVES, seed=int(funding))
    token = deployment.reward_token if funding is FundingMode.MINT else deployment.weth
    if funding is FundingMode.VAULT:
        vault = contract_at(bench.w3, ContractName.REWARD_VAULT, deployment.reward_vault)
        bench.gas(vault.functions.depositETH(bench.avs), value=tree.total)
    packet = bench.packet(deployment, signers, nonce, distribution_payload(tree, token, funding, bench.avs))
    distribution_gas = bench.gas(
        gateway.functions.submitDistribution(
            packet.valset_nonce, packet.nonce, packet.payload_bytes, signers.attest(packet.digest, range(4))
        )
    )
    dist = packet.distribution_id
    # Leaves in tree order: a relayer batches neighbours, which keeps multiproofs short.
    by_position = sorted(range(TREE_LEAVES), key=tree.tree_position, reverse=True)
    cursor = 0
    gas: dict[int, tuple[int, int]] = {}
    for batch in BATCH_SIZES:
        chosen = by_position[cursor : cursor + batch]
        cursor += batch
        multi = tree.multiproof(chosen)
        leaves = [(leaf.index, to_checksum_address(leaf.staker), leaf.amount) for leaf in multi.leaves]
        call = gateway.functions.payout(dist, leaves, list(multi.proof), list(multi.proof_flags))
        gas[batch] = (len(multi.proof), bench.gas(call))
    return PaidBatches(dist, tree, by_position, cursor, distribution_gas, gas)


def batch_payout_gas_per_leaf(funding: FundingMode, batch: int) -> int:
    """The payout table's per-leaf figure at ``batch`` (fresh recipients, Prague), measured exactly as
    :func:`bench_payouts` does on an anvil of its own: the anchor other benchmarks compare with."""
    config = AnvilConfig(hardfork="prague", block_gas_limit=BLOCK_GAS_LIMIT, accounts=3)
    with AnvilNode(config) as node:
        bench = Bench(node)
        signers = Signers.generate(4, nonce=1, seed=7)
        deployment, gateway = bench.deploy(signers)
        paid = pay_batches(bench, deployment, gateway, signers, funding, nonce=100)
    return paid.gas[batch][1] // batch


def bench_payouts(bench: Bench) -> None:
    signers = Signers.generate(4, nonce=1, seed=7)
    deployment, gateway = bench.deploy(signers)
    nonce = 100
    rows: list[tuple[object, ...]] = []
    for funding in (FundingMode.MINT, FundingMode.VAULT):
        paid = pay_batches(bench, deployment, gateway, signers, funding, nonce)
        nonce += 1
        dist, tree, by_position, cursor = paid.distribution_id, paid.tree, paid.by_position, paid.cursor
        for batch in BATCH_SIZES:
            proof_nodes, used = paid.gas[batch]
            before = BEFORE_PAYOUT_GAS_PER_LEAF.get((funding.name, batch))
            rows.append(
                (
                    funding.name,
                    batch,
                    proof_nodes,
                    f"{used:,}",
                    f"{used // batch:,}" + (f" (before {before:,})" if before else ""),
                    f"{(used - INTRINSIC_GAS) // batch:,}",
                )
            )
        # A batch of 100 one of whose leaves a stranger claimed first: 99 paid, one skipped.
        chosen = by_position[cursor : cursor + 100]
        cursor += 100
        claimed = tree.leaf(chosen[37])
        bench.gas(
            gateway.functions.claim(
                dist,
                (claimed.index, to_checksum_address(claimed.staker), claimed.amount),
                list(tree.proof(claimed.index)),
            )
        )
        multi = tree.multiproof(chosen)
        leaves = [(leaf.index, to_checksum_address(leaf.staker), leaf.amount) for leaf in multi.leaves]
        used = bench.gas(gateway.functions.payout(dist, leaves, list(multi.proof), list(multi.proof_flags)))
        rows.append(
            (
                funding.name,
                "100, 1 claimed first",
                len(multi.proof),
                f"{used:,}",
                f"{used // 99:,} per paid leaf",
                f"{(used - INTRINSIC_GAS) // 99:,}",
            )
        )
        index = by_position[cursor]
        leaf = tree.leaf(index)
        call = gateway.functions.claim(
            dist, (leaf.index, to_checksum_address(leaf.staker), leaf.amount), list(tree.proof(index))
        )
        used = bench.gas(call)
        rows.append(
            (
                funding.name,
                "claim",
                len(tree.proof(index)),
                f"{used:,}",
                f"{used:,}",
                f"{used - INTRINSIC_GAS:,}",
            )
        )
    table(
        f"Payouts to fresh addresses (gas), distribution of {TREE_LEAVES} leaves; "
        "target <= 35k/leaf at batch 100 MINT",
        ("funding", "batch", "proof nodes", "tx gas", "per leaf", "per leaf w/o 21k"),
        rows,
    )


def precompile_gas(bench: Bench, address: str, data: bytes) -> int:
    """Execution gas of one precompile call (estimate minus intrinsic and calldata gas)."""
    params: TxParams = {"from": bench.sender, "to": to_checksum_address(address), "data": data}
    estimate = int(bench.w3.eth.estimate_gas(params))
    floor = INTRINSIC_GAS + CALLDATA_FLOOR_GAS_PER_TOKEN * sum(4 if byte else 1 for byte in data)
    if estimate <= floor:
        raise RuntimeError(f"{address}: the estimate is the EIP-7623 calldata floor, not the call's cost")
    return estimate - INTRINSIC_GAS - sum(16 if byte else 4 for byte in data)


def bench_subgroup_check(bench: Bench) -> None:
    """The install-time key check both ways, from the precompiles' own cost."""
    rows: list[tuple[object, ...]] = []
    one = (1).to_bytes(32, "big")
    for size in VALSET_SIZES:
        keys = Signers.generate(size, nonce=1, seed=size).pubkeys()
        msm_all = precompile_gas(bench, G1MSM, b"".join(key + one for key in keys))
        msm_each = sum(precompile_gas(bench, G1MSM, key + one) for key in keys)
        adds = G1ADD_GAS * size
        rows.append(
            (
                size,
                f"{msm_all:,}",
                f"{adds + msm_each:,}",
                f"{adds:,}",
                f"{msm_all - adds:,}",
            )
        )
    table(
        "Valset install: aggregate key + subgroup check (precompile gas; G1ADD at its fixed 375)."
        " chosen: one G1MSM over all keys",
        (
            "validators",
            "one MSM (all keys, scalar 1)",
            "G1ADD each + 1-point MSM each",
            "G1ADD each (before: no subgroup check)",
            "added by the check (chosen)",
        ),
        rows,
    )


def exocore_slash(deployment: L1Deployment, stakers: int, seed: int) -> SlashPayload:
    """The SLASH payload Exocore's ledger (the devnet's :func:`slash_stake`) computes for an operator
    with ``stakers`` delegators in WETH and the reward token."""
    rng = random.Random(seed)
    tokens = (as_address(deployment.weth), as_address(deployment.reward_token))
    assets = {
        asset_id(t, LZ_CHAIN_ID): Asset(asset_id(t, LZ_CHAIN_ID), t, LZ_CHAIN_ID, 18, 10**8) for t in tokens
    }
    operator_address = Address(rng.randbytes(20))
    operator = Operator("exo1bench", operator_address, operator_address, 0, 1)
    for asset in assets:
        operator.pools[asset] = {
            Address(rng.randbytes(20)): rng.randrange(10**17, 10**19) for _ in range(stakers)
        }
    # The offence epoch's stake is today's: nothing changed since the snapshot.
    outcome = slash_stake(
        operator,
        list(assets),
        assets,
        CUSTODY_SLASH_PROPORTION,
        [],
        snapshot=snapshot_pools(operator),
        offence_start_height=0,
    )
    slashed_tokens, amounts = outcome.token_amounts()
    return SlashPayload(
        slash_id=Hash32(keccak(seed.to_bytes(8, "big"))),
        operator=operator_address,
        avs=as_address(rng.randbytes(20)),
        tokens=slashed_tokens,
        amounts=tuple(Amount(a) for a in amounts),
        freeze=True,
    )


def fund_custody(bench: Bench, deployment: L1Deployment, weth_wei: int, reward_units: int) -> None:
    """Put principal in the RestakingVault (one delegation per token: L1 keeps no per-staker record)."""
    vault = contract_at(bench.w3, ContractName.RESTAKING_VAULT, deployment.restaking_vault)
    weth = contract_at(bench.w3, ContractName.WRAPPED_ETHER, deployment.weth)
    token = contract_at(bench.w3, ContractName.REWARD_TOKEN, deployment.reward_token)
    bench.gas(token.functions.grantRole(keccak(b"MINTER_ROLE"), bench.sender))
    bench.gas(token.functions.mint(bench.sender, reward_units))
    bench.gas(weth.functions.deposit(), value=weth_wei)
    for contract, amount in ((weth, weth_wei), (token, reward_units)):
        bench.gas(contract.functions.approve(deployment.restaking_vault, amount))
        bench.gas(vault.functions.delegate(bench.avs, contract.address, amount))


def bench_custody(bench: Bench) -> None:
    signers = Signers.generate(4, nonce=1, seed=7)
    deployment, gateway = bench.deploy(signers)
    vault = contract_at(bench.w3, ContractName.RESTAKING_VAULT, deployment.restaking_vault)
    tree = fresh_tree(TREE_LEAVES, seed=11)
    # A first slash warms what every later one finds non-zero (the sink's balances), so neither
    # measured slash pays a one-off cold write the other does not.
    warm_up = exocore_slash(deployment, 1, seed=0)
    slashes = {n: exocore_slash(deployment, n, seed=n) for n in CUSTODY_STAKERS}
    fund_custody(
        bench,
        deployment,
        tree.total + sum(p.amounts[0] for p in (warm_up, *slashes.values())),
        sum(p.amounts[1] for p in (warm_up, *slashes.values())),
    )
    nonce = 200
    slash_gas: dict[int, int] = {}
    for stakers, payload in ((0, warm_up), *slashes.items()):
        packet = bench.packet(deployment, signers, nonce, payload)
        nonce += 1
        att = signers.attest(packet.digest, range(4))
        slash_gas[stakers] = bench.gas(
            gateway.functions.executeSlash(packet.valset_nonce, packet.nonce, packet.payload_bytes, att)
        )
    approval = WithdrawalApprovalPayload(
        epoch=1,
        token=as_address(deployment.weth),
        total=tree.total,
        leaf_count=len(tree),
        merkle_root=tree.root,
    )
    packet = bench.packet(deployment, signers, nonce, approval)
    nonce += 1
    att = signers.attest(packet.digest, range(4))
    approval_packet_gas = bench.gas(
        gateway.functions.submitWithdrawalApproval(
            packet.valset_nonce, packet.nonce, packet.payload_bytes, att
        )
    )
    by_position = sorted(range(len(tree)), key=tree.tree_position, reverse=True)
    multi = tree.multiproof(by_position[:CUSTODY_BATCH])
    leaves = [(leaf.index, to_checksum_address(leaf.staker), leaf.amount) for leaf in multi.leaves]
    approval_batch_gas = bench.gas(
        vault.functions.payout(packet.distribution_id, leaves, list(multi.proof), list(multi.proof_flags))
    )
    # Same-run anchor: a reward VAULT distribution of the same size paid in the same batch sizes.
    paid = pay_batches(bench, deployment, gateway, signers, FundingMode.VAULT, nonce)
    reward_per_leaf = paid.gas[CUSTODY_BATCH][1] // CUSTODY_BATCH
    approval_per_leaf = approval_batch_gas // CUSTODY_BATCH
    one, many = slash_gas[CUSTODY_STAKERS[0]], slash_gas[CUSTODY_STAKERS[-1]]
    table(
        "Custody (gas): SLASH with 2 tokens; WITHDRAWAL_APPROVAL of "
        f"{TREE_LEAVES} leaves paid in a batch of {CUSTODY_BATCH} (fresh recipients)",
        ("figure", "gas", "same-run anchor", "anchor gas", "ratio", "goal"),
        [
            (
                f"executeSlash, {CUSTODY_STAKERS[-1]:,} stakers",
                f"{many:,}",
                f"executeSlash, {CUSTODY_STAKERS[0]} staker",
                f"{one:,}",
                f"{many / one:.3f}",
                "~1 (not O(stakers))",
            ),
            (
                "submitWithdrawalApproval",
                f"{approval_packet_gas:,}",
                "submitDistribution (VAULT)",
                f"{paid.distribution_gas:,}",
                f"{approval_packet_gas / paid.distribution_gas:.3f}",
                "~1",
            ),
            (
                f"approval payout per leaf, batch {CUSTODY_BATCH}",
                f"{approval_per_leaf:,}",
                f"reward VAULT payout per leaf, batch {CUSTODY_BATCH}",
                f"{reward_per_leaf:,}",
                f"{approval_per_leaf / reward_per_leaf:.3f}",
                "<= 1.1",
            ),
        ],
    )


def main() -> None:
    started = time.monotonic()
    for hardfork in ("prague", "osaka"):
        print(f"\n=== anvil --hardfork {hardfork}")
        config = AnvilConfig(hardfork=hardfork, block_gas_limit=BLOCK_GAS_LIMIT, accounts=3)
        with AnvilNode(config) as node:
            bench = Bench(node)
            bench_packets(bench)
            if hardfork == "prague":
                bench_subgroup_check(bench)
                bench_payouts(bench)
                bench_custody(bench)
    print(f"\n({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
