"""The operator's loop against a real devnet over gRPC and scripted aggregators on real sockets: it
signs what passes its checks, once per signing slot (across restarts: the protection database),
posts to every aggregator (retrying 5xx, keeping refusal codes), and an Exocore outage defers a
request without refusing it. The signature verifies under the key Exocore's committee lists."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from avs.operator.aggregator_client import AggregatorClient, RequestDocument, RetryPolicy
from avs.operator.protection import SlashingProtection
from avs.operator.service import AvsSigner, OperatorService, Outcome
from relayer.config import ExocoreConfig, ExorelayConfig, OperatorConfig
from relayer.exocore.grpc_client import ExocoreGrpcClient
from relayer.protocol import bls
from relayer.protocol.claims import RewardClaim, SigningRequest
from relayer.protocol.types import Amount, Hash32, as_address
from storage.db import create_db_engine
from tests.support.devnet_world import CHAIN_ID
from tests.support.http_script import Recorded, Reply, serve_http
from tests.support.operator_world import NOW, Served, claim, signer_of


def document(request: SigningRequest, evidence: bytes | None = None) -> RequestDocument:
    digest = request.claim_id if isinstance(request, RewardClaim) else request.slash_id
    kind = "reward_claim" if isinstance(request, RewardClaim) else "slash_request"
    return RequestDocument(
        digest, kind, request.canonical_bytes, evidence, "collecting", NOW + timedelta(hours=1)
    )


def test_the_service_signs_once_per_slot_and_posts_a_signature_that_verifies(
    served: Served, tmp_path: Path
) -> None:
    operator = served.members[0]
    config = ExorelayConfig(
        exocore=ExocoreConfig(chain_id=CHAIN_ID, grpc_endpoints=["127.0.0.1:1"]),
        operator=OperatorConfig(account=str(operator)),
    )
    protection = SlashingProtection(create_db_engine(f"sqlite:///{tmp_path / 'p.sqlite'}"), chain_id=CHAIN_ID)

    def accept(request: Recorded) -> Reply:
        return Reply(202, {"digest": "0x", "verdict": "accepted", "state": "collecting"})

    with serve_http(accept) as aggregator:
        client = AggregatorClient(aggregator.url, RetryPolicy(0.01, 0.01, 2), timeout_s=5.0)
        service = OperatorService(
            config,
            signers={as_address(served.avs): signer_of(served, operator)},
            grpc=served.grpc,
            protection=protection,
            aggregators=[client],
            clock=lambda: NOW,
        )
        good = claim(served)
        assert service.handle(document(good)) is Outcome.SIGNED
        assert service.handle(document(good)) is Outcome.SKIPPED  # settled at the only aggregator
        # Same slot (avs, epoch, token), another amount: refused by the protection database.
        assert service.handle(document(claim(served, amount=Amount(5)))) is Outcome.REFUSED
        assert service.handle(document(claim(served, tasks_root=Hash32(b"\x01" * 32)))) is Outcome.REFUSED
        client.close()
    [post] = aggregator.requests
    assert post.path == "/v1/signatures" and post.body["operator"] == str(operator)
    assert post.body["request"] == "0x" + good.canonical_bytes.hex()
    # The signature verifies under the key Exocore's committee lists for this member.
    committee = served.grpc.committee(served.avs, served.epoch)
    assert committee is not None
    [member] = [m for m in committee.members if m.operator == operator]
    signature = bls.parse_signature(bytes.fromhex(post.body["signature"][2:]))
    assert bls.verify(bls.parse_public_key(member.bls_pubkey), good.claim_id, signature)
    reasons = [reason for _, reason in protection.refusals()]
    assert reasons == ["conflicting_slot", "tasks_root_mismatch"]
    assert [(a, o) for a, o, _ in protection.posts(good.claim_id)] == [(aggregator.url, "accepted")]
    # A restarted operator (new process, same database) still refuses the other digest in that slot.
    again = OperatorService(
        config,
        signers={as_address(served.avs): signer_of(served, operator)},
        grpc=served.grpc,
        protection=protection,
        aggregators=[],
        clock=lambda: NOW,
    )
    assert again.handle(document(claim(served, amount=Amount(5)))) is Outcome.REFUSED
    assert (
        json.loads(json.dumps(protection.export_interchange()))["data"][0]["pubkey"]
        == "0x" + served.keys[str(operator)].hex()
    )
    protection.engine.dispose()


def service_for(
    served: Served, tmp_path: Path, aggregators: list[AggregatorClient], grpc: ExocoreGrpcClient | None = None
) -> OperatorService:
    operator = served.members[0]
    config = ExorelayConfig(
        exocore=ExocoreConfig(chain_id=CHAIN_ID, grpc_endpoints=["127.0.0.1:1"]),
        operator=OperatorConfig(account=str(operator)),
    )
    protection = SlashingProtection(
        create_db_engine(f"sqlite:///{tmp_path / f'p-{len(list(tmp_path.iterdir()))}.sqlite'}"),
        chain_id=CHAIN_ID,
    )
    return OperatorService(
        config,
        signers={as_address(served.avs): signer_of(served, operator)},
        grpc=grpc or served.grpc,
        protection=protection,
        aggregators=aggregators,
        clock=lambda: NOW,
    )


def listing(*documents: RequestDocument) -> dict[str, object]:
    return {
        "items": [
            {
                "digest": "0x" + d.digest.hex(),
                "kind": d.kind,
                "request": "0x" + d.request.hex(),
                "evidence": None if d.evidence is None else "0x" + d.evidence.hex(),
                "state": "collecting",
                "expires_at": None if d.expires_at is None else d.expires_at.isoformat(),
            }
            for d in documents
        ],
        "next_cursor": None,
    }


def test_a_poll_posts_to_every_aggregator_retrying_5xx_and_recording_refusal_codes(
    served: Served, tmp_path: Path
) -> None:
    good = claim(served, amount=Amount(3))
    listed = [document(good)]
    answers = {
        "b": [Reply(503, {"error": {"code": "too_many_open_requests"}}), Reply(202, {"verdict": "duplicate"})]
    }

    def a(request: Recorded) -> Reply:
        if request.method == "GET":
            return Reply(200, listing(*listed))
        return Reply(202, {"verdict": "accepted"})

    def b(request: Recorded) -> Reply:
        return Reply(200, listing()) if request.method == "GET" else answers["b"].pop(0)

    def c(request: Recorded) -> Reply:
        if request.method == "GET":
            return Reply(200, listing())
        return Reply(409, {"error": {"code": "conflicting_signature", "message": "m", "details": {}}})

    with serve_http(a) as server_a, serve_http(b) as server_b, serve_http(c) as server_c:
        policy = RetryPolicy(0.001, 0.001, 3)
        clients = [AggregatorClient(s.url, policy, timeout_s=5.0) for s in (server_a, server_b, server_c)]
        service = service_for(served, tmp_path, clients)
        report = service.poll_once()
        assert report.outcomes == {"0x" + good.claim_id.hex(): Outcome.SIGNED}
        assert service.protection.posts(good.claim_id) == [
            (server_a.url, "accepted", None),
            (server_b.url, "duplicate", None),
            (server_c.url, "refused", "conflicting_signature"),
        ]
        # The next poll posts nowhere again: every aggregator gave its final answer.
        service.poll_once()
        # The request leaves the listings (submitted), then an aggregator lists it again: it is
        # decided again (the same digest in its slot: signed again) and still not re-posted.
        listed.clear()
        service.poll_once()
        listed.append(document(good))
        assert service.poll_once().outcomes == {"0x" + good.claim_id.hex(): Outcome.SIGNED}
        for client in clients:
            client.close()
    assert [r.method for r in server_a.requests].count("POST") == 1
    assert [r.method for r in server_b.requests].count("POST") == 2
    assert [r.method for r in server_c.requests].count("POST") == 1
    service.protection.engine.dispose()


def test_an_exocore_outage_defers_and_refuses_nothing(served: Served, tmp_path: Path) -> None:
    good = claim(served, amount=Amount(4))

    def a(request: Recorded) -> Reply:
        return Reply(200, listing(document(good)))

    unreachable = ExocoreGrpcClient(["127.0.0.1:1"], chain_id=CHAIN_ID, timeout_s=2.0)
    with serve_http(a) as server:
        client = AggregatorClient(server.url, RetryPolicy(0.001, 0.001, 1), timeout_s=5.0)
        service = service_for(served, tmp_path, [client], grpc=unreachable)
        assert service.poll_once().outcomes == {"0x" + good.claim_id.hex(): Outcome.DEFERRED}
        client.close()
    unreachable.close()
    assert service.protection.refusals() == [] and service.protection.signed_slots() == []
    assert [r.method for r in server.requests] == ["GET"]
    service.protection.engine.dispose()


def test_the_tasks_roots_file_is_read_at_each_decision(served: Served, tmp_path: Path) -> None:
    roots = tmp_path / "tasks-roots.json"
    service = service_for(served, tmp_path, [])
    avs = as_address(served.avs)
    signer = service.signers[avs]
    service.signers[avs] = AvsSigner(signer.policy, signer.key, roots)
    root = Hash32(b"\x5a" * 32)
    roots.write_text(json.dumps({}))
    assert service.handle(document(claim(served, tasks_root=root, amount=Amount(6)))) is Outcome.REFUSED
    roots.write_text(json.dumps({str(served.epoch): "0x" + root.hex()}))
    assert service.handle(document(claim(served, tasks_root=root, amount=Amount(7)))) is Outcome.SIGNED
    assert [reason for _, reason in service.protection.refusals()] == ["tasks_unknown"]
    roots.write_text("{not json")
    assert service._guarded(document(claim(served, tasks_root=root, amount=Amount(8)))) is Outcome.DEFERRED
    service.protection.engine.dispose()
