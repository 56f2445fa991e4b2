"""The AVS side as processes: a real `exorelay aggregator` process and real `exorelay operator`
processes (one per committee member, each with its own keystore and protection database) against a
devnet node served over gRPC, blocks every 50 ms.

Each test starts its own aggregator (own database) and the operators it needs: members that are not
started are offline. Covered: an offline majority lets a request expire with its reason; a
conflicting signature from a member's key is refused and kept as evidence, which the query API
shows, while the claim crosses the threshold and is verified on the devnet; a flood of garbage posts
is refused and a real operator's signature is still accepted afterwards."""

from __future__ import annotations

import random
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from fastapi.testclient import TestClient

from indexer.api.app import create_app
from relayer.exocore.proto.avs.v1 import types_pb2 as avs_types
from relayer.protocol import bls
from relayer.protocol.claims import RewardClaim
from relayer.protocol.types import Amount
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
from tests.support.avs_processes import start_operator, stop, write_operator_config
from tests.support.database import ops_database

pytestmark = pytest.mark.e2e

STATE_DEADLINE_S: Final = 120.0
"""Hang guard for a request to reach a state (operators start cold; blocks every 50 ms)."""
SHORT_TTL_S: Final = 15.0
"""Requests of the expiry test live this long, counted from the open, which comes after the
operators report running: room for a warm operator's poll and signature on a loaded machine."""
FLOOD_POSTS: Final = 300
FLOOD_THREADS: Final = 8
REFUSED: Final = frozenset({400, 401, 403, 404, 409, 410, 413, 422, 429})


@pytest.fixture(scope="module")
def net() -> Iterator[Net]:
    with running_net(operators=4) as running:
        yield running


class Side:
    """One test's aggregator process and operator processes."""

    def __init__(self, net: Net, directory: Path, database_url: str, **aggregator: Any) -> None:
        self.net, self.directory, self.database_url = net, directory, database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = write_process_config(directory, net, database_url, self.port, **aggregator)
        self.log = directory / "aggregator.log"
        self.aggregator = start_process(config, self.log)
        self.operators: list[subprocess.Popen[bytes]] = []
        wait_healthy(self.aggregator, self.port, self.log)

    def start_operators(self, *indices: int) -> None:
        for index in indices:
            config = write_operator_config(self.directory, self.net, index, self.url)
            self.operators.append(start_operator(config, self.directory / f"operator-{index}.log"))

    def wait_operators_running(self) -> None:
        """Until every started operator logged its start (imports, keys and gRPC set up): a request
        opened after this is not racing the operators' cold start."""
        deadline = time.monotonic() + STATE_DEADLINE_S
        logs = sorted(self.directory.glob("operator-*.log"))
        while not all("operator running" in log.read_text() for log in logs):
            for process in self.operators:
                assert process.poll() is None, self.logs()
            assert time.monotonic() < deadline, self.logs()
            time.sleep(0.1)

    def stop(self) -> None:
        for process in self.operators:
            stop(process)
        sigkill(self.aggregator)

    def open(self, request: RewardClaim) -> str:
        answer = httpx.post(
            f"{self.url}/v1/requests",
            json={"request": "0x" + request.canonical_bytes.hex(), "evidence": None},
            headers={"Authorization": f"Bearer {OPEN_TOKEN}"},
            timeout=30,
        )
        assert answer.status_code in (200, 201), answer.text
        return str(answer.json()["digest"])

    def document(self, digest: str) -> dict[str, Any]:
        answer = httpx.get(f"{self.url}/v1/requests/{digest}", timeout=30)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def wait(self, digest: str, done: Any) -> dict[str, Any]:
        deadline = time.monotonic() + STATE_DEADLINE_S
        while True:
            document = self.document(digest)
            if done(document) or time.monotonic() > deadline:
                return document
            for process in self.operators:
                assert process.poll() is None, self.logs()
            time.sleep(0.1)

    def logs(self) -> str:
        return "\n".join(p.read_text()[-2000:] for p in sorted(self.directory.glob("*.log")))


@pytest.fixture
def side_factory(net: Net, tmp_path: Path) -> Iterator[Any]:
    with ExitStack() as stack:

        def make(**aggregator: Any) -> Side:
            url = stack.enter_context(ops_database(tmp_path))
            side = Side(net, tmp_path, url, **aggregator)
            stack.callback(side.stop)
            return side

        yield make


def accepted(document: dict[str, Any]) -> set[str]:
    return {s["operator"] for s in document["signatures"] if s["verdict"] == "accepted"}


def test_members_offline_until_expiry_leave_the_request_expired_with_its_reason(
    net: Net, side_factory: Any
) -> None:
    side = side_factory(request_ttl_s=SHORT_TTL_S)
    # Members 2 and 3 (the weakest) together hold less than the threshold; 0 and 1 stay offline.
    assert sum(net.committee.powers[2:]) * 3 <= sum(net.committee.powers) * 2
    # Operators first, the request after they run: its short life must not race their cold start.
    side.start_operators(2, 3)
    side.wait_operators_running()
    digest = side.open(net.claim(amount=10**20 + 11))
    final = side.wait(digest, lambda d: d["state"] != "collecting")
    assert final["state"] == "expired", side.logs()
    assert accepted(final) == {net.operator(2), net.operator(3)}
    assert final["state_reason"].startswith("below threshold when it expired: signed power ")
    assert f"signed power {sum(net.committee.powers[2:])} of" in final["state_reason"]
    assert final["submission"] is None


def test_a_conflicting_signature_is_refused_and_kept_as_evidence_and_the_claim_is_verified(
    net: Net, side_factory: Any
) -> None:
    side = side_factory()
    claim = net.claim(amount=10**20 + 12)
    digest = side.open(claim)
    # Member 3's operator first (alone it is below the threshold, so the request stays open).
    side.start_operators(3)
    signed = side.wait(digest, lambda d: net.operator(3) in accepted(d))
    assert net.operator(3) in accepted(signed), side.logs()
    assert signed["state"] == "collecting"
    # Member 3's key, taken out of its operator (which refuses by design), signs another amount.
    rogue = RewardClaim(
        claim.exocore_chain, claim.avs, claim.epoch, claim.token, Amount(claim.amount + 1), claim.tasks_root
    )
    answer = httpx.post(f"{side.url}/v1/signatures", json=net.body(rogue, 3), timeout=30)
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "conflicting_signature"

    side.start_operators(0, 1, 2)
    final = side.wait(digest, lambda d: d["state"] in {"verified", "rejected", "expired"})
    assert final["state"] == "verified", (final["state_reason"], side.logs())
    # The rogue's own honest signature still counts; the crossing went through with it.
    assert net.operator(3) in accepted(final)
    assert int(final["signed_power"]) >= int(final["threshold_power"])
    on_chain = net.grpc.reward_claim(claim.claim_id)
    assert on_chain is not None
    assert on_chain.status in (avs_types.CLAIM_STATUS_VERIFIED, avs_types.CLAIM_STATUS_DISTRIBUTED)

    engine = create_db_engine(side.database_url)
    try:
        client = TestClient(create_app(engine))
        shown = client.get(f"/v1/collections/{digest}").json()
        page = client.get(f"/collections/{digest}").text
    finally:
        engine.dispose()
    assert [(e["operator"], e["first_digest"], e["second_digest"]) for e in shown["evidence"]] == [
        (net.operator(3), digest, "0x" + rogue.claim_id.hex())
    ]
    assert shown["state"] == "verified"
    assert page.count('data-figure="evidence"') == 1
    assert net.operator(3) in page


def _garbage(rng: random.Random, net: Net, claim: RewardClaim) -> tuple[str, bytes | dict[str, Any]]:
    """One hostile post: malformed JSON, wrong shapes, a forged signature, an oversized body..."""
    choice = rng.randrange(6)
    if choice == 0:
        return "raw", rng.randbytes(rng.randrange(1, 512))
    if choice == 1:
        return "json", {
            "request": "0x" + rng.randbytes(rng.randrange(0, 300)).hex(),
            "operator": "x",
            "signature": "0x",
        }
    if choice == 2:
        return "json", {**net.body(claim, 0), "signature": "0x" + rng.randbytes(96).hex()}
    if choice == 3:  # a well-formed G2 point that is not member 1's signature over the claim
        forged = bls.sign(bls.secret_key_from_seed(rng.randbytes(32)), claim.claim_id).compressed
        return "json", {**net.body(claim, 1), "signature": "0x" + forged.hex()}
    if choice == 4:
        return "raw", b"{" + b'"a":' * 100_000
    return "json", {"request": 12, "operator": None, "signature": [1, 2]}


def test_a_garbage_flood_is_refused_and_a_real_operator_is_still_heard(net: Net, side_factory: Any) -> None:
    side = side_factory()
    claim = net.claim(amount=10**20 + 13)
    rng = random.Random(7)
    posts = [_garbage(rng, net, claim) for _ in range(FLOOD_POSTS)]

    def send(post: tuple[str, bytes | dict[str, Any]]) -> int:
        kind, body = post
        if kind == "raw":
            assert isinstance(body, bytes)
            return httpx.post(f"{side.url}/v1/signatures", content=body, timeout=60).status_code
        return httpx.post(f"{side.url}/v1/signatures", json=body, timeout=60).status_code

    with ThreadPoolExecutor(FLOOD_THREADS) as pool:
        statuses = list(pool.map(send, posts))
    assert set(statuses) <= REFUSED, sorted(set(statuses))
    assert httpx.get(f"{side.url}/v1/health", timeout=30).status_code == 200
    # Nothing of the flood opened a request (only valid member signatures or the AVS's token do).
    listed = httpx.get(f"{side.url}/v1/requests", timeout=30).json()["items"]
    assert listed == []

    digest = side.open(claim)
    side.start_operators(0)
    after = side.wait(digest, lambda d: net.operator(0) in accepted(d))
    assert net.operator(0) in accepted(after), side.logs()
