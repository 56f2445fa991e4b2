"""The aggregator: checks committee members' signatures over a request, keeps them in SQL, and submits
the aggregate to Exocore once the signed power is strictly above the AVS's threshold.

Invariants:

- A signature is acknowledged (202 ``accepted``) only after its row is committed; the in-memory
  aggregate is extended only after that commit. A restart rebuilds every open request's aggregate
  from its accepted rows (one aggregate verification each), so no acknowledged signature is lost.
- Verification never costs one pairing per signature: posts for one request are verified in
  batches (group commit: whoever holds the request's lock verifies everything queued meanwhile,
  with :func:`relayer.protocol.signature_batch.add_signatures`, aggregate-then-bisect).
- A request row is written only for an AVS-opened request (bearer token) or when the first VALID
  member signature over it arrives; refusals of posts over unknown requests are counted, not
  stored, and refusals stored per request are capped (:data:`MAX_STORED_REFUSALS_MIN`).
- Exactly one submission per request: the submission row (signed transaction bytes, hash,
  sequence) is committed before the broadcast; recovery looks the transaction and the claim / slash
  id up on Exocore before re-broadcasting the same bytes, and signs anew only when Exocore has
  neither and refused the old bytes for a consumed sequence.
- Evidence the AVS attaches is at most ``MAX_EVIDENCE_BYTES`` (Exocore's own limit), checked when
  the request is opened or the evidence attached: longer bytes are refused ``malformed_request``
  and never stored, so no request collects signatures for a message CheckTx would refuse.
- Nothing a poster sends raises anything but an :class:`AggregatorRefusalError` (or
  :class:`AggregatorUnavailableError` when Exocore or the database is down).

Memory: one verified aggregate per open request (at most ``max_open_requests``), and for conflict
checks the (slot, operator) -> digest of every accepted signature since the process started
(loaded from the database at start-up): tens of bytes per member and request, so a deployment
signing a few requests per epoch stays in the megabytes for months.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from eth_utils.crypto import keccak
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from avs.aggregator import store
from avs.aggregator.committee import CommitteeSource, CommitteeView, Member
from avs.aggregator.errors import (
    AggregatorError,
    AggregatorRefusalError,
    AggregatorUnavailableError,
    AvsNotServedError,
    ConflictingSignatureError,
    InvalidSignatureError,
    MalformedRequestError,
    MalformedSignatureError,
    NotAMemberError,
    RateLimitedError,
    RequestClosedError,
    RequestExpiredError,
    RequestNotFoundError,
    TooManyOpenRequestsError,
    UnauthorizedError,
)
from avs.aggregator.limits import TokenBuckets
from avs.aggregator.metrics import AggregatorMetrics
from avs.aggregator.submitter import ExocoreSubmitter, Outcome, build_message
from relayer.errors import ExorelayError
from relayer.protocol import bls
from relayer.protocol.claims import RewardClaim, SigningRequest, SlashRequest, decode_signing_request
from relayer.protocol.evidence import MAX_EVIDENCE_BYTES
from relayer.protocol.ids import OperatorAddress
from relayer.protocol.quorum import SignerBitmap
from relayer.protocol.signature_batch import (
    SignatureShare,
    VerifiedAggregate,
    add_signatures,
    verify_signature_batch,
)
from relayer.protocol.signature_batch import Verdict as BatchVerdict
from relayer.protocol.types import Hash32
from storage.aggregation import RequestKind, RequestState, SubmissionState, Verdict

_log = logging.getLogger(__name__)

MAX_STORED_REFUSALS_MIN: Final = 64
"""Refused posts stored per request: at least this many, or twice the committee size. Beyond it a
refusal is only counted in metrics, so posters cannot grow a request's rows without bound."""
REBROADCAST_AFTER_S: Final = 10.0
"""A broadcast transaction no block has after this long is sent again (same bytes, same hash):
a node may drop mempool transactions on restart. Several blocks upstream."""
SEQUENCE_MISMATCH_CODE: Final = 32
"""Cosmos SDK ``ErrWrongSequence``: the account's sequence moved past the transaction's."""
MAX_COMBINING_ROUNDS: Final = 16
"""Batches one poster's thread commits for others before returning its own answer (bounds the
latency a busy request adds to the post that happens to hold its lock)."""
COMBINING_WAIT_S: Final = 0.05
"""Safety net only: a waiting post re-tries the lock this often. It is woken earlier when its item
is decided, or handed the lock when the holder stops after :data:`MAX_COMBINING_ROUNDS`; a post
queued while the holder was leaving is picked up by the holder's re-check after releasing the
lock. (A short poll here made 40 waiting threads contend for the GIL with the one committing.)"""
DECODED_CACHE_ENTRIES: Final = 4_096
"""Decoded request bytes kept (a few hundred bytes each): far more than the open requests."""
DEFAULT_LIST_LIMIT: Final = 100
MAX_LIST_LIMIT: Final = 500


def utc_now() -> datetime:
    return datetime.now(UTC)


def hex0x(data: bytes) -> str:
    return "0x" + bytes(data).hex()


@dataclass(frozen=True)
class AggregatorSettings:
    chain_hash: Hash32
    """``exocore_chain`` every request must carry (keccak of the chain id without revision)."""
    avs: frozenset[str] = frozenset()
    """AVSs served (lower-case 0x); empty serves any."""
    grace_s: float = 2.0
    request_ttl_s: float = 3_600.0
    max_open_requests: int = 1_000
    rate_per_operator_per_s: float = 20.0
    rate_burst: int = 100
    open_token: str | None = None


@dataclass(frozen=True, slots=True)
class SignatureOutcome:
    digest: str
    verdict: Verdict
    signed_power: int
    threshold_power: int
    state: RequestState

    def document(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "verdict": self.verdict.value,
            "signed_power": str(self.signed_power),
            "threshold_power": str(self.threshold_power),
            "state": self.state.value,
        }


@dataclass
class _Pending:
    operator: str
    member: Member | None
    signature: bytes
    received_at: datetime
    parsed: bls.Signature | None
    """The G2 point, decompressed and subgroup-checked by the poster's thread before queueing (not
    under the request's lock, which serialises every post over the request); None when the bytes
    are malformed, which the batch then reports with the parser's reason."""
    outcome: SignatureOutcome | None = None
    refusal: AggregatorRefusalError | None = None
    failure: Exception | None = None
    done: bool = False
    event: threading.Event = field(default_factory=threading.Event)


@dataclass
class _Open:
    """A collecting or submitted request held in memory."""

    digest: str
    slot: str
    kind: RequestKind
    request: SigningRequest
    committee: CommitteeView
    aggregate: VerifiedAggregate
    expires_at: datetime
    state: RequestState = RequestState.COLLECTING
    accepted: dict[str, bytes] = field(default_factory=dict)
    signed_power: int = 0
    threshold_reached_at: datetime | None = None
    refusals_stored: int = 0
    submission_broadcast_at: datetime | None = None
    # A slash request's evidence bytes (keccak256 = its evidenceHash): Exocore refuses a committee
    # slash request without them, so one reaching its threshold waits for the AVS to attach them.
    evidence: bytes | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    queue_lock: threading.Lock = field(default_factory=threading.Lock)
    queue: list[_Pending] = field(default_factory=list)

    @property
    def reached(self) -> bool:
        return self.signed_power >= self.committee.threshold_power

    def outcome(self, verdict: Verdict) -> SignatureOutcome:
        return SignatureOutcome(
            self.digest, verdict, self.signed_power, self.committee.threshold_power, self.state
        )


def _kind_of(request: SigningRequest) -> RequestKind:
    return RequestKind.REWARD_CLAIM if isinstance(request, RewardClaim) else RequestKind.SLASH_REQUEST


def _digest_of(request: SigningRequest) -> Hash32:
    return request.claim_id if isinstance(request, RewardClaim) else request.slash_id


def _parse_hex(text: object, what: str, error: type[AggregatorRefusalError]) -> bytes:
    if not isinstance(text, str) or not text.startswith("0x"):
        raise error(f"{what} must be 0x-prefixed hex")
    try:
        return bytes.fromhex(text[2:])
    except ValueError:
        raise error(f"{what} is not valid hex") from None


class Aggregator:
    """One aggregator over one database, for one Exocore chain (thread-safe)."""

    def __init__(
        self,
        engine: Engine,
        committees: CommitteeSource,
        settings: AggregatorSettings,
        *,
        submitter: ExocoreSubmitter | None = None,
        metrics: AggregatorMetrics | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.engine = engine
        self.committees = committees
        self.settings = settings
        self.submitter = submitter
        self.metrics = metrics if metrics is not None else AggregatorMetrics()
        self.clock = clock
        self._open: dict[str, _Open] = {}
        self._slots: dict[str, dict[str, tuple[str, bytes]]] = {}
        """slot -> operator -> (digest, signature) of every accepted signature (conflict checks)."""
        self._evidence_seen: set[tuple[str, str, str]] = set()
        self._decoded: OrderedDict[str, tuple[SigningRequest, str]] = OrderedDict()
        self._lock = threading.RLock()
        self._rate = TokenBuckets(settings.rate_per_operator_per_s, settings.rate_burst)
        self.recover()

    # ------------------------------------------------------------------------------ recovery

    def recover(self) -> None:
        """Rebuild the in-memory state from the database (start-up, after a crash)."""
        with self.engine.connect() as conn:
            rows = store.requests_in(conn, [RequestState.COLLECTING, RequestState.SUBMITTED])
            accepted = store.accepted_signatures(conn)
            evidence = store.evidence_of(conn)
            submissions = store.open_submissions(conn)
        by_digest: dict[str, list[Any]] = {}
        submissions_by_digest = {sub.digest: sub for sub in submissions}
        with self._lock:
            self._open.clear()
            self._slots.clear()
            for sig in accepted:
                self._slots.setdefault(sig.slot, {})[sig.operator] = (
                    sig.digest,
                    bytes.fromhex(sig.signature[2:]),
                )
                by_digest.setdefault(sig.digest, []).append(sig)
            self._evidence_seen = {(e.slot, e.operator, e.second_digest) for e in evidence}
            for row in rows:
                request = decode_signing_request(bytes.fromhex(row.request[2:]))
                kind = RequestKind(row.kind)
                committee = self.committees.committee(row.avs, int(row.epoch), kind)
                if committee is None:
                    _log.warning("aggregator: committee of open request %s is gone; left as is", row.digest)
                    continue
                shares = [
                    SignatureShare(
                        committee.members[s.operator].index,
                        committee.members[s.operator].public_key,
                        bytes.fromhex(s.signature[2:]),
                    )
                    for s in by_digest.get(row.digest, [])
                    if s.operator in committee.members
                ]
                # One aggregate verification for all of them (they were each accepted before).
                result = verify_signature_batch(bytes.fromhex(row.digest[2:]), shares)
                entry = _Open(
                    digest=row.digest,
                    slot=row.slot,
                    kind=kind,
                    request=request,
                    committee=committee,
                    aggregate=result.aggregate,
                    expires_at=row.expires_at,
                    state=RequestState(row.state),
                    threshold_reached_at=row.threshold_reached_at,
                    refusals_stored=int(row.refusals_stored),
                    evidence=None if row.evidence is None else bytes.fromhex(row.evidence[2:]),
                )
                submission = submissions_by_digest.get(row.digest)
                if submission is not None:
                    entry.submission_broadcast_at = submission.broadcast_at
                for s in by_digest.get(row.digest, []):
                    if s.operator in committee.members:
                        entry.accepted[s.operator] = bytes.fromhex(s.signature[2:])
                entry.signed_power = sum(committee.members[op].power for op in entry.accepted)
                self._open[row.digest] = entry
        if self.submitter is not None:
            for sub in submissions:
                self.submitter.reserve_after(int(sub.sequence))
        self.metrics.open_requests.set(self._collecting_count())

    def _collecting_count(self) -> int:
        return sum(1 for entry in self._open.values() if entry.state is RequestState.COLLECTING)

    # ------------------------------------------------------------------------------ decoding

    def _decode(self, request_hex: object) -> tuple[SigningRequest, str]:
        # Every member posts the same request bytes: decode each distinct one once (bounded cache of
        # requests that decoded AND passed the checks below, so garbage never fills it).
        if isinstance(request_hex, str):
            cached = self._decoded.get(request_hex)
            if cached is not None:
                return cached
        data = _parse_hex(request_hex, "request", MalformedRequestError)
        try:
            request = decode_signing_request(data)
        except ExorelayError as exc:
            raise MalformedRequestError(f"not a reward claim or slash request: {exc}") from None
        if request.exocore_chain != self.settings.chain_hash:
            raise MalformedRequestError("the request is for another Exocore chain")
        avs = hex0x(request.avs)
        if self.settings.avs and avs not in self.settings.avs:
            raise AvsNotServedError(f"this aggregator does not serve AVS {avs}", avs=avs)
        decoded = (request, hex0x(_digest_of(request)))
        if isinstance(request_hex, str):
            with self._lock:
                self._decoded[request_hex] = decoded
                while len(self._decoded) > DECODED_CACHE_ENTRIES:
                    self._decoded.popitem(last=False)
        return decoded

    def _committee(self, request: SigningRequest) -> CommitteeView:
        avs = hex0x(request.avs)
        committee = self.committees.committee(avs, request.epoch, _kind_of(request))
        if committee is None:
            raise NotAMemberError(f"Exocore has no committee of AVS {avs} for epoch {request.epoch}")
        return committee

    def _closed_refusal(self, digest: str) -> AggregatorRefusalError | None:
        """The refusal for a known request that is no longer collecting (None if unknown or open)."""
        with self.engine.connect() as conn:
            row = store.request_row(conn, digest)
        if row is None or row.state == RequestState.COLLECTING.value:
            return None  # unknown, or opened by a concurrent post (its entry is in memory now)
        if row.state == RequestState.EXPIRED.value:
            return RequestExpiredError(f"request {digest} expired: {row.state_reason}", digest=digest)
        return RequestClosedError(f"request {digest} is {row.state}, no longer collecting", digest=digest)

    def _refuse(self, refusal: AggregatorRefusalError) -> AggregatorRefusalError:
        self.metrics.refusals.labels(code=refusal.code).inc()
        return refusal

    # ------------------------------------------------------------------------------ opening

    def open_request(
        self, request_hex: object, evidence_hex: object, token: str | None
    ) -> tuple[dict[str, Any], bool]:
        """Open a request for the AVS (bearer ``token``); (document, created)."""
        try:
            expected = self.settings.open_token
            if expected is None:
                raise UnauthorizedError("opening requests by token is disabled (no token configured)")
            if token is None or not _constant_time_equal(token, expected):
                raise UnauthorizedError("missing or wrong bearer token")
            request, digest = self._decode(request_hex)
            evidence: bytes | None = None
            if evidence_hex is not None:
                evidence = _parse_hex(evidence_hex, "evidence", MalformedRequestError)
                if isinstance(request, RewardClaim):
                    raise MalformedRequestError("evidence only goes with a slash request")
                if len(evidence) > MAX_EVIDENCE_BYTES:
                    # Exocore refuses the slash message at CheckTx: never collect signatures for it.
                    raise MalformedRequestError(
                        f"evidence is {len(evidence)} bytes; Exocore accepts at most "
                        f"{MAX_EVIDENCE_BYTES} (MAX_EVIDENCE_BYTES)",
                        size=len(evidence),
                        limit=MAX_EVIDENCE_BYTES,
                    )
                if keccak(evidence) != request.evidence_hash:
                    raise MalformedRequestError("keccak256(evidence) is not the request's evidenceHash")
            with self._lock:
                if digest in self._open:
                    if evidence is not None:  # opened by a signature first: attach the AVS's evidence
                        with self._write() as conn:
                            store.set_missing_evidence(conn, digest, hex0x(evidence))
                        if self._open[digest].evidence is None:
                            self._open[digest].evidence = evidence
                    return self.document(digest), False
                if self._closed_refusal(digest) is not None:
                    return self.document(digest), False
                committee = self._committee(request)
                self._check_capacity()
                entry = self._new_entry(request, digest, committee)
                entry.evidence = evidence
                with self._write() as conn:
                    store.insert_request(
                        conn, self._request_values(entry, request, evidence, opened_by="avs")
                    )
                self._open[digest] = entry
                self.metrics.open_requests.set(self._collecting_count())
                self.metrics.requests.labels(state=RequestState.COLLECTING.value).inc()
            return self.document(digest), True
        except AggregatorRefusalError as refusal:
            raise self._refuse(refusal) from None

    def _check_capacity(self) -> None:
        if self._collecting_count() >= self.settings.max_open_requests:
            raise TooManyOpenRequestsError(
                f"{self.settings.max_open_requests} requests are already collecting; try later"
            )

    def _new_entry(self, request: SigningRequest, digest: str, committee: CommitteeView) -> _Open:
        now = self.clock()
        return _Open(
            digest=digest,
            slot=hex0x(request.signing_slot),
            kind=_kind_of(request),
            request=request,
            committee=committee,
            aggregate=VerifiedAggregate.empty(bytes.fromhex(digest[2:])),
            expires_at=now + timedelta(seconds=self.settings.request_ttl_s),
        )

    def _request_values(
        self, entry: _Open, request: SigningRequest, evidence: bytes | None, *, opened_by: str
    ) -> dict[str, Any]:
        now = self.clock()
        return {
            "digest": entry.digest,
            "slot": entry.slot,
            "kind": entry.kind.value,
            "avs": hex0x(request.avs),
            "epoch": request.epoch,
            "request": hex0x(request.canonical_bytes),
            "evidence": None if evidence is None else hex0x(evidence),
            "opened_by": opened_by,
            "state": RequestState.COLLECTING.value,
            "signed_power": 0,
            "threshold_power": entry.committee.threshold_power,
            "total_power": entry.committee.total_power,
            "committee_size": entry.committee.size,
            "refusals_stored": 0,
            "opened_at": now,
            "expires_at": entry.expires_at,
            "updated_at": now,
        }

    # ------------------------------------------------------------------------------ signatures

    def post_signature(
        self, request_hex: object, operator: object, signature_hex: object, *, source: str = ""
    ) -> SignatureOutcome:
        """Check and record one member's signature (see the module invariants). ``source`` (the
        poster's address) keys the rate limit with the operator: posts that merely claim to be
        a member, from elsewhere, cannot use up that member's allowance."""
        try:
            outcome = self._post(request_hex, operator, signature_hex, source)
        except AggregatorRefusalError as refusal:
            raise self._refuse(refusal) from None
        self.metrics.signatures.labels(verdict=outcome.verdict.value).inc()
        return outcome

    def _post(
        self, request_hex: object, operator: object, signature_hex: object, source: str
    ) -> SignatureOutcome:
        request, digest = self._decode(request_hex)
        if not isinstance(operator, str):
            raise MalformedRequestError("operator must be a bech32 exo1... account")
        entry = self._open.get(digest)
        if entry is not None and operator in entry.committee.members:
            account = operator  # the committee's own spelling: canonical already
        else:
            try:
                account = str(OperatorAddress.parse(operator))
            except ExorelayError:
                raise MalformedRequestError(f"operator {operator[:100]!r} is not a bech32 account") from None
        signature = _parse_hex(signature_hex, "signature", MalformedSignatureError)
        if len(signature) != bls.G2_COMPRESSED_BYTES:
            raise MalformedSignatureError(
                f"a signature is {bls.G2_COMPRESSED_BYTES} bytes (compressed G2), got {len(signature)}"
            )
        if not self._rate.take(f"{account}|{source}"):
            raise RateLimitedError(f"too many posts for operator {account}; slow down", operator=account)
        if entry is None:
            return self._first_signature(request, digest, account, signature)
        return self._enqueue(entry, account, signature)

    def _enqueue(self, entry: _Open, account: str, signature: bytes) -> SignatureOutcome:
        """Decide a checked post over an open request in the request's next batch."""
        member = entry.committee.members.get(account)
        parsed: bls.Signature | None = None
        if member is not None and entry.accepted.get(account) != signature:
            try:  # the costly G2 decompression, here rather than under the request's lock
                parsed = bls.parse_signature(signature)
            except ExorelayError:
                parsed = None  # malformed: the batch refuses it with the parser's reason
        item = _Pending(account, member, signature, self.clock(), parsed)
        with entry.queue_lock:
            entry.queue.append(item)
        # Flat combining: whoever gets the request's lock verifies and commits everything queued,
        # round after round while posts keep arriving; the others wait on their own item (a
        # convoy through the lock would hand it over one thread, and one small batch, at a time).
        while not item.done:
            if entry.lock.acquire(blocking=False):
                self._combine(entry)
            else:
                item.event.wait(COMBINING_WAIT_S)
                item.event.clear()
        if item.failure is not None:
            raise AggregatorUnavailableError(f"signature not recorded: {item.failure}") from item.failure
        if item.refusal is not None:
            raise item.refusal
        assert item.outcome is not None  # _process decides every item
        return item.outcome

    def _combine(self, entry: _Open) -> None:
        """Commit queued batches while holding ``entry.lock`` (acquired by the caller, released
        here). Leaving, re-check the queue after the release: a post queued while this thread was
        leaving failed to take the lock, so nobody else would commit it. After
        :data:`MAX_COMBINING_ROUNDS` the lock is handed to the oldest queued post instead."""
        while True:
            handover = False
            try:
                for _ in range(MAX_COMBINING_ROUNDS):
                    with entry.queue_lock:
                        batch, entry.queue = entry.queue, []
                    if not batch:
                        break
                    try:
                        self._process(entry, batch)
                    except Exception as exc:  # a bug must fail these posts, never strand them
                        _log.exception("aggregator: batch over %s failed", entry.digest)
                        for processed in batch:
                            processed.failure, processed.refusal, processed.done = exc, None, True
                    for processed in batch:
                        if processed.done:
                            processed.event.set()
                else:
                    handover = True
            finally:
                entry.lock.release()
            with entry.queue_lock:
                oldest = entry.queue[0] if entry.queue else None
            if oldest is None:
                return
            if handover:
                oldest.event.set()  # that post's thread takes the lock (or a newer arrival does)
                return
            if not entry.lock.acquire(blocking=False):
                return  # a newer arrival holds it and will see the queue

    def _conflict(self, slot: str, operator: str, digest: str) -> tuple[str, bytes] | None:
        signed = self._slots.get(slot, {}).get(operator)
        if signed is None or signed[0] == digest:
            return None
        return signed

    def _first_signature(
        self, request: SigningRequest, digest: str, operator: str, signature: bytes
    ) -> SignatureOutcome:
        """A post over a request that is not open: stored only if it opens it (valid member)."""
        committee = self._committee(request)
        member = committee.members.get(operator)
        if member is None:
            raise NotAMemberError(
                f"{operator} is not in the committee of epoch {request.epoch}", operator=operator
            )
        refusal = self._closed_refusal(digest)
        if refusal is not None:
            raise refusal
        result = verify_signature_batch(
            bytes.fromhex(digest[2:]), [SignatureShare(member.index, member.public_key, signature)]
        )
        (verdict,) = result.verdicts
        if verdict.verdict is BatchVerdict.MALFORMED:
            raise MalformedSignatureError(f"not a signature: {verdict.reason}")
        if verdict.verdict is not BatchVerdict.VALID:
            raise InvalidSignatureError(
                f"does not verify over {digest} under {operator}'s registered key", operator=operator
            )
        slot = hex0x(request.signing_slot)
        with self._lock:
            entry = self._open.get(digest)
            if entry is None:
                conflict = self._conflict(slot, operator, digest)
                if conflict is not None:
                    self._record_evidence(slot, request, operator, digest, signature, conflict)
                    raise ConflictingSignatureError(
                        f"{operator} already signed {conflict[0]} in this signing slot; recorded as evidence",
                        operator=operator,
                        signed=conflict[0],
                    )
                self._check_capacity()
                entry = self._new_entry(request, digest, committee)
                entry.aggregate = result.aggregate
                entry.accepted[operator] = signature
                entry.signed_power = member.power
                now = self.clock()
                if entry.reached:
                    entry.threshold_reached_at = now
                values = self._request_values(entry, request, None, opened_by="signature")
                values.update(
                    signed_power=entry.signed_power, threshold_reached_at=entry.threshold_reached_at
                )
                row = store.SignatureRow(
                    digest, operator, member.index, hex0x(signature), Verdict.ACCEPTED, None, now
                )
                with self._write() as conn:
                    store.insert_request(conn, values)
                    store.insert_signatures(conn, [row])
                self._open[digest] = entry
                self._slots.setdefault(slot, {})[operator] = (digest, signature)
                self.metrics.open_requests.set(self._collecting_count())
                self.metrics.requests.labels(state=RequestState.COLLECTING.value).inc()
                return entry.outcome(Verdict.ACCEPTED)
        # Opened meanwhile by another post (already checked and rate-counted): its batch path.
        return self._enqueue(entry, operator, signature)

    def _record_evidence(  # noqa: PLR0917 - the two signatures' parts, named
        self,
        slot: str,
        request: SigningRequest,
        operator: str,
        digest: str,
        signature: bytes,
        first: tuple[str, bytes],
    ) -> None:
        key = (slot, operator, digest)
        if key in self._evidence_seen:
            return
        with self._write() as conn:
            store.insert_evidence(
                conn,
                {
                    "slot": slot,
                    "avs": hex0x(request.avs),
                    "operator": operator,
                    "first_digest": first[0],
                    "first_signature": hex0x(first[1]),
                    "second_request": hex0x(request.canonical_bytes),
                    "second_digest": digest,
                    "second_signature": hex0x(signature),
                    "recorded_at": self.clock(),
                },
            )
        self._evidence_seen.add(key)
        self.metrics.evidence.inc()

    def _process(self, entry: _Open, batch: list[_Pending]) -> None:
        """Decide a batch of posts over one open request (the caller holds ``entry.lock``)."""
        self.metrics.batch_posts.observe(len(batch))
        rows: list[store.SignatureRow] = []
        accepted_now: list[tuple[_Pending, Member]] = []
        shares: list[SignatureShare] = []
        share_items: list[_Pending] = []
        conflicts: list[tuple[_Pending, tuple[str, bytes]]] = []
        cap = max(MAX_STORED_REFUSALS_MIN, 2 * entry.committee.size)
        stored_refusals = entry.refusals_stored

        def refuse(item: _Pending, refusal: AggregatorRefusalError, member: Member | None) -> None:
            nonlocal stored_refusals
            item.refusal = refusal
            if stored_refusals < cap:
                stored_refusals += 1
                rows.append(
                    store.SignatureRow(
                        entry.digest,
                        item.operator,
                        None if member is None else member.index,
                        hex0x(item.signature),
                        Verdict(refusal.code),
                        refusal.message,
                        item.received_at,
                    )
                )

        duplicates: list[_Pending] = []
        batched: dict[str, bytes] = {}
        deferred: list[_Pending] = []
        for item in batch:
            member = item.member
            if entry.state is not RequestState.COLLECTING:
                refuse(item, RequestClosedError(f"request {entry.digest} is {entry.state.value}"), member)
            elif item.received_at >= entry.expires_at:
                refuse(item, RequestExpiredError(f"request {entry.digest} expired"), member)
            elif member is None:
                refuse(
                    item,
                    NotAMemberError(
                        f"{item.operator} is not in the committee of epoch {entry.committee.epoch}",
                        operator=item.operator,
                    ),
                    None,
                )
            elif item.operator in entry.accepted:
                if entry.accepted[item.operator] == item.signature:
                    duplicates.append(item)
                else:
                    refuse(
                        item,
                        InvalidSignatureError(
                            f"{item.operator} already has a valid signature over {entry.digest}; BLS "
                            "signatures are unique, so this different one cannot verify",
                            operator=item.operator,
                        ),
                        member,
                    )
            else:
                conflict = self._conflict(entry.slot, item.operator, entry.digest)
                earlier = batched.get(item.operator)
                if conflict is not None:
                    conflicts.append((item, conflict))
                elif earlier == item.signature:
                    duplicates.append(item)  # a copy of a post in this very batch
                elif earlier is not None:
                    deferred.append(item)  # decided after the member's first post of this batch
                else:
                    batched[item.operator] = item.signature
                    shares.append(
                        SignatureShare(
                            member.index,
                            member.public_key,
                            item.signature if item.parsed is None else item.parsed,
                        )
                    )
                    share_items.append(item)

        result = add_signatures(entry.aggregate, shares) if shares else None
        if result is not None:
            for item, verdict in zip(share_items, result.verdicts, strict=True):
                member = item.member
                assert member is not None
                if verdict.verdict is BatchVerdict.VALID:
                    accepted_now.append((item, member))
                    rows.append(
                        store.SignatureRow(
                            entry.digest,
                            item.operator,
                            member.index,
                            hex0x(item.signature),
                            Verdict.ACCEPTED,
                            None,
                            item.received_at,
                        )
                    )
                elif verdict.verdict is BatchVerdict.DUPLICATE:
                    duplicates.append(item)
                elif verdict.verdict is BatchVerdict.MALFORMED:
                    refuse(item, MalformedSignatureError(f"not a signature: {verdict.reason}"), member)
                else:
                    refuse(
                        item,
                        InvalidSignatureError(
                            f"does not verify over {entry.digest} under {item.operator}'s registered key",
                            operator=item.operator,
                        ),
                        member,
                    )
        evidence: list[tuple[_Pending, tuple[str, bytes]]] = []
        for item, conflict in conflicts:
            member = item.member
            assert member is not None
            if _verifies(member, entry.digest, item.signature):
                evidence.append((item, conflict))
                item.refusal = ConflictingSignatureError(
                    f"{item.operator} already signed {conflict[0]} in this signing slot; "
                    "recorded as evidence",
                    operator=item.operator,
                    signed=conflict[0],
                )
            else:
                refuse(item, InvalidSignatureError(f"does not verify over {entry.digest}"), member)
        for item in duplicates:
            if stored_refusals < cap:
                stored_refusals += 1
                rows.append(
                    store.SignatureRow(
                        entry.digest,
                        item.operator,
                        None if item.member is None else item.member.index,
                        hex0x(item.signature),
                        Verdict.DUPLICATE,
                        "already accepted",
                        item.received_at,
                    )
                )

        new_power = entry.signed_power + sum(member.power for _, member in accepted_now)
        reached_at = entry.threshold_reached_at
        if reached_at is None and new_power >= entry.committee.threshold_power:
            reached_at = self.clock()
        try:
            with self._write(single_statement=True) as conn:
                store.record_batch(
                    conn,
                    entry.digest,
                    rows,
                    signed_power=new_power,
                    threshold_reached_at=reached_at,
                    refusals_stored=stored_refusals,
                    updated_at=self.clock(),
                )
            for item, conflict in evidence:
                self._record_evidence(
                    entry.slot, entry.request, item.operator, entry.digest, item.signature, conflict
                )
        except AggregatorUnavailableError as exc:
            for item in batch:
                item.failure, item.refusal, item.done = exc, None, True
            return
        if result is not None:
            entry.aggregate = result.aggregate
        for item, _member in accepted_now:
            entry.accepted[item.operator] = item.signature
            self._slots.setdefault(entry.slot, {})[item.operator] = (entry.digest, item.signature)
        entry.signed_power = new_power
        entry.threshold_reached_at = reached_at
        entry.refusals_stored = stored_refusals
        for item, _member in accepted_now:
            item.outcome = entry.outcome(Verdict.ACCEPTED)
        for item in duplicates:
            item.outcome = entry.outcome(Verdict.DUPLICATE)
        if deferred:
            with entry.queue_lock:
                entry.queue[:0] = deferred
        for item in batch:
            # Refusals are counted by post_signature when raised to the poster.
            item.done = not any(item is later for later in deferred)

    # ------------------------------------------------------------------------------ reading

    def document(self, digest: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = store.request_row(conn, digest)
            if row is None:
                raise RequestNotFoundError(f"no request {digest}")
            signatures = store.signatures_of(conn, digest)
            submission = store.submission_row(conn, digest)
        return request_document(row, signatures, submission)

    def list_documents(
        self, *, state: str | None, avs: str | None, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        after = _decode_cursor(cursor) if cursor else None
        with self.engine.connect() as conn:
            rows = store.list_requests(conn, state=state, avs=avs, limit=limit + 1, after=after)
            page = rows[:limit]
            docs = [
                request_document(
                    row, store.signatures_of(conn, row.digest), store.submission_row(conn, row.digest)
                )
                for row in page
            ]
        next_cursor = None
        if len(rows) > limit and page:
            last = page[-1]
            next_cursor = f"{last.opened_at.isoformat()}|{last.digest}"
        return docs, next_cursor

    # ------------------------------------------------------------------------------ the tick

    def tick(self) -> None:
        """Submit requests whose grace window is over, expire stale ones, follow submissions."""
        now = self.clock()
        with self._lock:
            entries = list(self._open.values())
        for entry in entries:
            try:
                with entry.lock:
                    if entry.state is RequestState.SUBMITTED:
                        self._follow(entry)
                    elif entry.state is RequestState.COLLECTING:
                        reached = entry.threshold_reached_at
                        if reached is not None and now >= reached + timedelta(seconds=self.settings.grace_s):
                            self._submit(entry)
                        elif reached is None and now >= entry.expires_at:
                            self._expire(entry)
            except AggregatorUnavailableError as exc:
                _log.warning("aggregator: request %s waits: %s", entry.digest, exc)
            # Posts that found the lock taken by this tick wait on their item: wake the oldest, so
            # it commits the queue now rather than at its safety-net re-try.
            with entry.queue_lock:
                if entry.queue:
                    entry.queue[0].event.set()

    def _close(self, entry: _Open, state: RequestState, reason: str | None) -> None:
        entry.state = state
        with self._lock:
            self._open.pop(entry.digest, None)
            self.metrics.open_requests.set(self._collecting_count())
        self.metrics.requests.labels(state=state.value).inc()
        _log.info(
            "aggregator: request %s is %s%s", entry.digest, state.value, f": {reason}" if reason else ""
        )

    def _expire(self, entry: _Open) -> None:
        reason = (
            "expired at its threshold without the evidence bytes Exocore requires of a slash request "
            "(the AVS never attached them)"
            if entry.reached
            else f"below threshold when it expired: signed power {entry.signed_power} of "
            f"{entry.committee.threshold_power} needed "
            f"({entry.committee.threshold} of {entry.committee.total_power})"
        )
        with self._write() as conn:
            store.update_request(
                conn,
                entry.digest,
                state=RequestState.EXPIRED.value,
                state_reason=reason,
                updated_at=self.clock(),
            )
        self._close(entry, RequestState.EXPIRED, reason)

    def _submit(self, entry: _Open) -> None:
        if self.submitter is None:
            return
        if isinstance(entry.request, SlashRequest) and entry.evidence is None:
            # Exocore rejects a committee slash request without its evidence (evidence_missing):
            # wait for the AVS to attach it (POST /v1/requests with the evidence), until expiry.
            if self.clock() >= entry.expires_at:
                self._expire(entry)
            return
        started = time.perf_counter()
        funding = (
            entry.committee.funding.get(hex0x(entry.request.token), 0)
            if isinstance(entry.request, RewardClaim)
            else 0
        )
        message = build_message(entry.request, entry.aggregate, entry.committee.size, funding, entry.evidence)
        signed = self.submitter.sign(message)
        now = self.clock()
        bitmap = SignerBitmap.from_indices(entry.aggregate.members, entry.committee.size).encode()
        with self._write() as conn:
            store.insert_submission(
                conn,
                {
                    "digest": entry.digest,
                    "state": SubmissionState.SIGNED.value,
                    "signer": self.submitter.signer,
                    "account_number": signed.account_number,
                    "sequence": signed.sequence,
                    "tx_hash": signed.tx_hash,
                    "tx_bytes": hex0x(signed.tx_bytes),
                    "signed_power": entry.signed_power,
                    "signers": len(entry.aggregate),
                    "created_at": now,
                },
            )
            store.update_request(
                conn,
                entry.digest,
                state=RequestState.SUBMITTED.value,
                aggregate_signature=hex0x(entry.aggregate.signature.compressed),
                signer_bitmap=hex0x(bitmap),
                updated_at=now,
            )
        entry.state = RequestState.SUBMITTED
        with self._lock:
            self.metrics.open_requests.set(self._collecting_count())
        self.metrics.requests.labels(state=RequestState.SUBMITTED.value).inc()
        self._broadcast(entry, signed.tx_bytes)
        self.metrics.submit_seconds.observe(time.perf_counter() - started)

    def _broadcast(self, entry: _Open, tx_bytes: bytes) -> None:
        assert self.submitter is not None
        result = self.submitter.broadcast(tx_bytes)
        now = self.clock()
        if result.accepted:
            with self._write() as conn:
                store.update_submission(
                    conn, entry.digest, state=SubmissionState.BROADCAST.value, broadcast_at=now
                )
            entry.submission_broadcast_at = now
            self.metrics.submissions.labels(outcome="broadcast").inc()
            return
        if "already" in result.raw_log and "cache" in result.raw_log:
            entry.submission_broadcast_at = now  # the node has it in its mempool already
            return
        self.metrics.checktx_refusals.labels(code=str(result.code)).inc()
        outcome = self.submitter.outcome(
            entry.kind is RequestKind.REWARD_CLAIM, bytes.fromhex(entry.digest[2:])
        )
        if outcome.outcome is not Outcome.ABSENT:
            entry.submission_broadcast_at = now
            return  # it landed (an earlier broadcast, or another submitter): follow it
        if result.code == SEQUENCE_MISMATCH_CODE:
            # Our old bytes can never land (their sequence is used): sign again, same row.
            self.submitter.resync()
            funding = (
                entry.committee.funding.get(hex0x(entry.request.token), 0)
                if isinstance(entry.request, RewardClaim)
                else 0
            )
            signed = self.submitter.sign(
                build_message(entry.request, entry.aggregate, entry.committee.size, funding, entry.evidence)
            )
            with self._write() as conn:
                store.update_submission(
                    conn,
                    entry.digest,
                    state=SubmissionState.SIGNED.value,
                    sequence=signed.sequence,
                    account_number=signed.account_number,
                    tx_hash=signed.tx_hash,
                    tx_bytes=hex0x(signed.tx_bytes),
                )
            entry.submission_broadcast_at = None
            return
        # CheckTx refused the transaction for good: its sequence was not consumed on chain, so the
        # next transaction must take it again (re-read the account) rather than be refused as a
        # wrong sequence first.
        self.submitter.resync()
        reason = f"refused by Exocore's CheckTx (code {result.code}): {result.raw_log}"
        with self._write() as conn:
            store.update_submission(
                conn, entry.digest, state=SubmissionState.FAILED.value, tx_code=result.code, detail=reason
            )
            store.update_request(
                conn, entry.digest, state=RequestState.REJECTED.value, state_reason=reason, updated_at=now
            )
        self.metrics.submissions.labels(outcome="refused").inc()
        self._close(entry, RequestState.REJECTED, reason)

    def _follow(self, entry: _Open) -> None:
        assert self.submitter is not None
        with self.engine.connect() as conn:
            sub = store.submission_row(conn, entry.digest)
        if sub is None:
            return
        state = SubmissionState(sub.state)
        if state is SubmissionState.SIGNED or state is SubmissionState.BROADCAST:
            found = self.submitter.lookup(sub.tx_hash)
            if found is None:
                stale = entry.submission_broadcast_at is None or (
                    self.clock() - entry.submission_broadcast_at > timedelta(seconds=REBROADCAST_AFTER_S)
                )
                if not stale:
                    return  # broadcast recently: wait for its block
                # Never broadcast (a crash right after the intent) or not in a block for long: did
                # it land some other way (an earlier broadcast, another submitter)? Else send the
                # same bytes again.
                outcome = self.submitter.outcome(
                    entry.kind is RequestKind.REWARD_CLAIM, bytes.fromhex(entry.digest[2:])
                )
                if outcome.outcome is not Outcome.ABSENT:
                    self._decide(entry, outcome.outcome, outcome.reason)
                    return
                self._broadcast(entry, bytes.fromhex(sub.tx_bytes[2:]))
                return
            with self._write() as conn:
                store.update_submission(
                    conn,
                    entry.digest,
                    state=SubmissionState.COMMITTED.value,
                    height=found.height,
                    tx_code=found.code,
                    detail=found.raw_log or None,
                    committed_at=self.clock(),
                )
            if not found.succeeded:
                self._decide(
                    entry, Outcome.REJECTED, f"transaction failed (code {found.code}): {found.raw_log}"
                )
                return
        outcome = self.submitter.outcome(
            entry.kind is RequestKind.REWARD_CLAIM, bytes.fromhex(entry.digest[2:])
        )
        if outcome.outcome in (Outcome.VERIFIED, Outcome.REJECTED):
            self._decide(entry, outcome.outcome, outcome.reason)

    def _decide(self, entry: _Open, outcome: Outcome, reason: str | None) -> None:
        if outcome is Outcome.PENDING:
            return
        state = RequestState.VERIFIED if outcome is Outcome.VERIFIED else RequestState.REJECTED
        with self._write() as conn:
            store.update_request(
                conn, entry.digest, state=state.value, state_reason=reason, updated_at=self.clock()
            )
        self.metrics.submissions.labels(outcome=state.value).inc()
        self._close(entry, state, reason)

    # ------------------------------------------------------------------------------ database

    def _write(self, *, single_statement: bool = False) -> _Transaction:
        return _Transaction(self.engine, single_statement=single_statement)


class _Transaction:
    """``engine.begin()`` whose database faults become :class:`AggregatorUnavailableError`.

    ``single_statement``: the body runs one statement that is atomic by itself where
    :func:`store.single_statement_writes` says so; there it runs in autocommit (no BEGIN / COMMIT
    round trips), elsewhere in a transaction as usual."""

    def __init__(self, engine: Engine, *, single_statement: bool = False) -> None:
        self._engine = engine
        self._single_statement = single_statement
        self._context: Any = None

    def __enter__(self) -> Any:
        try:
            if self._single_statement:
                self._context = self._engine.connect()
                conn = self._context.__enter__()
                if store.single_statement_writes(conn):
                    return conn.execution_options(isolation_level="AUTOCOMMIT")
                self._context.__exit__(None, None, None)
            self._context = self._engine.begin()
            return self._context.__enter__()
        except SQLAlchemyError as exc:
            raise AggregatorUnavailableError(f"database unavailable: {type(exc).__name__}") from exc

    def __exit__(self, exc_type: Any, exc: BaseException | None, traceback: Any) -> Literal[False]:
        try:
            self._context.__exit__(exc_type, exc, traceback)  # commit, or roll back on ``exc``
        except (SQLAlchemyError, ExorelayError) as error:
            if error is not exc:  # the commit itself failed
                raise AggregatorUnavailableError(_database_fault(error)) from error
        if isinstance(exc, (SQLAlchemyError, ExorelayError)) and not isinstance(exc, AggregatorError):
            raise AggregatorUnavailableError(_database_fault(exc)) from exc
        return False


def _database_fault(error: BaseException) -> str:
    if isinstance(error, IntegrityError):
        return f"the database refused the write: {str(error.orig).splitlines()[0] if error.orig else error}"
    if isinstance(error, SQLAlchemyError):
        detail = str(getattr(error, "orig", None) or error).strip().splitlines()
        return f"database error: {type(error).__name__}: {detail[0] if detail else ''}"
    return f"database unavailable: {error}"


def _verifies(member: Member, digest: str, signature: bytes) -> bool:
    """One signature alone (the rare conflicting-signature path); malformed bytes do not verify."""
    result = verify_signature_batch(
        bytes.fromhex(digest[2:]), [SignatureShare(member.index, member.public_key, signature)]
    )
    return result.verdicts[0].valid


def _constant_time_equal(a: str, b: str) -> bool:
    import hmac  # noqa: PLC0415

    return hmac.compare_digest(a.encode(), b.encode())


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    opened, sep, digest = cursor.partition("|")
    try:
        if not sep:
            raise ValueError("no separator")
        return datetime.fromisoformat(opened), digest
    except ValueError:
        raise MalformedRequestError(f"bad cursor {cursor[:80]!r}") from None


def request_document(row: Any, signatures: list[Any], submission: Any) -> dict[str, Any]:
    """The API's request document (docs/protocol.md, "Signature collection")."""
    return {
        "digest": row.digest,
        "slot": row.slot,
        "kind": row.kind,
        "avs": row.avs,
        "epoch": int(row.epoch),
        "request": row.request,
        "evidence": row.evidence,
        "state": row.state,
        "state_reason": row.state_reason,
        "opened_by": row.opened_by,
        "opened_at": row.opened_at.isoformat(),
        "expires_at": row.expires_at.isoformat(),
        "threshold_reached_at": None
        if row.threshold_reached_at is None
        else row.threshold_reached_at.isoformat(),
        "signed_power": str(row.signed_power),
        "threshold_power": str(row.threshold_power),
        "total_power": str(row.total_power),
        "committee_size": int(row.committee_size),
        "signatures": [
            {
                "operator": s.operator,
                "member_index": s.member_index,
                "verdict": s.verdict,
                "reason": s.reason,
                "received_at": s.received_at.isoformat(),
            }
            for s in signatures
        ],
        "submission": None
        if submission is None
        else {
            "state": submission.state,
            "signer": submission.signer,
            "tx_hash": submission.tx_hash,
            "sequence": int(submission.sequence),
            "signers": int(submission.signers),
            "signed_power": str(submission.signed_power),
            "height": submission.height,
            "tx_code": submission.tx_code,
            "detail": submission.detail,
            "created_at": submission.created_at.isoformat(),
            "broadcast_at": None if submission.broadcast_at is None else submission.broadcast_at.isoformat(),
        },
    }
