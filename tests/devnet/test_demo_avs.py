"""The demo's AVS-side builders: the rogue's payload shares the honest claim's signing slot, and the
committee slash carries equivocation evidence that decodes, hashes to its ``evidenceHash`` and
verifies under the slashed operator's key (what each operator checks before signing)."""

from __future__ import annotations

from devnet.demo_avs import conflicting_claim, digest_of, equivocation_slash, reward_claim
from devnet.scenario import operator_account
from relayer.protocol import bls
from relayer.protocol.evidence import SignedEquivocation, decode_evidence, evidence_hash

CHAIN_ID = "exocoredevnet_233-1"
AVS = "0x" + "ab" * 20
TOKEN = "0x" + "cd" * 20
OPERATOR = str(operator_account("demo-avs-test", 0))


def test_the_rogue_payload_is_another_digest_in_the_same_slot() -> None:
    claim = reward_claim(CHAIN_ID, AVS, 7, TOKEN, 10**21)
    rogue = conflicting_claim(claim)
    assert rogue.signing_slot == claim.signing_slot
    assert digest_of(rogue) != digest_of(claim)
    assert rogue.amount == claim.amount + 1


def test_the_committee_slash_carries_checkable_equivocation_evidence() -> None:
    secret = bls.secret_key_from_seed(b"demo-avs-test/operator/0123456789abcdef")
    request, data = equivocation_slash(CHAIN_ID, AVS, 7, OPERATOR, secret, task_id=8, proportion=5 * 10**16)
    assert request.evidence_hash == evidence_hash(data)
    evidence = decode_evidence(data)
    assert isinstance(evidence, SignedEquivocation)
    assert evidence.evidence.operator == request.operator
    assert evidence.evidence.task_id == 8
    assert evidence.evidence.verify(
        bls.public_key_of(secret),
        bls.parse_signature(evidence.signature_a),
        bls.parse_signature(evidence.signature_b),
    )
    assert digest_of(request) == "0x" + request.slash_id.hex()
