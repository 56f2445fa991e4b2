"""The relay pipeline against the real devnet and anvil: quorum edges, byzantine signatures, root
mismatch, valset rotation order, and the whole claim → payout path with every leaf paid once."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from web3 import Web3

from devnet.chain.params import GENESIS_VALSET_NONCE, devnet_validators
from devnet.scenario import validator_msg
from relayer.exocore.grpc_client import LeafRecord
from relayer.exocore.proto.devnet.v1 import tx_pb2 as tx
from relayer.l1.artifacts import ContractName, load_artifact
from relayer.pipeline.retry import RetryReason
from relayer.protocol import bls
from relayer.protocol.claims import PROPORTION_ONE
from relayer.protocol.merkle import DistributionLeaf
from relayer.protocol.types import Amount
from storage.job_tables import JobStage
from storage.models import claim_table, payout_table, slash_table
from tests.support.custody_invariant import assert_custody_matches
from tests.support.relayer_harness import (
    RelayerHarness,
    all_delivered_and_paid,
    gateway_contract,
    jobs,
    run_standard_scenario,
)


def set_knobs(h: RelayerHarness, **knobs: Any) -> None:
    h.client.send(tx.MsgSetFaultKnobs(knobs=tx.FaultKnobs(**knobs)))


def test_claims_and_a_slash_are_relayed_and_every_leaf_paid_exactly_once(harness: RelayerHarness) -> None:
    h = harness
    report = run_standard_scenario(h)
    committee = h.client.committee(report.avss[0])
    h.client.slash(committee, 0, PROPORTION_ONE // 20)
    h.client.advance(2)
    h.cycle_until(lambda: all_delivered_and_paid(h, packets=3), timeout_s=90)

    w3, gateway = gateway_contract(h)
    for row in jobs(h):
        assert gateway.functions.nonceUsed(row.packet_nonce).call()
    paid = gateway.events.RewardPaid.get_logs(from_block=0)
    per_leaf = Counter((log.args.distributionId, log.args.index) for log in paid)
    assert per_leaf and set(per_leaf.values()) == {1}
    with h.engine.begin() as conn:
        payouts = list(conn.execute(select(payout_table.c.state, payout_table.c.distribution_id)))
        claims = list(conn.execute(select(claim_table.c.state)))
    assert len(payouts) == len(per_leaf)
    assert {p.state for p in payouts} == {"finalized"}
    assert [c.state for c in claims] == ["paid", "paid"]
    executed = gateway.events.SlashExecuted.get_logs(from_block=0)
    assert len(executed) == 1
    # The slash moved on L1 exactly what Exocore took from stake the stakers deposited there.
    sides = assert_custody_matches(h.stack.manifest)
    assert all(l1 > 0 for l1, _ in sides.values())
    vault = w3.eth.contract(
        address=Web3.to_checksum_address(h.stack.manifest["l1"]["contracts"]["restaking_vault"]),
        abi=load_artifact(ContractName.RESTAKING_VAULT).abi,
    )
    assert vault.events.Slashed.get_logs(from_block=0)
    assert not vault.events.SlashShortfall.get_logs(from_block=0)
    with h.engine.begin() as conn:
        assert [row.state for row in conn.execute(select(slash_table.c.state))] == ["finalized"]


def test_one_validator_offline_still_relays(harness: RelayerHarness) -> None:
    h = harness
    powers = [v.power for v in devnet_validators(h.stack.seed, h.stack.validators)]
    assert len(set(powers)) == 1, "the stack's validators have equal power"
    set_knobs(h, silent_validators=[3])
    run_standard_scenario(h)
    h.cycle_until(lambda: len(jobs(h)) == 2 and all(r.stage == "delivered" for r in jobs(h)))
    assert all(r.signer_bitmap == "0x07" for r in jobs(h))  # validators 0, 1, 2


def test_more_than_a_third_offline_waits_and_says_why(harness: RelayerHarness) -> None:
    h = harness
    set_knobs(h, silent_validators=[2, 3])
    run_standard_scenario(h)
    h.cycle_until(
        lambda: (
            len(jobs(h)) == 2 and all(r.retry_reason == RetryReason.QUORUM_NOT_REACHED.value for r in jobs(h))
        )
    )
    for row in jobs(h):
        assert row.stage == JobStage.DISCOVERED.value
        assert "short of" in row.retry_detail
        assert row.tx_intent_id is None


def test_byzantine_signature_is_left_out_of_the_aggregate(harness: RelayerHarness) -> None:
    h = harness
    set_knobs(h, wrong_signature_validators=[1])
    run_standard_scenario(h)
    h.cycle_until(lambda: len(jobs(h)) == 2 and all(r.stage == "delivered" for r in jobs(h)))
    assert all(r.signer_bitmap == "0x0d" for r in jobs(h))  # 0, 2, 3: validator 1 left out


def test_root_mismatch_is_refused_and_recorded(harness: RelayerHarness) -> None:
    h = harness
    grpc = h.service.parts.grpc
    honest = grpc.distribution_leaves

    def lying_leaves(nonce: int, **kwargs: Any) -> Any:
        for record in honest(nonce, **kwargs):
            leaf = record.leaf
            if leaf.index == 0:
                leaf = DistributionLeaf(leaf.index, leaf.staker, Amount(leaf.amount + 1))
            yield LeafRecord(leaf, record.kind, record.operator)

    grpc.distribution_leaves = lying_leaves  # type: ignore[method-assign]
    run_standard_scenario(h)
    h.cycle_until(lambda: len(jobs(h)) == 2 and all(r.stage == "refused" for r in jobs(h)))
    for row in jobs(h):
        assert row.retry_reason == RetryReason.ROOT_MISMATCH.value
        assert "packet root" in row.retry_detail
    _w3, gateway = gateway_contract(h)
    assert not any(gateway.functions.nonceUsed(r.packet_nonce).call() for r in jobs(h))


def test_valset_rotation_is_relayed_before_packets_signed_by_the_new_set(harness: RelayerHarness) -> None:
    h = harness
    secret = bls.secret_key_from_seed(b"rotation-test-validator-key-material!!")
    h.client.send(validator_msg(b"\x42" * 32, secret, 100))
    h.client.advance(2)
    run_standard_scenario(h)
    h.cycle_until(lambda: len(jobs(h)) >= 3 and all(r.stage == "delivered" for r in jobs(h)), timeout_s=90)
    rows = jobs(h)
    assert rows[0].kind == 1
    assert all(r.valset_nonce == rows[0].valset_nonce + 1 for r in rows[1:])
    assert all(r.delivered_at >= rows[0].delivered_at for r in rows[1:])
    _w3, gateway = gateway_contract(h)
    assert gateway.functions.currentValsetNonce().call() == rows[0].valset_nonce + 1
    with h.engine.begin() as conn:
        assert conn.execute(select(slash_table)).first() is None


def test_an_older_packet_lands_after_the_rotation_that_followed_it(harness: RelayerHarness) -> None:
    """Regression: a VALSET_UPDATE used to wait (``earlier_packets_pending``) behind every packet its
    outgoing set signed, so one stuck packet held the rotation back. The gateway now accepts a retired
    set's packets inside its nonce range: the rotation goes first and the older packets still land."""
    h = harness
    grpc = h.service.parts.grpc
    honest = grpc.packet_signatures
    holding = True

    def withheld(nonce: int) -> Any:
        kinds = {int(r.packet_nonce): int(r.kind) for r in jobs(h)}
        if holding and kinds.get(nonce) != 1:
            return None  # validators late on everything but the rotation
        return honest(nonce)

    grpc.packet_signatures = withheld  # type: ignore[method-assign]
    run_standard_scenario(h)
    secret = bls.secret_key_from_seed(b"older-packet-test-validator-key-material")
    h.client.send(validator_msg(b"\x43" * 32, secret, 100))
    h.client.advance(2)
    h.cycle_until(lambda: any(r.kind == 1 and r.stage == "delivered" for r in jobs(h)), timeout_s=90)
    (rotation,) = [r for r in jobs(h) if r.kind == 1]
    older = [r for r in jobs(h) if r.packet_nonce < rotation.packet_nonce]
    assert older and all(r.stage != "delivered" for r in older)
    holding = False
    h.cycle_until(lambda: all(r.stage == "delivered" for r in jobs(h)), timeout_s=90)
    for row in jobs(h):
        if row.packet_nonce < rotation.packet_nonce:
            assert row.valset_nonce == rotation.valset_nonce and row.delivered_at >= rotation.delivered_at
    _w3, gateway = gateway_contract(h)
    assert gateway.functions.currentValsetNonce().call() == rotation.valset_nonce + 1


def test_rotation_to_a_key_without_proof_of_possession_is_refused(harness: RelayerHarness) -> None:
    """The relayer checks every key of a new set for its proof of possession before it delivers the
    VALSET_UPDATE (the gateway cannot): here Exocore serves the new member with another key's PoP."""
    h = harness
    grpc = h.service.parts.grpc
    honest = grpc.valset

    def unproven(valset_nonce: int) -> Any:
        served = honest(valset_nonce)
        if served is None or valset_nonce == GENESIS_VALSET_NONCE:
            return served
        first, *rest = served.members
        members = (first, *rest[:-1], replace(rest[-1], pop_signature=first.pop_signature))
        return replace(served, members=members)

    grpc.valset = unproven  # type: ignore[method-assign]
    secret = bls.secret_key_from_seed(b"unproven-key-test-validator-key-material")
    h.client.send(validator_msg(b"\x44" * 32, secret, 100))
    h.client.advance(2)
    h.cycle_until(lambda: any(r.kind == 1 and r.stage == "refused" for r in jobs(h)), timeout_s=90)
    (rotation,) = [r for r in jobs(h) if r.kind == 1]
    assert rotation.retry_reason == RetryReason.INVALID_KEY_PROOF.value
    assert "proof of possession does not verify" in rotation.retry_detail
    _w3, gateway = gateway_contract(h)
    assert not gateway.functions.nonceUsed(rotation.packet_nonce).call()


def test_a_cycle_after_l1_ingestion_overran_its_budget_leaves_ingestion_out(harness: RelayerHarness) -> None:
    service = harness.service
    service.ingest_budget_s = 0.0  # every ingestion overruns it
    stream = service.parts.l1_ingestor.stream

    def cursor_time() -> Any:
        cursor = service.parts.store.cursor(stream)
        return None if cursor is None else cursor.updated_at

    seen = []
    for _ in range(4):
        service.cycle()
        seen.append(cursor_time())
    # Ingested (the cursor moves), left out, ingested, left out.
    assert seen[0] is not None and seen[1] == seen[0] and seen[2] > seen[1] and seen[3] == seen[2]
    service.ingest_budget_s = 3600.0
    for _ in range(2):
        service.cycle()
        seen.append(cursor_time())
    assert seen[5] > seen[4] > seen[3]  # within budget, every cycle ingests
