"""What the operator checks before signing, against a real devnet chain served over gRPC: a good
claim is signed and its signature verifies under the key Exocore registered for the member (read
from the keystore the devnet wrote); a wrong tasks root, an amount over the policy, a token not
allowed, a future epoch, another chain, an expired request and a non-member are refused; slash
requests are signed only over evidence that hashes to ``evidenceHash`` and verifies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from avs.operator.aggregator_client import AggregatorClient, RequestDocument, RetryPolicy
from avs.operator.checks import (
    AvsPolicy,
    CheckContext,
    RefusalReason,
    Signer,
    check_request,
    fetch_facts,
)
from avs.operator.keys import PasswordSource, load_keystore
from avs.operator.protection import SlashingProtection
from avs.operator.service import AvsSigner, OperatorService, Outcome
from devnet import scenario as sc
from devnet.grpc.server import DevnetGrpcServer
from devnet.operator_keys import operator_keystore
from relayer.config import ExocoreConfig, ExorelayConfig, OperatorConfig
from relayer.exocore.grpc_client import ExocoreGrpcClient
from relayer.protocol import bls
from relayer.protocol.claims import EquivocationEvidence, RewardClaim, SigningRequest, SlashRequest
from relayer.protocol.evidence import SignedEquivocation
from relayer.protocol.ids import ChainId, OperatorAddress, exocore_chain_hash
from relayer.protocol.types import Address, Amount, Hash32, as_address
from storage.db import create_db_engine
from tests.support.devnet_rpc import IDENTITY
from tests.support.devnet_world import CHAIN_ID, ETHER, REWARD_TOKEN, SEED, VAULT_TOKEN, WETH, World
from tests.support.http_script import Recorded, Reply, serve_http

EXOCORE_CHAIN = exocore_chain_hash(CHAIN_ID)
POLICY_MAX = 10**21
NOW = datetime(2030, 1, 1, tzinfo=UTC)
PASSWORD_ENV = "UNUSED_OPERATOR_PASSWORD_ENV"


@dataclass
class Served:
    world: World
    avs: str
    epoch: int
    grpc: ExocoreGrpcClient
    members: tuple[OperatorAddress, ...]
    keys: dict[str, bytes]
    """operator bech32 -> the compressed key Exocore registered for the AVS."""
    outsider: OperatorAddress
    keystore_dir: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Five operators opted into one AVS with a committee of four: operator 4 (least stake) is out."""
    world = World.create()
    world.price(WETH, "3000")
    for index in range(5):
        world.operator(index)
    avs = world.avs("alpha", committee_size=4)
    for index in range(5):
        world.opt_in(index, avs)
    for index in range(5):
        world.self_delegate(index, WETH, (10 - index) * ETHER)
    world.next_epoch()
    committee = world.committee(avs)
    server = DevnetGrpcServer(world.node.store, IDENTITY, queries=world.node)
    server.start()
    grpc = ExocoreGrpcClient([server.target], chain_id=CHAIN_ID)
    keys = {}
    for index in range(5):
        secret = sc.operator_bls_secret(SEED, index, avs)
        keys[str(sc.operator_account(SEED, index))] = bls.public_key_of(secret).compressed
    members = tuple(OperatorAddress.parse(m) for m in committee.operators)
    outsider = next(
        sc.operator_account(SEED, i) for i in range(5) if sc.operator_account(SEED, i) not in members
    )
    try:
        yield Served(
            world, avs, committee.epoch, grpc, members, keys, outsider, tmp_path_factory.mktemp("keys")
        )
    finally:
        grpc.close()
        server.stop(0)
        world.node.store.close()


def signer_of(served: Served, operator: OperatorAddress) -> AvsSigner:
    """The operator's key as ``exorelay operator`` gets it: from the keystore the devnet wrote."""
    index = next(i for i in range(5) if sc.operator_account(SEED, i) == operator)
    files = operator_keystore(
        served.keystore_dir, str(operator), served.avs, sc.operator_bls_secret(SEED, index, served.avs)
    )
    key = load_keystore(files.keystore, PasswordSource(PASSWORD_ENV, files.password_file), {})
    policy = AvsPolicy(as_address(served.avs), {as_address(REWARD_TOKEN): POLICY_MAX})
    return AvsSigner(policy, key)


def claim(served: Served, **changes: object) -> RewardClaim:
    fields: dict[str, object] = {
        "exocore_chain": EXOCORE_CHAIN,
        "avs": as_address(served.avs),
        "epoch": served.epoch,
        "token": as_address(REWARD_TOKEN),
        "amount": Amount(POLICY_MAX),
        "tasks_root": Hash32(bytes(32)),
    }
    fields.update(changes)
    return RewardClaim(**fields)  # type: ignore[arg-type]


def check(
    served: Served,
    request: SigningRequest,
    *,
    operator: OperatorAddress | None = None,
    evidence: bytes | None = None,
    expires_at: datetime | None = None,
    tasks_roots: dict[int, Hash32] | None = None,
) -> RefusalReason | None:
    operator = operator or served.members[0]
    signer = signer_of(served, operator)
    policy = AvsPolicy(signer.policy.avs, signer.policy.max_amount_per_epoch, tasks_roots)
    context = CheckContext(EXOCORE_CHAIN, Signer(operator, signer.key.pubkey_bytes), {policy.avs: policy})
    refusal = check_request(
        request,
        evidence=evidence,
        facts=fetch_facts(served.grpc, request),
        context=context,
        now=NOW,
        expires_at=expires_at,
    )
    return None if refusal is None else refusal.reason


def test_the_keystore_holds_the_key_exocore_registered(served: Served) -> None:
    for operator in (*served.members, served.outsider):
        assert signer_of(served, operator).key.pubkey_bytes == served.keys[str(operator)]


def test_a_good_claim_passes(served: Served) -> None:
    assert check(served, claim(served)) is None
    assert check(served, claim(served, amount=Amount(1))) is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"tasks_root": Hash32(b"\x01" * 32)}, RefusalReason.TASKS_ROOT_MISMATCH),
        ({"amount": Amount(POLICY_MAX + 1)}, RefusalReason.AMOUNT_OVER_POLICY),
        ({"token": as_address(VAULT_TOKEN)}, RefusalReason.TOKEN_NOT_ALLOWED),
        ({"token": Address(b"\x77" * 20)}, RefusalReason.UNKNOWN_REWARD_TOKEN),
        ({"exocore_chain": ChainId.parse("othernet_77-1").hash}, RefusalReason.WRONG_CHAIN),
        ({"avs": Address(b"\x66" * 20)}, RefusalReason.AVS_NOT_SERVED),
        ({"epoch": 10**6}, RefusalReason.FUTURE_EPOCH),
        ({"epoch": 0}, RefusalReason.UNKNOWN_EPOCH),
    ],
)
def test_bad_claims_are_refused(served: Served, changes: dict[str, object], reason: RefusalReason) -> None:
    assert check(served, claim(served, **changes)) is reason


def test_a_claim_is_checked_against_the_recorded_tasks_root(served: Served) -> None:
    root = Hash32(b"\x42" * 32)
    assert check(served, claim(served, tasks_root=root), tasks_roots={served.epoch: root}) is None
    assert check(served, claim(served), tasks_roots={served.epoch: root}) is RefusalReason.TASKS_ROOT_MISMATCH
    assert check(served, claim(served, tasks_root=root), tasks_roots={}) is RefusalReason.TASKS_UNKNOWN


def test_non_member_and_expired_requests_are_refused(served: Served) -> None:
    assert check(served, claim(served), operator=served.outsider) is RefusalReason.NOT_A_MEMBER
    assert check(served, claim(served), expires_at=NOW - timedelta(seconds=1)) is RefusalReason.EXPIRED
    assert check(served, claim(served), expires_at=NOW + timedelta(seconds=1)) is None


# -- slash requests --


def equivocation(
    served: Served, culprit: OperatorAddress, *, signed_by: OperatorAddress | None = None
) -> bytes:
    index = next(i for i in range(5) if sc.operator_account(SEED, i) == (signed_by or culprit))
    secret = sc.operator_bls_secret(SEED, index, served.avs)
    evidence = EquivocationEvidence(
        EXOCORE_CHAIN,
        as_address(served.avs),
        culprit.address,
        7,
        sc.task_response(7, 1),
        sc.task_response(7, 2),
    )
    digest_a, digest_b = evidence.digests
    signed = SignedEquivocation(
        evidence, bls.sign(secret, digest_a).compressed, bls.sign(secret, digest_b).compressed
    )
    return signed.encode()


def slash(
    served: Served, culprit: OperatorAddress, evidence: bytes, *, proportion: int = 10**16
) -> SlashRequest:
    from relayer.protocol.evidence import evidence_hash  # noqa: PLC0415

    return SlashRequest(
        EXOCORE_CHAIN,
        as_address(served.avs),
        served.epoch,
        culprit.address,
        proportion,
        True,
        evidence_hash(evidence),
    )


def test_a_slash_over_valid_equivocation_evidence_passes(served: Served) -> None:
    culprit = served.members[1]
    evidence = equivocation(served, culprit)
    assert check(served, slash(served, culprit, evidence), evidence=evidence) is None


def test_bad_slash_requests_are_refused(served: Served) -> None:
    culprit = served.members[1]
    good = equivocation(served, culprit)
    forged = equivocation(served, culprit, signed_by=served.members[2])
    request = slash(served, culprit, good)
    assert check(served, request, evidence=None) is RefusalReason.EVIDENCE_MISSING
    assert check(served, request, evidence=forged) is RefusalReason.EVIDENCE_HASH_MISMATCH
    assert check(served, slash(served, culprit, forged), evidence=forged) is RefusalReason.INVALID_EVIDENCE
    unknown = b"\x99" * 32 + good[32:]
    assert (
        check(served, slash(served, culprit, unknown), evidence=unknown)
        is RefusalReason.UNKNOWN_EVIDENCE_KIND
    )
    truncated = good[:-32]
    assert (
        check(served, slash(served, culprit, truncated), evidence=truncated)
        is RefusalReason.MALFORMED_EVIDENCE
    )
    other = served.members[2]
    assert check(served, slash(served, other, good), evidence=good) is RefusalReason.EVIDENCE_MISMATCH
    assert (
        check(served, slash(served, culprit, good, proportion=10**18), evidence=good)
        is RefusalReason.PROPORTION_TOO_HIGH
    )
    outsider_evidence = equivocation(served, served.outsider)
    assert (
        check(served, slash(served, served.outsider, outsider_evidence), evidence=outsider_evidence)
        is RefusalReason.UNKNOWN_OPERATOR_KEY
    )


# -- the service: check, protect, sign, post --


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
