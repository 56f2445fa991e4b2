"""Exocore's CheckTx refuses the aggregator's transaction: the request ends ``rejected`` with Exocore's
reason, recorded (request and submission rows), shown (API document, metrics), never re-broadcast;
and the refused transaction's sequence is not left consumed for the next submission.

Both refusals are real, by the devnet's ante chain, over a running devnet and a real database: a fee
below its minimum gas price (``insufficient fees``, code 13), and a slash request whose evidence is
within Exocore's limit (the aggregator refuses longer evidence when the request is opened) but whose
transaction's size alone costs more gas than the aggregator's configured gas limit (``out of gas``
in the ante's ``txSize`` step, code 11).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from avs.aggregator.api import create_app
from avs.aggregator.committee import GrpcCommitteeSource
from avs.aggregator.service import Aggregator, AggregatorSettings
from avs.aggregator.submitter import ExocoreSubmitter
from devnet import scenario as sc
from devnet.chain.params import devnet_account_secret
from relayer.exocore.cosmos_tx import CosmosTxSender
from relayer.protocol.claims import SigningRequest, SlashRequest
from relayer.protocol.evidence import MAX_EVIDENCE_BYTES, evidence_hash
from relayer.protocol.types import Address
from storage.aggregation import aggregation_submission_table
from tests.support.aggregator_net import (
    AGGREGATOR_ACCOUNT,
    CHAIN_HASH,
    Net,
    migrated,
    running_net,
)
from tests.support.devnet_world import CHAIN_ID, SEED

BODY_LIMIT = 64 * 1024
TOKEN = "avs-secret"
ERR_INSUFFICIENT_FEE = 13
ERR_OUT_OF_GAS = 11
ERR_WRONG_SEQUENCE = 32
FOLLOW_DEADLINE_S = 60.0
"""Hang guard for a submission's block (blocks every 50 ms)."""
SUBMISSION_GAS_LIMIT = 100_000
"""An aggregator configured with this gas limit (config minimum 50,000) lands a reward claim (a few
hundred bytes: a few thousand gas of size and signature in the ante, 50,000 for the message)..."""
LARGE_EVIDENCE_BYTES = 12_000
"""...but not a slash request carrying this much evidence: within ``MAX_EVIDENCE_BYTES``, yet the
ante charges 10 gas per transaction byte, over 120,000 before the message runs."""


@pytest.fixture(scope="module")
def net() -> Iterator[Net]:
    with running_net(operators=4) as running:
        yield running


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with migrated(tmp_path) as fresh:
        yield fresh


def aggregator_with(net: Net, engine: Engine, sender: CosmosTxSender) -> Aggregator:
    return Aggregator(
        engine,
        GrpcCommitteeSource(net.grpc),
        AggregatorSettings(chain_hash=CHAIN_HASH, grace_s=0.0, open_token=TOKEN),
        submitter=ExocoreSubmitter(sender, net.grpc),
    )


def run_until_closed(aggregator: Aggregator, digest: str) -> dict[str, Any]:
    deadline = time.monotonic() + FOLLOW_DEADLINE_S
    while True:
        aggregator.tick()
        document = aggregator.document(digest)
        if document["state"] not in ("collecting", "submitted") or time.monotonic() > deadline:
            return document
        time.sleep(0.02)


def sign_to_threshold(net: Net, client: TestClient, request: SigningRequest) -> None:
    for index in range(len(net.committee.operators)):
        answer = client.post("/v1/signatures", json=net.body(request, index)).json()
        assert answer["verdict"] == "accepted", answer
        if int(answer["signed_power"]) >= int(answer["threshold_power"]):
            return
    raise AssertionError("the whole committee does not reach the threshold")


def metric(client: TestClient, sample: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return 0.0


def checktx_refusals(client: TestClient, code: int) -> float:
    return metric(client, f'exorelay_aggregator_checktx_refusals_total{{code="{code}"}}')


def submissions(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(aggregation_submission_table)).scalar_one())


def assert_refused_at_checktx(net: Net, client: TestClient, document: dict[str, Any], code: int) -> None:
    assert document["state"] == "rejected", document
    reason = document["state_reason"]
    assert reason.startswith(f"refused by Exocore's CheckTx (code {code}): "), reason
    submission = document["submission"]
    assert submission["state"] == "failed"
    assert submission["tx_code"] == code
    assert submission["detail"] == reason
    assert submission["height"] is None and submission["broadcast_at"] is None
    # Never in a block: CheckTx refused it.
    assert net.sender.get_tx(submission["tx_hash"]) is None
    # The API shows the same document.
    shown = client.get(f"/v1/requests/{document['digest']}").json()
    assert (shown["state"], shown["state_reason"]) == ("rejected", reason)
    assert shown["submission"]["tx_code"] == code


def test_a_fee_below_exocores_minimum_ends_the_request_rejected_with_exocores_reason(
    net: Net, engine: Engine
) -> None:
    sender = CosmosTxSender(
        net.target, CHAIN_ID, devnet_account_secret(SEED, AGGREGATOR_ACCOUNT), gas_price_hua=0
    )
    try:
        aggregator = aggregator_with(net, engine, sender)
        client = TestClient(create_app(aggregator, max_body_bytes=BODY_LIMIT))
        claim = net.claim(amount=10**20 + 301)
        sign_to_threshold(net, client, claim)
        digest = "0x" + claim.claim_id.hex()
        document = run_until_closed(aggregator, digest)
        assert_refused_at_checktx(net, client, document, ERR_INSUFFICIENT_FEE)
        assert "insufficient fees" in document["state_reason"]
        assert net.grpc.reward_claim(claim.claim_id) is None  # Exocore never saw the claim
        assert metric(client, 'exorelay_aggregator_submissions_total{outcome="refused"}') == 1.0
        assert metric(client, 'exorelay_aggregator_requests_total{state="rejected"}') == 1.0
        assert checktx_refusals(client, ERR_INSUFFICIENT_FEE) == 1.0
        # Closed: later posts are refused, later ticks broadcast nothing more.
        late = client.post("/v1/signatures", json=net.body(claim, len(net.committee.operators) - 1))
        assert late.status_code == 410 and late.json()["error"]["code"] == "request_closed"
        aggregator.tick()
        assert submissions(engine) == 1
        assert checktx_refusals(client, ERR_INSUFFICIENT_FEE) == 1.0
    finally:
        sender.close()


def test_a_message_exocore_refuses_is_rejected_and_the_next_submission_keeps_its_sequence(
    net: Net, engine: Engine
) -> None:
    """A slash request whose transaction's size costs more gas than the aggregator's gas limit is
    refused at CheckTx (out of gas). The refused transaction consumed no sequence on chain, so the
    aggregator's next transaction (a reward claim) must be signed at that same sequence and land at
    once, not be refused first as ``wrong sequence`` and signed again."""
    assert LARGE_EVIDENCE_BYTES <= MAX_EVIDENCE_BYTES  # the aggregator and ValidateBasic accept it
    sender = CosmosTxSender(
        net.target, CHAIN_ID, devnet_account_secret(SEED, AGGREGATOR_ACCOUNT), gas_limit=SUBMISSION_GAS_LIMIT
    )
    try:
        aggregator = aggregator_with(net, engine, sender)
        client = TestClient(create_app(aggregator, max_body_bytes=BODY_LIMIT))
        evidence = b"\x01" * LARGE_EVIDENCE_BYTES
        target = sc.operator_account(SEED, 3)
        slash = SlashRequest(
            CHAIN_HASH,
            Address(bytes.fromhex(net.avs[2:])),
            net.epoch,
            target.address,
            10**16,
            True,
            evidence_hash(evidence),
        )
        opened = client.post(
            "/v1/requests",
            json={"request": "0x" + slash.canonical_bytes.hex(), "evidence": "0x" + evidence.hex()},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert opened.status_code == 201, opened.json()
        sign_to_threshold(net, client, slash)
        refused = run_until_closed(aggregator, "0x" + slash.slash_id.hex())
        assert_refused_at_checktx(net, client, refused, ERR_OUT_OF_GAS)
        assert "out of gas in location: txSize" in refused["state_reason"]
        assert checktx_refusals(client, ERR_OUT_OF_GAS) == 1.0
        assert net.grpc.slash(slash.slash_id) is None

        claim = net.claim(amount=10**20 + 302)
        sign_to_threshold(net, client, claim)
        landed = run_until_closed(aggregator, "0x" + claim.claim_id.hex())
        assert landed["state"] == "verified", landed["state_reason"]
        assert landed["submission"]["sequence"] == refused["submission"]["sequence"]
        assert checktx_refusals(client, ERR_WRONG_SEQUENCE) == 0.0
        assert metric(client, 'exorelay_aggregator_submissions_total{outcome="refused"}') == 1.0
        assert metric(client, 'exorelay_aggregator_submissions_total{outcome="verified"}') == 1.0
    finally:
        sender.close()
