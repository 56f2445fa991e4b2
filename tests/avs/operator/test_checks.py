"""What the operator checks before signing, against a real devnet chain served over gRPC: a good
claim passes; a wrong tasks root, an amount over the policy, a token not allowed or not registered, a
future or unknown epoch, another chain, an expired request and a non-member are refused; slash
requests pass only over evidence that hashes to ``evidenceHash`` and verifies with Exocore's
verifier under the slashed member's registered key."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from avs.operator.checks import (
    AvsPolicy,
    CheckContext,
    RefusalReason,
    Signer,
    check_request,
    fetch_facts,
)
from devnet import scenario as sc
from relayer.protocol import bls
from relayer.protocol.claims import EquivocationEvidence, SigningRequest, SlashRequest
from relayer.protocol.evidence import Attestation, SignedEquivocation, evidence_hash
from relayer.protocol.ids import ChainId, OperatorAddress
from relayer.protocol.types import Address, Amount, Hash32, as_address
from tests.support.devnet_world import CHAIN_ID, SEED, VAULT_TOKEN
from tests.support.operator_world import EXOCORE_CHAIN, NOW, OPERATORS, POLICY_MAX, Served, claim, signer_of


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
    index = next(i for i in range(OPERATORS) if sc.operator_account(SEED, i) == (signed_by or culprit))
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


def wrong_result(served: Served, culprit: OperatorAddress, result: int) -> bytes:
    index = next(i for i in range(OPERATORS) if sc.operator_account(SEED, i) == culprit)
    return bytes(
        sc.wrong_result_msg(
            chain_id=CHAIN_ID,
            avs_hex=served.avs,
            operator=culprit,
            secret=sc.operator_bls_secret(SEED, index, served.avs),
            task_id=8,
            task_input=12,
            result=result,
        ).evidence
    )


def test_wrong_result_and_attestation_evidence_use_exocores_verifiers(served: Served) -> None:
    culprit = served.members[1]
    wrong = wrong_result(served, culprit, 145)
    assert check(served, slash(served, culprit, wrong), evidence=wrong) is None
    right = wrong_result(served, culprit, 144)
    assert check(served, slash(served, culprit, right), evidence=right) is RefusalReason.INVALID_EVIDENCE
    attestation = Attestation(
        EXOCORE_CHAIN, as_address(served.avs), culprit.address, served.epoch, b"x"
    ).encode()
    assert check(served, slash(served, culprit, attestation), evidence=attestation) is None
    for other_operator, epoch in ((served.members[2], served.epoch), (culprit, served.epoch + 1)):
        elsewhere = Attestation(EXOCORE_CHAIN, as_address(served.avs), other_operator.address, epoch, b"x")
        evidence = elsewhere.encode()
        assert (
            check(served, slash(served, culprit, evidence), evidence=evidence)
            is RefusalReason.EVIDENCE_MISMATCH
        )


# -- the service: check, protect, sign, post --
