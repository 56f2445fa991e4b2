"""relayer.protocol.signature_batch: verdicts equal per-signature verification, and the cost is a count.

Every expected verdict is computed independently, share by share, with ``bls.parse_signature`` and
``bls.verify``; the batch must agree and spend at most ``verification_bound`` verifications.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relayer.protocol import bls
from relayer.protocol.errors import InvalidLengthError, InvalidValueError, SignatureError
from relayer.protocol.signature_batch import (
    PAIRINGS_PER_VERIFICATION,
    SignatureShare,
    Verdict,
    VerifiedAggregate,
    add_signature,
    add_signatures,
    require_all_valid,
    verification_bound,
    verify_signature_batch,
)
from tests.support.bls_points import NOT_IN_G2

DIGEST = bytes.fromhex("6a" * 32)
OTHER_DIGEST = bytes.fromhex("6b" * 32)
COMMITTEE = 48  # members in the shared fixture; properties draw subsets of it


def member_secret(index: int) -> bls.SecretKey:
    """Deterministic, and with no linear relation between members' secrets: secrets KEY_BASE + i once
    let the property test find bad shares that cancel by accident (stranger + member 2's signature
    == member 0's + member 1's), which real keys never do."""
    return bls.SecretKey.from_seed(b"signature-batch-test-member-%08d" % index)


IDENTITY = bytes([0xC0]) + bytes(95)
NO_COMPRESSION_FLAG = bytes(96)

SECRETS = [member_secret(i) for i in range(COMMITTEE)]
KEYS = [secret.public_key() for secret in SECRETS]
GOOD = [bls.sign(secret, DIGEST).compressed for secret in SECRETS]
OVER_OTHER_DIGEST = [bls.sign(secret, OTHER_DIGEST).compressed for secret in SECRETS]
STRANGER = bls.sign(member_secret(-1), DIGEST).compressed

# How a bad share is made; each is a different way a poster can be wrong.
BAD_KINDS = ("other-digest", "neighbour", "stranger", "identity", "no-flag", "not-in-g2", "truncated")


def bad_signature(kind: str, member: int) -> bytes:
    return {
        "other-digest": OVER_OTHER_DIGEST[member],
        "neighbour": GOOD[(member + 1) % COMMITTEE],  # another member's valid signature
        "stranger": STRANGER,  # a valid signature under a key outside the committee
        "identity": IDENTITY,
        "no-flag": NO_COMPRESSION_FLAG,
        "not-in-g2": NOT_IN_G2,
        "truncated": GOOD[member][:95],
    }[kind]


def shares_for(members: list[int], bad: dict[int, str]) -> list[SignatureShare]:
    return [SignatureShare(m, KEYS[m], bad_signature(bad[m], m) if m in bad else GOOD[m]) for m in members]


@dataclass(frozen=True)
class Expected:
    verdicts: list[Verdict]
    batched: int  # shares that reach aggregation (well-formed, not the identity)
    batched_bad: int


def expected_one_by_one(shares: list[SignatureShare], backend: str = "fast") -> Expected:
    """Per-signature verification, the definition the batch must match."""
    verdicts, batched, batched_bad = [], 0, 0
    for share in shares:
        try:
            signature = bls.parse_signature(bytes(share.signature), backend=backend)
        except ValueError:  # every bls parse error (length, flags, curve, subgroup)
            verdicts.append(Verdict.MALFORMED)
            continue
        ok = bls.verify(share.public_key, DIGEST, signature, backend=backend)
        verdicts.append(Verdict.VALID if ok else Verdict.INVALID)
        if not signature.is_infinity:
            batched += 1
            batched_bad += not ok
    return Expected(verdicts, batched, batched_bad)


# --- properties -------------------------------------------------------------------------------------------

committees = st.lists(st.integers(0, COMMITTEE - 1), min_size=0, max_size=COMMITTEE, unique=True)


@st.composite
def committees_with_bad_subsets(draw: st.DrawFn) -> tuple[list[int], dict[int, str]]:
    members = draw(committees)
    bad_members = draw(st.lists(st.sampled_from(members), unique=True)) if members else []
    return members, {m: draw(st.sampled_from(BAD_KINDS)) for m in bad_members}


@settings(max_examples=80, deadline=None)
@given(case=committees_with_bad_subsets())
def test_batch_matches_one_by_one_within_the_bound(case: tuple[list[int], dict[int, str]]) -> None:
    members, bad = case
    shares = shares_for(members, bad)
    expected = expected_one_by_one(shares)
    result = verify_signature_batch(DIGEST, shares)
    assert [item.verdict for item in result.verdicts] == expected.verdicts
    assert [item.member for item in result.verdicts] == members
    assert result.verifications <= verification_bound(expected.batched, expected.batched_bad)
    assert result.pairings == PAIRINGS_PER_VERIFICATION * result.verifications
    if expected.batched and not expected.batched_bad:
        assert result.verifications == 1
    valid = sorted(m for m, v in zip(members, expected.verdicts, strict=True) if v is Verdict.VALID)
    assert list(result.aggregate.members) == valid
    assert list(result.aggregate.public_keys) == [KEYS[m] for m in valid]
    assert result.aggregate.verify() is bool(valid)  # the accepted sum verifies over exactly those keys


@settings(max_examples=40, deadline=None)
@given(
    members=st.lists(st.integers(0, COMMITTEE - 1), min_size=2, max_size=COMMITTEE, unique=True),
    data=st.data(),
)
def test_incremental_arrivals_match_the_batch(members: list[int], data: st.DataObject) -> None:
    # Half arrive first and are batch-verified; the rest arrive one by one, each costing exactly one.
    bad = {
        m: data.draw(st.sampled_from(BAD_KINDS[:3])) for m in data.draw(st.lists(st.sampled_from(members)))
    }
    shares = shares_for(members, bad)
    expected = expected_one_by_one(shares)
    split = len(shares) // 2
    first = verify_signature_batch(DIGEST, shares[:split])
    aggregate = first.aggregate
    verdicts = list(first.verdicts)
    for share in shares[split:]:
        step = add_signature(aggregate, share)
        assert step.verifications == 1
        verdicts.extend(step.verdicts)
        aggregate = step.aggregate
    assert [item.verdict for item in verdicts] == expected.verdicts
    assert aggregate == verify_signature_batch(DIGEST, shares).aggregate
    assert aggregate.verify() is (Verdict.VALID in expected.verdicts)


@settings(max_examples=60, deadline=None)
@given(
    junk=st.lists(
        st.one_of(
            st.binary(max_size=120),
            st.binary(min_size=95, max_size=95).map(lambda tail: bytes([0x80 | 0x20]) + tail),
            st.binary(min_size=95, max_size=95).map(lambda tail: bytes([0x80]) + tail),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_posted_bytes_never_raise(junk: list[bytes]) -> None:
    # Whatever a poster sends, the batch answers with verdicts; good shares next to it still pass.
    shares = [SignatureShare(i, KEYS[i], raw) for i, raw in enumerate(junk)]
    shares += shares_for([40, 41], {})
    result = verify_signature_batch(DIGEST, shares)
    expected = expected_one_by_one(shares)
    assert [item.verdict for item in result.verdicts] == expected.verdicts
    assert {40, 41} <= set(result.valid_members)
    assert result.verifications <= verification_bound(expected.batched, expected.batched_bad)


# --- exact counts -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad_member", "count"),
    [
        # root fails, left half fails and right half is checked, at each of the 3 levels: 1 + 2*3
        (0, 7),
        # root fails, left half verifies so the right half is split unchecked, 3 levels: 1 + 3
        (7, 4),
    ],
)
def test_one_bad_among_eight_exact_count(bad_member: int, count: int) -> None:
    result = verify_signature_batch(DIGEST, shares_for(list(range(8)), {bad_member: "other-digest"}))
    assert result.verifications == count == min(count, verification_bound(8, 1))
    assert [item.member for item in result.rejected] == [bad_member]


@pytest.mark.parametrize(("size", "bad_count"), [(100, 0), (100, 1), (1000, 1), (1000, 10)])
def test_large_committees_never_cost_n(size: int, bad_count: int) -> None:
    secrets = SECRETS + [member_secret(i) for i in range(COMMITTEE, size)]
    keys = [secret.public_key() for secret in secrets]
    bad = set(range(0, size, size // bad_count)) if bad_count else set()
    shares = [
        SignatureShare(i, keys[i], bls.sign(secret, OTHER_DIGEST if i in bad else DIGEST))
        for i, secret in enumerate(secrets)
    ]
    result = verify_signature_batch(DIGEST, shares)
    assert {item.member for item in result.rejected} == bad
    assert result.verifications <= verification_bound(size, bad_count) < size
    assert len(result.aggregate) == size - bad_count


def test_verification_bound_values() -> None:
    assert verification_bound(0, 0) == 0
    assert verification_bound(1, 0) == 1
    assert verification_bound(1, 1) == 1
    assert verification_bound(1000, 1) == 1 + 2 * 10
    assert verification_bound(1000, 10) == 1 + 2 * 10 * 10
    assert verification_bound(8, 8) == 15  # capped by the whole bisection tree
    with pytest.raises(InvalidValueError):
        verification_bound(3, 4)


# --- edge cases ----------------------------------------------------------------------------------------


def test_empty_input() -> None:
    result = verify_signature_batch(DIGEST, [])
    assert result.verdicts == () and result.verifications == 0
    assert len(result.aggregate) == 0 and result.aggregate.signature.is_infinity
    assert result.aggregate.verify() is False
    assert require_all_valid(result) == result.aggregate


def test_exact_duplicate_shares_the_verdict_and_counts_once() -> None:
    shares = shares_for([0, 1], {})
    result = verify_signature_batch(DIGEST, [*shares, shares[0], shares[1]])
    assert [item.verdict for item in result.verdicts] == [Verdict.VALID] * 4
    assert result.verifications == 1
    assert result.aggregate.members == (0, 1) and result.aggregate.verify()


def test_same_key_different_signature_is_a_duplicate() -> None:
    good, wrong = GOOD[0], OVER_OTHER_DIGEST[0]
    first_good = verify_signature_batch(
        DIGEST, [SignatureShare(0, KEYS[0], good), SignatureShare(0, KEYS[0], wrong)]
    )
    assert [item.verdict for item in first_good.verdicts] == [Verdict.VALID, Verdict.DUPLICATE]
    first_wrong = verify_signature_batch(
        DIGEST, [SignatureShare(0, KEYS[0], wrong), SignatureShare(0, KEYS[0], good)]
    )
    assert [item.verdict for item in first_wrong.verdicts] == [Verdict.INVALID, Verdict.DUPLICATE]
    assert first_wrong.verifications == 1 and len(first_wrong.aggregate) == 0
    # The same key under two member indices, and one member index with two keys, are duplicates too.
    two_members = verify_signature_batch(
        DIGEST, [SignatureShare(0, KEYS[0], good), SignatureShare(1, KEYS[0], good)]
    )
    assert [item.verdict for item in two_members.verdicts] == [Verdict.VALID, Verdict.DUPLICATE]
    two_keys = verify_signature_batch(
        DIGEST, [SignatureShare(0, KEYS[0], good), SignatureShare(0, KEYS[1], GOOD[1])]
    )
    assert [item.verdict for item in two_keys.verdicts] == [Verdict.VALID, Verdict.DUPLICATE]


def test_malformed_duplicate_does_not_block_the_good_one() -> None:
    result = verify_signature_batch(
        DIGEST, [SignatureShare(0, KEYS[0], NOT_IN_G2), SignatureShare(0, KEYS[0], GOOD[0])]
    )
    assert [item.verdict for item in result.verdicts] == [Verdict.MALFORMED, Verdict.VALID]
    assert "not in the G2 subgroup" in result.verdicts[0].reason


def test_signature_over_another_digest() -> None:
    result = verify_signature_batch(DIGEST, [SignatureShare(3, KEYS[3], OVER_OTHER_DIGEST[3])])
    assert result.verdicts[0].verdict is Verdict.INVALID and result.verifications == 1


def test_identity_and_malformed_cost_nothing() -> None:
    shares = [
        SignatureShare(0, KEYS[0], IDENTITY),
        SignatureShare(1, KEYS[1], NOT_IN_G2),
        SignatureShare(2, KEYS[2], NO_COMPRESSION_FLAG),
        SignatureShare(3, KEYS[3], GOOD[3][:10]),
        SignatureShare(4, KEYS[4], "0x" + GOOD[4].hex()),  # type: ignore[arg-type]  # a poster's junk
    ]
    result = verify_signature_batch(DIGEST, shares)
    assert [item.verdict for item in result.verdicts] == [Verdict.INVALID] + [Verdict.MALFORMED] * 4
    assert result.verifications == 0
    assert "identity" in result.verdicts[0].reason
    assert "must be bytes" in result.verdicts[4].reason
    with pytest.raises(SignatureError, match="5 signature"):
        require_all_valid(result)


def test_caller_mistakes_raise() -> None:
    with pytest.raises(InvalidLengthError):
        verify_signature_batch(DIGEST[:31], [])
    with pytest.raises(InvalidValueError, match="PublicKey"):
        verify_signature_batch(DIGEST, [SignatureShare(0, KEYS[0].compressed, GOOD[0])])  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="member index"):
        verify_signature_batch(DIGEST, [SignatureShare(-1, KEYS[0], GOOD[0])])
    with pytest.raises(InvalidValueError, match="member index"):
        verify_signature_batch(DIGEST, [SignatureShare(True, KEYS[0], GOOD[0])])


def test_parsed_signatures_are_accepted_as_is() -> None:
    shares = [SignatureShare(i, KEYS[i], bls.parse_signature(GOOD[i])) for i in range(4)]
    result = verify_signature_batch(DIGEST, shares)
    assert result.valid_members == (0, 1, 2, 3) and result.verifications == 1


def test_arrival_for_a_member_already_aggregated_is_a_duplicate_for_free() -> None:
    aggregate = verify_signature_batch(DIGEST, shares_for([0, 1, 2], {})).aggregate
    again = add_signature(aggregate, SignatureShare(1, KEYS[1], GOOD[1]))
    assert again.verdicts[0].verdict is Verdict.DUPLICATE and again.verifications == 0
    assert again.aggregate == aggregate
    batch = add_signatures(aggregate, shares_for([2, 3, 4], {4: "stranger"}))
    assert [item.verdict for item in batch.verdicts] == [Verdict.DUPLICATE, Verdict.VALID, Verdict.INVALID]
    assert batch.aggregate.members == (0, 1, 2, 3) and batch.aggregate.verify()


def test_cancelling_errors_yield_a_valid_aggregate() -> None:
    # Two posters who coordinate errors that cancel are each "valid" (documented): what holds is that
    # the aggregate of the accepted set verifies over exactly its keys.
    sig_a = bls.parse_signature(GOOD[0])
    sig_b = bls.parse_signature(GOOD[1])
    delta = bls.sign(bls.SecretKey.from_int(5), DIGEST)
    negated_delta = bls.parse_signature(bytes([delta.compressed[0] ^ 0x20]) + delta.compressed[1:])
    shares = [
        SignatureShare(0, KEYS[0], bls.aggregate_signatures([sig_a, delta])),
        SignatureShare(1, KEYS[1], bls.aggregate_signatures([sig_b, negated_delta])),
    ]
    result = verify_signature_batch(DIGEST, shares)
    assert result.aggregate.verify() and result.aggregate.signature == bls.aggregate_signatures(
        [sig_a, sig_b]
    )


def test_empty_aggregate_checks_the_digest() -> None:
    with pytest.raises(InvalidLengthError):
        VerifiedAggregate.empty(b"\x00" * 33)


# --- backends ------------------------------------------------------------------------------------------

# py_ecc verifies in ~0.3 s and checks every key's subgroup per aggregate: few, small examples.
REFERENCE_SETTINGS = settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


@REFERENCE_SETTINGS
@given(
    case=st.lists(st.integers(0, COMMITTEE - 1), min_size=1, max_size=3, unique=True).flatmap(
        lambda members: st.tuples(
            st.just(members),
            st.dictionaries(st.sampled_from(members), st.sampled_from(BAD_KINDS), max_size=2),
        )
    )
)
def test_backends_give_identical_verdicts_and_counts(case: tuple[list[int], dict[int, str]]) -> None:
    members, bad = case
    shares = shares_for(members, bad)
    fast = verify_signature_batch(DIGEST, shares, backend="fast")
    reference = verify_signature_batch(DIGEST, shares, backend="reference")
    assert fast.verdicts == reference.verdicts
    assert fast.verifications == reference.verifications
    assert fast.aggregate == reference.aggregate
    assert [item.verdict for item in reference.verdicts] == expected_one_by_one(shares, "reference").verdicts
