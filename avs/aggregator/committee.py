"""The committees the aggregator checks signatures against, read from Exocore over gRPC.

A committee of an (AVS, epoch) never changes once elected, so views are cached for the life of the
process (bounded: :data:`COMMITTEE_CACHE_ENTRIES`). The threshold depends on what is signed: reward
claims use the committee's claim threshold, slash requests the AVS's slash threshold (``AVSInfo``).
Keys are parsed and validated once here (they were proof-of-possession checked by Exocore at
registration), so a post costs no key parsing.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from avs.aggregator.errors import AggregatorUnavailableError
from relayer.errors import ExorelayError
from relayer.exocore.grpc_client import ExocoreGrpcClient
from relayer.protocol import bls
from relayer.protocol.quorum import Threshold, quorum_power
from storage.aggregation import RequestKind

COMMITTEE_CACHE_ENTRIES: Final = 256
"""(AVS, epoch, kind) views kept; a deployment serves a few AVSs over a few open epochs."""
MISSING_CACHE_S: Final = 5.0
"""How long "Exocore has no such committee" is remembered: posts naming future or bogus epochs
must not each cost a gRPC round trip, and an epoch's committee appears within a block of its start."""


@dataclass(frozen=True, slots=True)
class Member:
    index: int
    operator: str
    public_key: bls.PublicKey
    power: int


@dataclass(frozen=True, slots=True)
class CommitteeView:
    """What the aggregator needs of one committee for one kind of request."""

    avs: str
    epoch: int
    members: Mapping[str, Member]
    """By bech32 operator account."""
    size: int
    total_power: int
    threshold: Threshold
    funding: Mapping[str, int]
    """Reward token (0x lower-case) -> funding mode registered by the AVS (claims only)."""

    @property
    def threshold_power(self) -> int:
        """The least signed power that is strictly above the threshold."""
        return int(quorum_power(self.total_power, self.threshold))


class CommitteeSource(Protocol):
    def committee(self, avs: str, epoch: int, kind: RequestKind) -> CommitteeView | None:
        """The committee of ``avs`` for ``epoch``, or ``None`` if Exocore has none."""


class GrpcCommitteeSource:
    """Committees and AVS thresholds from ``exocore.avs.v1.Query`` (cached)."""

    def __init__(self, client: ExocoreGrpcClient) -> None:
        self._client = client
        self._cache: OrderedDict[tuple[str, int, RequestKind], CommitteeView] = OrderedDict()
        self._missing: OrderedDict[tuple[str, int, RequestKind], float] = OrderedDict()
        self._lock = threading.Lock()
        self._fetch_lock = threading.Lock()

    def committee(self, avs: str, epoch: int, kind: RequestKind) -> CommitteeView | None:
        key = (avs, epoch, kind)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
            missing_since = self._missing.get(key)
            if missing_since is not None and now - missing_since < MISSING_CACHE_S:
                return None
        with self._fetch_lock:
            return self._fetch(key, now)

    def _fetch(self, key: tuple[str, int, RequestKind], now: float) -> CommitteeView | None:
        # One fetch at a time (single flight): the first post of a request's burst fetches, the
        # others find the cache filled. Concurrent reads through one client could also see node
        # heights out of order, which the client refuses as an inconsistent answer.
        avs, epoch, kind = key
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        try:
            committee = self._client.committee(avs, epoch)
            info = self._client.avs_info(avs) if committee is not None else None
        except ExorelayError as exc:
            raise AggregatorUnavailableError(
                f"cannot read the committee of {avs} epoch {epoch}: {exc}"
            ) from exc
        if committee is None or info is None or not committee.members:
            with self._lock:
                self._missing[key] = now
                self._missing.move_to_end(key)
                while len(self._missing) > COMMITTEE_CACHE_ENTRIES:
                    self._missing.popitem(last=False)
            return None
        if kind is RequestKind.SLASH_REQUEST and info.slash_threshold_numerator:
            threshold = Threshold(int(info.slash_threshold_numerator), int(info.slash_threshold_denominator))
        else:
            threshold = committee.threshold
        members = {
            str(member.operator): Member(
                member.index, str(member.operator), bls.parse_public_key(member.bls_pubkey), int(member.power)
            )
            for member in committee.members
        }
        view = CommitteeView(
            avs=avs,
            epoch=epoch,
            members=members,
            size=len(committee.members),
            total_power=int(committee.total_power),
            threshold=threshold,
            funding={token.token.lower(): int(token.funding) for token in info.reward_tokens},
        )
        with self._lock:
            self._cache[key] = view
            while len(self._cache) > COMMITTEE_CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return view
