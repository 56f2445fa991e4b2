"""Verify many BLS signatures over ONE digest with few pairings: aggregate once, bisect on failure.

The rule: N members each sign the same 32-byte digest ``m``. Instead of N verifications, aggregate
the signatures and the keys and check once, ``e(Σpk, H(m)) == e(G1, Σsig)`` (IETF
FastAggregateVerify). Because every signer signed the *same* message, plain aggregation is sound
only given that each key was admitted with a proof of possession (PoP): without it a rogue key
``pk' = x·G1 - pk_victim`` makes an aggregate "signed" by the victim verify. Callers therefore pass
only keys that passed ``bls.pop_verify`` (or Exocore's registration PoP) when the member joined.

When the aggregate fails, bad signatures are found by bisection: split the group in two, verify each
half's aggregate, recurse into halves that fail. If a group failed and its left half verifies, the
right half must fail (pairings are bilinear), so it is split without being verified. With ``k`` bad
among ``n`` batched signatures this costs at most ``1 + 2·k·ceil(log2 n)`` verifications (and never
more than ``2n - 1``); all valid costs exactly one. Every verification is one two-pairing product
check; :attr:`BatchVerification.verifications` counts them so services can export and tests can
assert the cost as a number.

Invariants:
- Pure and deterministic: the same input gives the same verdicts, the same count and the same
  aggregate; groups are split at ``len // 2`` in input order. No randomness, no clock, no IO.
- Malformed signature bytes (length, flags, off the curve, outside G2) never reach aggregation: they
  get a ``MALFORMED`` verdict with the parser's reason and cost no verification. A poster cannot turn
  a batch into an exception; only the caller's own mistakes (a digest that is not 32 bytes, a key
  that is not a :class:`~relayer.protocol.bls.PublicKey`, a negative member index) raise.
- The identity signature never verifies under a valid key, so it is ``INVALID`` up front (no cost).
- One signature per member and per key in a batch: a second entry for a member index or key that
  is already batched (or already in the aggregate being extended) is ``DUPLICATE`` unless it is a
  byte-identical copy, which shares the first entry's verdict. BLS signatures are unique (one valid
  signature per key and digest), so of two different signatures for one key at most one is valid;
  a caller whose first entry turned out ``INVALID`` may submit the other one again.
- What is guaranteed unconditionally: the returned :class:`VerifiedAggregate` (the sum of the
  ``VALID`` signatures) verifies over exactly the ``VALID`` keys, because it is a sum of group
  aggregates that each verified. Per-signature verdicts equal single verification unless posters
  coordinate errors that cancel inside one group (``sig_a + d`` and ``sig_b - d``); such signatures
  are individually wrong but their sum is right, so the published aggregate is still valid.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from relayer.protocol.bls.backend import BackendChoice, BlsBackend, check_message
from relayer.protocol.bls.encoding import G2_INFINITY_COMPRESSED
from relayer.protocol.bls.registry import get_backend
from relayer.protocol.bls.values import PublicKey, Signature
from relayer.protocol.errors import InvalidValueError, SignatureError
from relayer.protocol.types import Hash32

PAIRINGS_PER_VERIFICATION = 2
"""A (fast-aggregate) verification is the product check e(pk, H(m)) · e(-G1, sig) == 1: two Miller
loops and one final exponentiation, counted as two pairings."""


_IDENTITY_REASON = "the identity signature never verifies"


class Verdict(enum.Enum):
    """What a batch decided about one submitted signature."""

    VALID = "valid"
    """Verified over the digest under the member's key (alone or inside a group aggregate)."""
    INVALID = "invalid"
    """A well-formed G2 point that does not verify (wrong key, other digest, the identity)."""
    MALFORMED = "malformed"
    """Not a valid signature encoding (length, flags, off the curve, outside G2, not bytes)."""
    DUPLICATE = "duplicate"
    """A second, different entry for a member or key already batched (or already aggregated)."""


@dataclass(frozen=True, slots=True)
class SignatureShare:
    """One member's signature as posted: ``signature`` is the raw 96 bytes from the wire (parsed
    and checked here) or an already validated :class:`Signature`. ``public_key`` is the member's
    registered, PoP-checked key; ``member`` its index in the committee."""

    member: int
    public_key: PublicKey
    signature: Signature | bytes


@dataclass(frozen=True, slots=True)
class ShareVerdict:
    """The verdict on one :class:`SignatureShare`; ``reason`` is empty for ``VALID``."""

    member: int
    verdict: Verdict
    reason: str = ""

    @property
    def valid(self) -> bool:
        return self.verdict is Verdict.VALID


@dataclass(frozen=True, slots=True)
class VerifiedAggregate:
    """The aggregate of a set of signatures over one digest that has been verified.

    ``signature`` is the sum of the members' signatures (the identity for the empty set) and
    verifies over the sum of ``public_keys`` (one per member, same order as ``members``, which is
    ascending). Build it only through :func:`verify_signature_batch`, :func:`add_signature` or
    :func:`add_signatures` (or :meth:`empty`), which keep that true.
    """

    digest: Hash32
    members: tuple[int, ...]
    public_keys: tuple[PublicKey, ...]
    signature: Signature

    @classmethod
    def empty(cls, digest: bytes, *, backend: BackendChoice = None) -> VerifiedAggregate:
        """No signatures yet: the starting point for incremental collection."""
        chosen = get_backend(backend)
        return cls(Hash32(check_message(digest)), (), (), chosen.parse_signature(G2_INFINITY_COMPRESSED))

    def __len__(self) -> int:
        return len(self.members)

    def verify(self, *, backend: BackendChoice = None) -> bool:
        """Re-check the aggregate from scratch (one verification; False for the empty set)."""
        if not self.members:
            return False
        return get_backend(backend).fast_aggregate_verify(self.public_keys, self.digest, self.signature)


@dataclass(frozen=True, slots=True)
class BatchVerification:
    """The outcome of a batch: one verdict per input share (input order), the verifications spent,
    and the aggregate of everything accepted so far (the extended one for :func:`add_signatures`)."""

    verdicts: tuple[ShareVerdict, ...]
    verifications: int
    aggregate: VerifiedAggregate

    @property
    def pairings(self) -> int:
        return PAIRINGS_PER_VERIFICATION * self.verifications

    @property
    def valid_members(self) -> tuple[int, ...]:
        return tuple(item.member for item in self.verdicts if item.verdict is Verdict.VALID)

    @property
    def rejected(self) -> tuple[ShareVerdict, ...]:
        return tuple(item for item in self.verdicts if item.verdict is not Verdict.VALID)


def verification_bound(batched: int, bad: int) -> int:
    """The most verifications a batch of ``batched`` well-formed, distinct signatures with ``bad``
    invalid ones can cost: ``1 + 2·bad·ceil(log2 batched)``, capped at ``2·batched - 1`` (every node
    of the bisection tree), and 0 for an empty batch."""
    if batched < 0 or bad < 0 or bad > batched:
        raise InvalidValueError("verification_bound needs 0 <= bad <= batched")
    if batched == 0:
        return 0
    depth = (batched - 1).bit_length()  # ceil(log2 batched) for batched >= 1
    return min(1 + 2 * bad * depth, 2 * batched - 1)


def verify_signature_batch(
    digest: bytes, shares: Iterable[SignatureShare], *, backend: BackendChoice = None
) -> BatchVerification:
    """Verdicts for N members' signatures over one digest, at the cost of one aggregate verification
    when all are valid and ``O(k log N)`` when ``k`` are not (see the module docstring)."""
    return add_signatures(VerifiedAggregate.empty(digest, backend=backend), shares, backend=backend)


def add_signatures(
    aggregate: VerifiedAggregate, shares: Iterable[SignatureShare], *, backend: BackendChoice = None
) -> BatchVerification:
    """Batch mode for arrivals: verify new shares together (aggregate + bisection) and extend a
    verified aggregate with the valid ones. Members or keys already in ``aggregate`` are DUPLICATE.

    Trade-off against :func:`add_signature`: a batch of ``b`` good arrivals costs one verification
    instead of ``b``, but no arrival gets its verdict before the batch closes, and each bad arrival
    costs up to ``2·ceil(log2 b)`` verifications instead of one. Batch when arrivals are bursty and
    mostly honest; verify each arrival when latency to quorum matters or bad posts are frequent.
    """
    chosen = get_backend(backend)
    items = list(shares)
    verdicts: list[ShareVerdict | None] = [None] * len(items)
    batch: list[_Entry] = []
    taken_members = set(aggregate.members)
    taken_keys = {key.compressed for key in aggregate.public_keys}
    first_of: dict[tuple[int, bytes, bytes], int] = {}
    copies: list[tuple[int, int]] = []  # (position, position of the identical first entry)
    for position, share in enumerate(items):
        member, key = _check_share(share, position)
        parsed = _parse(chosen, share.signature)
        if isinstance(parsed, str):
            verdicts[position] = ShareVerdict(member, Verdict.MALFORMED, parsed)
            continue
        if parsed.is_infinity:
            verdicts[position] = ShareVerdict(member, Verdict.INVALID, _IDENTITY_REASON)
            continue
        fingerprint = (member, key.compressed, parsed.compressed)
        if fingerprint in first_of:
            copies.append((position, first_of[fingerprint]))
            continue
        if member in taken_members or key.compressed in taken_keys:
            verdicts[position] = ShareVerdict(
                member, Verdict.DUPLICATE, f"member {member} or its key already has a signature in this set"
            )
            continue
        first_of[fingerprint] = position
        taken_members.add(member)
        taken_keys.add(key.compressed)
        batch.append(_Entry(position, member, key, parsed))

    search = _Bisection(chosen, aggregate.digest)
    search.run(batch)
    for entry in batch:
        if entry.position in search.bad:
            verdicts[entry.position] = ShareVerdict(
                entry.member, Verdict.INVALID, "does not verify over the digest under the member's key"
            )
        else:
            verdicts[entry.position] = ShareVerdict(entry.member, Verdict.VALID)
    for position, first in copies:
        verdicts[position] = verdicts[first]
    done = tuple(item for item in verdicts if item is not None)
    assert len(done) == len(items)  # every branch above assigns a verdict

    accepted = [entry for entry in batch if entry.position not in search.bad]
    return BatchVerification(done, search.verifications, _extend(chosen, aggregate, accepted, search))


def add_signature(
    aggregate: VerifiedAggregate, share: SignatureShare, *, backend: BackendChoice = None
) -> BatchVerification:
    """Per-arrival mode: decide one new signature with one verification of that signature alone
    (never re-verifying ``aggregate``), and extend the aggregate if it is valid."""
    return add_signatures(aggregate, [share], backend=backend)


def require_all_valid(result: BatchVerification) -> VerifiedAggregate:
    """The aggregate, or :class:`SignatureError` naming the rejected members."""
    rejected = result.rejected
    if rejected:
        listed = ", ".join(f"{item.member} ({item.verdict.value})" for item in rejected)
        raise SignatureError(f"{len(rejected)} signature(s) rejected: {listed}")
    return result.aggregate


# --- internals ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    position: int
    member: int
    key: PublicKey
    signature: Signature


def _check_share(share: object, position: int) -> tuple[int, PublicKey]:
    # These come from the caller's committee registry, not from the poster: a mistake here is a bug.
    if not isinstance(share, SignatureShare):
        raise InvalidValueError(f"share #{position} must be a SignatureShare, got {type(share).__name__}")
    member = share.member
    if isinstance(member, bool) or not isinstance(member, int) or member < 0:
        raise InvalidValueError(f"share #{position}: member index must be a non-negative int")
    if not isinstance(share.public_key, PublicKey):
        raise InvalidValueError(f"share #{position}: public key must be a validated PublicKey")
    return member, share.public_key


def _parse(backend: BlsBackend, signature: object) -> Signature | str:
    """The validated signature, or the reason it is malformed (never raises on posted bytes)."""
    if isinstance(signature, Signature):
        return signature
    if not isinstance(signature, bytes):
        return f"signature must be bytes, got {type(signature).__name__}"
    try:
        return backend.parse_signature(signature)
    except ValueError as error:  # every bls parse error is a ProtocolError (a ValueError)
        return str(error)


class _Bisection:
    """Aggregate-then-bisect over entries; ``bad`` collects the positions of invalid signatures and
    ``group_signatures`` the aggregates of groups that verified (their sum is the accepted total)."""

    def __init__(self, backend: BlsBackend, digest: Hash32) -> None:
        self._backend = backend
        self._digest = digest
        self.verifications = 0
        self.bad: set[int] = set()
        self.group_signatures: list[Signature] = []

    def run(self, entries: Sequence[_Entry]) -> None:
        if entries:
            self._search(entries, known_bad=False)

    def _verify(self, group: Sequence[_Entry]) -> Signature | None:
        """The group's aggregate if it verifies, else None (one verification either way)."""
        self.verifications += 1
        if len(group) == 1:
            only = group[0]
            ok = self._backend.verify(only.key, self._digest, only.signature)
            return only.signature if ok else None
        total = self._backend.aggregate_signatures([entry.signature for entry in group])
        ok = self._backend.fast_aggregate_verify([entry.key for entry in group], self._digest, total)
        return total if ok else None

    def _search(self, group: Sequence[_Entry], *, known_bad: bool) -> None:
        # Iterative over an explicit stack would save frames, but depth is only ceil(log2 n).
        if not known_bad:
            total = self._verify(group)
            if total is not None:
                self.group_signatures.append(total)
                return
        if len(group) == 1:
            self.bad.add(group[0].position)
            return
        middle = len(group) // 2
        left, right = group[:middle], group[middle:]
        left_total = self._verify(left)
        if left_total is not None:
            self.group_signatures.append(left_total)
            # The parent failed and the left half verified, so the right half cannot verify.
            self._search(right, known_bad=True)
            return
        self._search(left, known_bad=True)
        self._search(right, known_bad=False)


def _extend(
    backend: BlsBackend, aggregate: VerifiedAggregate, accepted: list[_Entry], search: _Bisection
) -> VerifiedAggregate:
    if not accepted:
        return aggregate
    parts = list(search.group_signatures)
    if aggregate.members:
        parts.append(aggregate.signature)
    signature = parts[0] if len(parts) == 1 else backend.aggregate_signatures(parts)
    pairs = sorted(
        [*zip(aggregate.members, aggregate.public_keys, strict=True)]
        + [(entry.member, entry.key) for entry in accepted],
        key=lambda pair: pair[0],
    )
    return VerifiedAggregate(
        aggregate.digest,
        tuple(member for member, _ in pairs),
        tuple(key for _, key in pairs),
        signature,
    )
