"""The cumulative push stage: under the latest root L1 accepted, push the balances the policy selects.

Each run: read the RewardVault's latest period (one call), the period's leaves from Exocore (cached
per period), each leaf's ``claimed`` on L1, then :func:`relayer.pipeline.push_policy.decide` at the
current base fee; the selected balances go out as ``pushCumulative`` multiproof batches through the
transaction manager (durable, idempotent by key). Everything else accrues; earners claim it
themselves at any time (``exorelay claim``).

Invariants: a leaf is pushed at most once per (period, cumulative amount) by this process (the
in-flight set); a push of a leaf an earner claimed meanwhile is skipped by the vault (never paid
twice, never a revert); ``unpaid_since`` is kept in memory, so a restarted relayer restarts each
balance's delay clock (pushes then come at most ``max_delay_s`` after the restart). Reading
``claimed`` costs one ``eth_call`` per leaf: fine for the devnet and small chains; at 10^5+ earners
it should come from the indexer's ``CumulativePaid`` records instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from eth_utils.crypto import keccak
from sqlalchemy import Engine

from relayer.exocore.grpc_client import ExocoreGrpcClient
from relayer.l1.gateway import GatewayClient, encode_push_call
from relayer.l1.txmanager import TxManager
from relayer.pipeline.push_policy import Balance, PushPolicy, decide, plan_batches
from relayer.protocol.cumulative import CumulativeTree, EarnerToken
from relayer.protocol.kinds import TxPurpose
from relayer.protocol.types import Amount

_log = logging.getLogger(__name__)

INTENT_PREFIX: Final = "cumulative-push"


class CumulativePusher:
    """State across cycles: the period's tree, when each balance became unpaid, what is in flight."""

    def __init__(
        self,
        engine: Engine,
        grpc: ExocoreGrpcClient,
        gateway: GatewayClient,
        txm: TxManager,
        policy: PushPolicy,
        *,
        clock_s: Callable[[], float],
    ) -> None:
        self.engine = engine
        self.grpc = grpc
        self.gateway = gateway
        self.txm = txm
        self.policy = policy
        self.clock_s = clock_s
        self._vault: str | None = None
        self._tree: tuple[int, CumulativeTree] | None = None
        self._unpaid_since: dict[EarnerToken, int] = {}
        self._in_flight: dict[EarnerToken, int] = {}
        """(earner, token) -> the cumulative amount a queued push pays."""

    def run(self) -> int:
        """One pass; returns the number of push batches queued."""
        if self._vault is None:
            self._vault = self.gateway.reward_vault()
        vault = self._vault
        period = self.gateway.latest_cumulative_period(vault)
        if period == 0:
            return 0
        if self._tree is None or self._tree[0] != period:
            self._tree = (period, CumulativeTree.build(self.grpc.cumulative_leaves(period)))
        tree = self._tree[1]
        now = int(self.clock_s())
        balances: list[Balance] = []
        for leaf in tree.leaves:
            key = leaf.key
            if self._in_flight.get(key, -1) >= leaf.cumulative:
                continue
            owed = leaf.cumulative - self.gateway.cumulative_claimed(vault, leaf.earner, leaf.token)
            if owed <= 0:
                self._unpaid_since.pop(key, None)
                continue
            since = self._unpaid_since.setdefault(key, now)
            balances.append(Balance(leaf.earner, leaf.token, Amount(owed), since))
        base_fee, tip = self.gateway.client.fee_market()
        decision = decide(self.policy, balances, now_s=now, fee_per_gas_wei=base_fee + tip)
        queued = 0
        for batch in plan_batches(self.policy, list(decision.push)):
            keys = [(b.earner, b.token) for b in batch]
            multi = tree.multiproof(keys)
            # Same leaves at the same amounts: the same key, so a re-run enqueues nothing new.
            digest = keccak(b"".join(leaf.encoded for leaf in multi.leaves)).hex()[:40]
            intent_key = f"{INTENT_PREFIX}:{period}:{digest}"
            with self.engine.begin() as conn:
                self.txm.enqueue(
                    conn,
                    key=intent_key,
                    purpose=TxPurpose.OTHER.value,
                    to=vault,
                    calldata=encode_push_call(period, multi),
                    gas_limit=self.policy.gas_per_batch + len(keys) * self.policy.gas_per_leaf,
                )
            for leaf in multi.leaves:
                self._in_flight[leaf.key] = leaf.cumulative
                self._unpaid_since.pop(leaf.key, None)
            queued += 1
        if queued or decision.push:
            _log.info(
                "cumulative pushes queued",
                extra={
                    "period": period,
                    "batches": queued,
                    "pushed": len(decision.push),
                    "held": len(decision.hold),
                    "below_threshold": len(decision.below_threshold),
                },
            )
        return queued
