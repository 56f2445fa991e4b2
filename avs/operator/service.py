"""``exorelay operator run``: poll the aggregators, check, protect, sign, post.

One loop on one thread, every ``operator.poll_interval_s``. For each configured aggregator and AVS it
reads the requests in state ``collecting`` and decides each one once (per process; decisions that
must survive a restart are in the protection database):

1. decode the request strictly and recompute its digest (it must be the document's ``digest``);
2. :func:`avs.operator.checks.check_request` against Exocore's facts and the local policy; a refusal
   is logged (warning), counted and recorded in the protection database, and never retried;
3. :meth:`avs.operator.protection.SlashingProtection.authorize`: check-and-record of the
   (key, slot) -> digest binding in one committed transaction; another digest in the slot is a
   ``conflicting_slot`` refusal;
4. sign the digest (only now) and post the signature to every aggregator that has not settled it
   yet (accepted, duplicate or a typed 4xx refusal), retrying connection errors, 5xx and 429.

An Exocore or aggregator outage is transient: nothing is refused because of it, the request is
looked at again on the next poll. SIGTERM/SIGINT stop the loop between requests.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import FrameType

from eth_utils.crypto import keccak

from avs.operator.aggregator_client import (
    AggregatorClient,
    Disposition,
    PostResult,
    RequestDocument,
    RetryPolicy,
)
from avs.operator.checks import (
    AvsPolicy,
    ChainFacts,
    CheckContext,
    Refusal,
    RefusalReason,
    Signer,
    check_request,
    fetch_facts,
)
from avs.operator.keys import OperatorKey, PasswordSource, load_keystore
from avs.operator.metrics import OperatorMetrics
from avs.operator.protection import PostOutcome, SlashingProtection, SlotRecord
from relayer.config import ExorelayConfig, OperatorAvsConfig
from relayer.errors import ConfigError, ExorelayError, ProtocolError
from relayer.exocore.grpc_client import ExocoreGrpcClient
from relayer.protocol.claims import RewardClaim, SigningRequest, decode_signing_request
from relayer.protocol.ids import ChainId, OperatorAddress
from relayer.protocol.types import Address, Hash32, address_hex, as_address, as_hash32
from storage.db import create_db_engine

_log = logging.getLogger("avs.operator")


class Outcome(StrEnum):
    SIGNED = "signed"
    REFUSED = "refused"
    SKIPPED = "skipped"
    """Already decided in this process, or settled at every aggregator."""
    DEFERRED = "deferred"
    """A transient failure (Exocore unreachable): looked at again on the next poll."""


@dataclass(frozen=True, slots=True)
class AvsSigner:
    policy: AvsPolicy
    key: OperatorKey
    tasks_roots_file: Path | None = None


def kind_of(request: SigningRequest) -> str:
    return "reward_claim" if isinstance(request, RewardClaim) else "slash_request"


def read_tasks_roots(path: Path) -> dict[int, Hash32]:
    """``{"<epoch>": "0x<root>"}`` written by the operator's AVS software (re-read at every check)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {int(epoch): as_hash32(root) for epoch, root in raw.items()}
    except (OSError, ValueError, AttributeError) as exc:
        raise ConfigError(f"tasks roots file {path}: {exc}") from exc


def load_avs_signers(
    config: ExorelayConfig, environ: Mapping[str, str] | None = None
) -> dict[Address, AvsSigner]:
    """Unlock every configured AVS keystore (an unreadable one stops the start)."""
    signers: dict[Address, AvsSigner] = {}
    for entry in config.operator.avs:
        signers[as_address(entry.address)] = _avs_signer(
            entry, config.operator.keystore_password_env, environ
        )
    return signers


def _avs_signer(entry: OperatorAvsConfig, password_env: str, environ: Mapping[str, str] | None) -> AvsSigner:
    key = load_keystore(
        entry.keystore_path, PasswordSource(password_env, entry.keystore_password_file), environ
    )
    policy = AvsPolicy(
        avs=as_address(entry.address),
        max_amount_per_epoch={as_address(t): int(a) for t, a in entry.max_amount_per_epoch.items()},
    )
    return AvsSigner(policy, key, entry.tasks_roots_file)


@dataclass
class PollReport:
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    """Digest (0x-hex) -> what this poll did with it."""


class OperatorService:
    def __init__(
        self,
        config: ExorelayConfig,
        *,
        signers: Mapping[Address, AvsSigner],
        grpc: ExocoreGrpcClient,
        protection: SlashingProtection,
        aggregators: list[AggregatorClient],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        metrics: OperatorMetrics | None = None,
        stop_requested: threading.Event | None = None,
    ) -> None:
        if config.operator.account is None:
            raise ConfigError("operator.account is required to run the operator")
        self.config = config
        self.account = OperatorAddress.parse(config.operator.account)
        self.exocore_chain = ChainId.parse(config.exocore.chain_id).hash
        self.signers = dict(signers)
        self.grpc = grpc
        self.protection = protection
        self.aggregators = aggregators
        self.metrics = metrics or OperatorMetrics()
        self.stop_requested = stop_requested or threading.Event()
        self._clock = clock
        self._decided: set[bytes] = set()
        # digest -> (request bytes, signature): what this process signed and may post again.
        self._signatures: dict[bytes, tuple[bytes, bytes]] = {}

    @classmethod
    def from_config(
        cls, config: ExorelayConfig, *, stop_requested: threading.Event | None = None
    ) -> OperatorService:
        signers = load_avs_signers(config)
        if not signers:
            raise ConfigError("operator.avs lists no AVS: nothing to sign")
        if not config.operator.aggregator_urls:
            raise ConfigError("operator.aggregator_urls is empty: nowhere to poll or post")
        operator = config.operator
        stop = stop_requested or threading.Event()
        policy = RetryPolicy(
            operator.post_retry_base_s, operator.post_retry_max_s, operator.post_max_attempts
        )
        return cls(
            config,
            signers=signers,
            grpc=ExocoreGrpcClient(
                list(config.exocore.grpc_endpoints),
                chain_id=config.exocore.chain_id,
                timeout_s=operator.request_timeout_s,
            ),
            protection=SlashingProtection(
                create_db_engine(operator.protection_db_url), chain_id=config.exocore.chain_id
            ),
            aggregators=[
                # Backoff waits end early on SIGTERM: the loop then stops between requests.
                AggregatorClient(str(url), policy, timeout_s=operator.request_timeout_s, sleep=stop.wait)
                for url in operator.aggregator_urls
            ],
            stop_requested=stop,
        )

    # ------------------------------------------------------------------ one poll

    def poll_once(self) -> PollReport:
        report = PollReport()
        complete = True
        for aggregator in self.aggregators:
            for avs in self.signers:
                if self.stop_requested.is_set():
                    return report
                try:
                    documents = list(aggregator.collecting(address_hex(avs)))
                except ExorelayError as exc:
                    complete = False
                    self.metrics.error(exc)
                    _log.warning("poll of %s failed: %s", aggregator.base_url, exc)
                    continue
                for document in documents:
                    if self.stop_requested.is_set():
                        return report
                    outcome = self._guarded(document)
                    # Listed by several aggregators: the first decision is the one reported.
                    report.outcomes.setdefault("0x" + document.digest.hex(), outcome)
        if complete:
            self._forget_closed(report)
        self.metrics.last_poll.set(self._clock().timestamp())
        return report

    def _forget_closed(self, report: PollReport) -> None:
        """Drop the in-memory decisions of requests no aggregator lists as collecting any more
        (submitted, expired): the process's memory stays bounded by the open requests. Safety does
        not depend on it: the protection database holds every slot this key signed."""
        open_digests = {bytes.fromhex(digest[2:]) for digest in report.outcomes}
        self._decided &= open_digests
        self._signatures = {d: s for d, s in self._signatures.items() if d in open_digests}

    def _guarded(self, document: RequestDocument) -> Outcome:
        try:
            return self.handle(document)
        except ExorelayError as exc:
            self.metrics.error(exc)
            _log.warning("request %s deferred: %s: %s", "0x" + document.digest.hex(), type(exc).__name__, exc)
            return Outcome.DEFERRED
        except Exception:
            self.metrics.error("unexpected")
            _log.exception("request %s failed unexpectedly", "0x" + document.digest.hex())
            return Outcome.DEFERRED

    def handle(self, document: RequestDocument) -> Outcome:
        """Decide ``document`` (once per process), then sign and post if the checks pass."""
        if document.digest in self._decided:
            return self._repost(document.digest)
        try:
            request = decode_signing_request(document.request)
        except ProtocolError as exc:
            return self._refuse_unreadable(document, str(exc))
        self.metrics.requests_seen.labels(address_hex(request.avs)).inc()
        if keccak(document.request) != document.digest:
            return self._refuse_unreadable(document, "the document's digest is not keccak256 of its request")
        signer = self.signers.get(request.avs)
        context = CheckContext(
            self.exocore_chain,
            Signer(self.account, signer.key.pubkey_bytes if signer else b""),
            {} if signer is None else {request.avs: self._policy(signer)},
        )
        facts = fetch_facts(self.grpc, request) if signer is not None else ChainFacts(avs_known=False)
        refusal = check_request(
            request,
            evidence=document.evidence,
            facts=facts,
            context=context,
            now=self._clock(),
            expires_at=document.expires_at,
        )
        if refusal is not None:
            return self._refuse(request, document.digest, refusal)
        assert signer is not None  # check_request refuses an AVS without a signer
        record = SlotRecord(
            signer.key.pubkey_bytes,
            request.signing_slot,
            Hash32(document.digest),
            kind_of(request),
            request.avs,
            request.epoch,
        )
        authorization = self.protection.authorize(record)
        if not authorization.may_sign:
            return self._refuse(
                request,
                document.digest,
                Refusal(
                    RefusalReason.CONFLICTING_SLOT,
                    f"slot 0x{request.signing_slot.hex()} already holds digest "
                    f"0x{authorization.recorded_digest.hex()}",
                ),
            )
        self._decided.add(document.digest)
        self.metrics.signed.labels(address_hex(request.avs), record.kind, authorization.decision.value).inc()
        _log.info(
            "signing %s",
            record.kind,
            extra={"digest": "0x" + document.digest.hex(), "avs": address_hex(request.avs)},
        )
        self._signatures[document.digest] = (document.request, signer.key.sign(document.digest).compressed)
        self._repost(document.digest)
        return Outcome.SIGNED

    def _policy(self, signer: AvsSigner) -> AvsPolicy:
        if signer.tasks_roots_file is None:
            return signer.policy
        return AvsPolicy(
            signer.policy.avs, signer.policy.max_amount_per_epoch, read_tasks_roots(signer.tasks_roots_file)
        )

    def _repost(self, digest: bytes) -> Outcome:
        """Post the signature of ``digest`` to every aggregator that has not settled it."""
        signed = self._signatures.get(digest)
        if signed is None:
            return Outcome.SKIPPED  # refused earlier in this process
        request, signature = signed
        for aggregator in self.aggregators:
            if self.protection.settled(digest, aggregator.base_url):
                continue
            result = aggregator.post_signature(request, str(self.account), signature)
            self._record_post(digest, aggregator.base_url, result)
        return Outcome.SKIPPED

    def _record_post(self, digest: bytes, aggregator: str, result: PostResult) -> None:
        if result.disposition is Disposition.DONE:
            outcome = PostOutcome.DUPLICATE if result.verdict == "duplicate" else PostOutcome.ACCEPTED
        elif result.disposition is Disposition.REFUSED:
            outcome = PostOutcome.REFUSED
        else:
            outcome = PostOutcome.FAILED
        self.protection.record_post(digest=digest, aggregator=aggregator, outcome=outcome, code=result.code)
        self.metrics.posts.labels(aggregator, outcome.value, result.code or "").inc()
        level = logging.INFO if outcome in (PostOutcome.ACCEPTED, PostOutcome.DUPLICATE) else logging.WARNING
        _log.log(
            level,
            "post to %s: %s",
            aggregator,
            outcome.value,
            extra={"digest": "0x" + digest.hex(), "code": result.code, "attempts": result.attempts},
        )

    def _refuse(self, request: SigningRequest, digest: bytes, refusal: Refusal) -> Outcome:
        self._decided.add(digest)
        avs = address_hex(request.avs)
        self.protection.record_refusal(
            digest=digest,
            kind=kind_of(request),
            avs=request.avs,
            epoch=request.epoch,
            reason=refusal.reason.value,
            detail=refusal.detail,
        )
        self.metrics.refused.labels(avs, refusal.reason.value).inc()
        _log.warning(
            "refused to sign: %s: %s",
            refusal.reason.value,
            refusal.detail,
            extra={"digest": "0x" + digest.hex(), "avs": avs, "reason": refusal.reason.value},
        )
        return Outcome.REFUSED

    def _refuse_unreadable(self, document: RequestDocument, detail: str) -> Outcome:
        self._decided.add(document.digest)
        self.protection.record_refusal(
            digest=document.digest if len(document.digest) == 32 else keccak(document.request),
            kind=document.kind if document.kind in ("reward_claim", "slash_request") else "reward_claim",
            avs=bytes(20),
            epoch=0,
            reason=RefusalReason.MALFORMED_REQUEST.value,
            detail=detail,
        )
        self.metrics.refused.labels("", RefusalReason.MALFORMED_REQUEST.value).inc()
        _log.warning(
            "refused a malformed request: %s", detail, extra={"digest": "0x" + document.digest.hex()}
        )
        return Outcome.REFUSED

    # ------------------------------------------------------------------ lifecycle

    def run_forever(self) -> int:
        stop_metrics = self.metrics.serve(self.config.operator.metrics_port)
        _log.info(
            "operator running",
            extra={
                "account": str(self.account),
                "avs_count": len(self.signers),
                "aggregators": len(self.aggregators),
            },
        )
        try:
            while not self.stop_requested.is_set():
                self.poll_once()
                self.stop_requested.wait(self.config.operator.poll_interval_s)
        finally:
            stop_metrics()
            self.close()
        return 0

    def close(self) -> None:
        for aggregator in self.aggregators:
            aggregator.close()
        self.grpc.close()
        self.protection.engine.dispose()


def install_signal_handlers() -> threading.Event:
    """SIGTERM/SIGINT set the returned event (the loop stops between requests)."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        _log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop
