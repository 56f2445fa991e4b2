"""What an operator checks before it signs a reward claim or a slash request.

:func:`check_request` is pure: it decides from the request, the evidence bytes the aggregator
served, the facts read from Exocore (:class:`ChainFacts`, gathered by :func:`fetch_facts` over gRPC),
the operator's local policy (:class:`AvsPolicy`) and the time. A refusal is a typed
:class:`RefusalReason` with a human detail; the service logs, counts and records it. The order of the
checks is the order below, so the first failing rule names the refusal.

Every request:

1. ``wrong_chain``: the request binds another Exocore chain than the one configured.
2. ``avs_not_served``: the operator has no policy (no key) for this AVS; ``unknown_avs``: Exocore
   does not know the AVS.
3. ``expired``: the aggregator's ``expires_at`` has passed (a late signature helps nobody and
   still binds the slot).
4. ``future_epoch``: the epoch is after the AVS's current epoch on Exocore; ``unknown_epoch``: no
   committee was elected for it.
5. ``not_a_member``: the operator's account is not in that epoch's committee, or is there with
   another BLS key than the keystore's (a signature Exocore would not count).

Reward claim (against Exocore and the local policy):

6. ``unknown_reward_token``: the token is not one the AVS registered on Exocore.
7. ``token_not_allowed``: the local policy lists no maximum for the token.
8. ``amount_over_policy``: the amount is above the policy's maximum per epoch for the token (one
   claim per (AVS, epoch, token) slot is ever signed, so the claim's amount is the epoch's amount).
9. ``tasks_unknown`` / ``tasks_root_mismatch``: the claim's tasks root against the operator's own
   record of the epoch's tasks. Exocore keeps the root opaque (it serves no task results), so the
   record is local: a tasks-roots file the operator's AVS software writes (epoch -> root); without
   one the AVS pays for no tasks and the root must be zero (what the devnet's claims carry).

Slash request:

6. ``proportion_too_high``: above the AVS's ``slash_proportion``, or its ``committee_request``
   verifier's when it registered a verifier set (none: every request is too high; Exocore would
   reject it).
7. ``evidence_missing``, ``evidence_hash_mismatch``: the served bytes must hash to ``evidenceHash``
   (a zero ``evidenceHash`` with no evidence is ``evidence_missing`` too: the operator signs no slash
   it cannot check).
8. ``unknown_evidence_kind``, ``malformed_evidence``: decoded strictly (:mod:`relayer.protocol.evidence`).
9. ``evidence_mismatch``: the evidence's chain, AVS and operator must be the request's.
10. ``unknown_operator_key``: the slashed operator's BLS key for the AVS is taken from the epoch's
    committee; an operator outside it cannot be checked here. ``invalid_evidence``: the evidence
    does not prove its fault (:func:`relayer.protocol.evidence.verify_evidence`, the check Exocore
    runs: equivocation's two signatures, or a wrong result's signature and recomputed answer). An
    attestation (the committee's own finding) has nothing more to check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final

from relayer.errors import ProtocolError
from relayer.exocore.grpc_client import Committee, ExocoreGrpcClient
from relayer.protocol.claims import (
    PROPORTION_DECIMALS,
    RewardClaim,
    SigningRequest,
    SlashRequest,
    parse_fixed,
)
from relayer.protocol.evidence import (
    Attestation,
    EvidenceRejectedError,
    UnknownEvidenceKindError,
    decode_evidence,
    evidence_hash,
    verify_evidence,
)
from relayer.protocol.ids import OperatorAddress
from relayer.protocol.kinds import SlashKind
from relayer.protocol.types import Address, Hash32, address_hex

ZERO_ROOT: Final = Hash32(bytes(32))


class RefusalReason(StrEnum):
    MALFORMED_REQUEST = "malformed_request"
    WRONG_CHAIN = "wrong_chain"
    AVS_NOT_SERVED = "avs_not_served"
    UNKNOWN_AVS = "unknown_avs"
    EXPIRED = "expired"
    FUTURE_EPOCH = "future_epoch"
    UNKNOWN_EPOCH = "unknown_epoch"
    NOT_A_MEMBER = "not_a_member"
    UNKNOWN_REWARD_TOKEN = "unknown_reward_token"  # noqa: S105 (a refusal reason)
    TOKEN_NOT_ALLOWED = "token_not_allowed"  # noqa: S105 (a refusal reason)
    AMOUNT_OVER_POLICY = "amount_over_policy"
    TASKS_UNKNOWN = "tasks_unknown"
    TASKS_ROOT_MISMATCH = "tasks_root_mismatch"
    PROPORTION_TOO_HIGH = "proportion_too_high"
    EVIDENCE_MISSING = "evidence_missing"
    EVIDENCE_HASH_MISMATCH = "evidence_hash_mismatch"
    UNKNOWN_EVIDENCE_KIND = "unknown_evidence_kind"
    MALFORMED_EVIDENCE = "malformed_evidence"
    EVIDENCE_MISMATCH = "evidence_mismatch"
    UNKNOWN_OPERATOR_KEY = "unknown_operator_key"
    INVALID_EVIDENCE = "invalid_evidence"
    CONFLICTING_SLOT = "conflicting_slot"
    """Not a check of this module: the slashing-protection database holds another digest for the
    slot (:mod:`avs.operator.protection`). Listed here so every refusal has one vocabulary."""


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: RefusalReason
    detail: str


@dataclass(frozen=True, slots=True)
class AvsPolicy:
    """The operator's local rules for one AVS."""

    avs: Address
    max_amount_per_epoch: Mapping[Address, int]
    """Allowed reward tokens and the most the operator signs for one epoch of each (base units)."""
    tasks_roots: Mapping[int, Hash32] | None = None
    """Epoch -> the tasks root the operator's own AVS software recorded; None: no tasks (zero root)."""


@dataclass(frozen=True, slots=True)
class ChainFacts:
    """What Exocore says about the request's AVS and epoch (None: Exocore has none)."""

    avs_known: bool
    reward_tokens: frozenset[Address] = frozenset()
    slash_proportion: int = 0
    current_epoch: int | None = None
    committee: Committee | None = None


@dataclass(frozen=True, slots=True)
class Signer:
    """Who is asked to sign: the operator's account and its BLS public key for the AVS."""

    account: OperatorAddress
    pubkey: bytes


@dataclass(frozen=True, slots=True)
class CheckContext:
    exocore_chain: Hash32
    signer: Signer
    policies: Mapping[Address, AvsPolicy] = field(default_factory=dict)


def check_request(
    request: SigningRequest,
    *,
    evidence: bytes | None,
    facts: ChainFacts,
    context: CheckContext,
    now: datetime,
    expires_at: datetime | None,
) -> Refusal | None:
    """None when the operator may sign ``request``; else the first rule it breaks."""
    if request.exocore_chain != context.exocore_chain:
        return Refusal(
            RefusalReason.WRONG_CHAIN,
            f"request binds Exocore chain 0x{request.exocore_chain.hex()}, "
            f"this operator serves 0x{context.exocore_chain.hex()}",
        )
    avs_hex = address_hex(request.avs)
    policy = context.policies.get(request.avs)
    if policy is None:
        return Refusal(RefusalReason.AVS_NOT_SERVED, f"no key or policy for AVS {avs_hex}")
    if not facts.avs_known:
        return Refusal(RefusalReason.UNKNOWN_AVS, f"Exocore does not know AVS {avs_hex}")
    if expires_at is not None and now >= expires_at:
        return Refusal(RefusalReason.EXPIRED, f"expired at {expires_at.isoformat()}")
    if facts.current_epoch is None or request.epoch > facts.current_epoch:
        return Refusal(
            RefusalReason.FUTURE_EPOCH,
            f"epoch {request.epoch} is after the AVS's current epoch {facts.current_epoch}",
        )
    committee = facts.committee
    if committee is None or committee.epoch != request.epoch:
        return Refusal(RefusalReason.UNKNOWN_EPOCH, f"no committee of {avs_hex} for epoch {request.epoch}")
    me = next((m for m in committee.members if m.operator.address == context.signer.account.address), None)
    if me is None:
        return Refusal(
            RefusalReason.NOT_A_MEMBER,
            f"{context.signer.account} is not in the committee of {avs_hex} for epoch {request.epoch}",
        )
    if me.bls_pubkey != context.signer.pubkey:
        return Refusal(
            RefusalReason.NOT_A_MEMBER,
            f"{context.signer.account} is a member with key 0x{me.bls_pubkey.hex()}, "
            f"not the keystore's 0x{context.signer.pubkey.hex()}",
        )
    if isinstance(request, RewardClaim):
        return _check_claim(request, facts, policy)
    return _check_slash(request, evidence, facts, committee)


def _check_claim(claim: RewardClaim, facts: ChainFacts, policy: AvsPolicy) -> Refusal | None:
    token = address_hex(claim.token)
    if claim.token not in facts.reward_tokens:
        return Refusal(RefusalReason.UNKNOWN_REWARD_TOKEN, f"{token} is not a reward token of the AVS")
    ceiling = policy.max_amount_per_epoch.get(claim.token)
    if ceiling is None:
        return Refusal(RefusalReason.TOKEN_NOT_ALLOWED, f"the local policy allows no {token} claims")
    if claim.amount > ceiling:
        return Refusal(
            RefusalReason.AMOUNT_OVER_POLICY,
            f"amount {claim.amount} of {token} exceeds the policy's {ceiling} per epoch",
        )
    if policy.tasks_roots is None:
        expected = ZERO_ROOT
    else:
        known = policy.tasks_roots.get(claim.epoch)
        if known is None:
            return Refusal(RefusalReason.TASKS_UNKNOWN, f"no recorded tasks root for epoch {claim.epoch}")
        expected = known
    if claim.tasks_root != expected:
        return Refusal(
            RefusalReason.TASKS_ROOT_MISMATCH,
            f"tasks root 0x{claim.tasks_root.hex()}, the operator's record says 0x{expected.hex()}",
        )
    return None


def _check_slash(
    request: SlashRequest, evidence: bytes | None, facts: ChainFacts, committee: Committee
) -> Refusal | None:
    if request.proportion > facts.slash_proportion:
        return Refusal(
            RefusalReason.PROPORTION_TOO_HIGH,
            f"proportion {request.proportion} exceeds the AVS's {facts.slash_proportion} (18 decimals)",
        )
    if evidence is None:
        return Refusal(RefusalReason.EVIDENCE_MISSING, "the aggregator served no evidence bytes")
    if evidence_hash(evidence) != request.evidence_hash:
        return Refusal(
            RefusalReason.EVIDENCE_HASH_MISMATCH,
            f"served evidence hashes to 0x{evidence_hash(evidence).hex()}, "
            f"the request commits to 0x{request.evidence_hash.hex()}",
        )
    try:
        decoded = decode_evidence(evidence)
    except UnknownEvidenceKindError as exc:
        return Refusal(RefusalReason.UNKNOWN_EVIDENCE_KIND, str(exc))
    except ProtocolError as exc:
        return Refusal(RefusalReason.MALFORMED_EVIDENCE, str(exc))
    if (decoded.exocore_chain, decoded.avs, decoded.operator) != (
        request.exocore_chain,
        request.avs,
        request.operator,
    ):
        return Refusal(
            RefusalReason.EVIDENCE_MISMATCH,
            "the evidence names another chain, AVS or operator than the slash request",
        )
    if isinstance(decoded, Attestation):
        if decoded.epoch != request.epoch:
            return Refusal(
                RefusalReason.EVIDENCE_MISMATCH,
                f"the attestation is for epoch {decoded.epoch}, the request for {request.epoch}",
            )
        return None
    member = next((m for m in committee.members if m.operator.address == request.operator), None)
    if member is None:
        return Refusal(
            RefusalReason.UNKNOWN_OPERATOR_KEY,
            f"{address_hex(request.operator)} is not in the epoch's committee: its AVS key is unknown here",
        )
    try:
        verify_evidence(decoded, member.bls_pubkey)
    except EvidenceRejectedError as exc:
        return Refusal(RefusalReason.INVALID_EVIDENCE, f"{exc.fault}: {exc.detail}")
    return None


def fetch_facts(grpc: ExocoreGrpcClient, request: SigningRequest) -> ChainFacts:
    """Read the facts :func:`check_request` needs from Exocore (raises ``ExocoreRpcError`` on an
    outage: a transient failure, never a refusal)."""
    avs_hex = address_hex(request.avs)
    info = grpc.avs_info(avs_hex)
    if info is None:
        return ChainFacts(avs_known=False)
    tokens = frozenset(Address(bytes.fromhex(t.token.removeprefix("0x"))) for t in info.reward_tokens)
    try:
        proportion = parse_fixed(info.slash_proportion or "0", PROPORTION_DECIMALS, "slash_proportion")
        if info.slash_verifiers:  # the committee-request verifier's own bound, if the AVS lists one
            verifier = next((v for v in info.slash_verifiers if v.kind == SlashKind.COMMITTEE_REQUEST), None)
            if verifier is None:
                proportion = 0  # Exocore rejects every committee request: verifier_not_registered
            elif verifier.slash_proportion:
                proportion = parse_fixed(
                    verifier.slash_proportion, PROPORTION_DECIMALS, "verifier proportion"
                )
    except ProtocolError:
        proportion = 0  # an AVS without a readable slash proportion accepts no slash request
    current = grpc.committee(avs_hex, 0)
    if current is None:
        return ChainFacts(True, tokens, proportion)
    committee = current if current.epoch == request.epoch else None
    if committee is None and request.epoch < current.epoch:
        committee = grpc.committee(avs_hex, request.epoch)
    return ChainFacts(True, tokens, proportion, current.epoch, committee)
