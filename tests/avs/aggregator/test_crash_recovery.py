"""`exorelay aggregator` as a real process, SIGKILLed mid-collection and again mid-submission: the
restarted process has every acknowledged signature and the request reaches Exocore exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from relayer.exocore.proto.avs.v1 import types_pb2 as avs_types
from storage.aggregation import aggregation_signature_table, aggregation_submission_table
from storage.db import create_db_engine
from tests.support.aggregator_net import (
    OPEN_TOKEN,
    Net,
    free_port,
    running_net,
    sigkill,
    start_process,
    wait_healthy,
    write_process_config,
)
from tests.support.database import ops_database

OUTCOME_DEADLINE_S = 90.0
"""Hang guard for a submitted claim to be decided (blocks every 50 ms)."""


@pytest.fixture(scope="module")
def net() -> Iterator[Net]:
    with running_net(operators=4) as running:
        yield running


def document(port: int, digest: str) -> dict[str, Any]:
    response = httpx.get(f"http://127.0.0.1:{port}/v1/requests/{digest}", timeout=10)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def post(port: int, body: dict[str, str]) -> httpx.Response:
    return httpx.post(f"http://127.0.0.1:{port}/v1/signatures", json=body, timeout=30)


def wait_for_state(port: int, digest: str, states: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + OUTCOME_DEADLINE_S
    while True:
        current = document(port, digest)
        if current["state"] in states or time.monotonic() > deadline:
            return current
        time.sleep(0.05)


def test_sigkill_mid_collection_and_mid_submission_loses_nothing_and_submits_once(
    net: Net, tmp_path: Path
) -> None:
    with ops_database(tmp_path) as url:
        port = free_port()
        config = write_process_config(tmp_path, net, url, port)
        log = tmp_path / "aggregator.log"
        claim = net.claim(amount=10**20 + 7)
        digest = "0x" + claim.claim_id.hex()
        first = start_process(config, log)
        try:
            wait_healthy(first, port, log)
            answer = post(port, net.body(claim, 0))
            assert answer.status_code == 202, answer.text
        finally:
            sigkill(first)  # mid-collection: one signature acknowledged, below threshold

        second = start_process(config, log)
        try:
            wait_healthy(second, port, log)
            recovered = document(port, digest)
            assert recovered["state"] == "collecting"
            assert [(s["operator"], s["verdict"]) for s in recovered["signatures"]] == [
                (net.operator(0), "accepted")
            ]
            assert post(port, net.body(claim, 0)).json()["verdict"] == "duplicate"
            for index in range(1, len(net.committee.operators)):
                answer = post(port, net.body(claim, index))
                if answer.status_code != 202:
                    break  # already submitted: the request is closed for late signatures
            # Kill as soon as the submission intent is on disk (before or after its broadcast).
            wait_for_state(port, digest, {"submitted", "verified", "rejected"})
            # The AVS opens a slash request with `exorelay aggregator open` (its bearer token).
            slash = net.slash(member=2)
            opened = subprocess.run(
                [sys.executable, "-m", "relayer", "aggregator", "open", "--url", f"http://127.0.0.1:{port}",
                 "--request", "0x" + slash.canonical_bytes.hex(),
                 "--evidence", "0x" + net.slash_evidence(2).hex()],
                env={**os.environ, "EXORELAY_AGGREGATOR_TOKEN": OPEN_TOKEN},
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            assert opened.returncode == 0, opened.stderr
            assert json.loads(opened.stdout)["state"] == "collecting"
        finally:
            sigkill(second)

        third = start_process(config, log)
        try:
            wait_healthy(third, port, log)
            final = wait_for_state(port, digest, {"verified", "rejected", "expired"})
        finally:
            sigkill(third)
        assert final["state"] == "verified", (final["state_reason"], log.read_text()[-3000:])
        engine = create_db_engine(url)
        try:
            with engine.connect() as conn:
                submissions = conn.execute(
                    select(func.count()).select_from(aggregation_submission_table)
                ).scalar_one()
                accepted = conn.execute(
                    select(func.count())
                    .select_from(aggregation_signature_table)
                    .where(aggregation_signature_table.c.verdict == "accepted")
                ).scalar_one()
        finally:
            engine.dispose()
        assert submissions == 1
        assert accepted == int(final["submission"]["signers"])
        on_chain = net.grpc.reward_claim(claim.claim_id)
        assert on_chain is not None
        assert on_chain.status in (avs_types.CLAIM_STATUS_VERIFIED, avs_types.CLAIM_STATUS_DISTRIBUTED)
        assert on_chain.tx_hash.upper() == final["submission"]["tx_hash"]
