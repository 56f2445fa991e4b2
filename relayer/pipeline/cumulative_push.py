"""The cumulative push stage: under the latest root L1 accepted, push the balances the policy selects.

One pusher per client chain (each chain's pipeline has its own): it pushes that chain's roots on that
chain's vault, with that chain's clocks; each chain numbers its own periods.

Each run: read the RewardVault's latest period (one call), the period's leaves from Exocore (cached
per period), what the vault already paid each (earner, token) from the indexed ``CumulativePaid``
records (one query, never a call per leaf: ``storage.cumulative_push``), then
:func:`relayer.pipeline.push_policy.decide` at the current base fee; the selected balances go out as
``pushCumulative`` multiproof batches through the transaction manager (durable, idempotent by key).
Everything else accrues; earners claim it themselves at any time (``exorelay claim``).

Invariants: each unpaid balance's delay clock (``unpaid_since_s``) and the cumulative amount a queued
push pays are rows of ``cumulative_push_state``, so a restarted relayer, or the standby that takes
the signer lease over, keeps counting from when the balance was first seen unpaid and pushes it
within ``max_delay_s`` of that; a queued leaf is not queued again until the index shows its payout
(or a newer root raises it). A push of a leaf an earner claimed meanwhile (or one the index has not
caught up with) is skipped by the vault: never paid twice, never a revert.
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
from relayer.protocol.cumulative import CumulativeTree
from relayer.protocol.kinds import TxPurpose
from relayer.protocol.types import Amount, address_hex
from storage.cumulative_push import (
    PairKey,
    forget_paid,
    indexed_claimed,
    load_push_state,
    mark_pushed,
    record_unpaid,
)

_log = logging.getLogger(__name__)

INTENT_PREFIX: Final = "cumulative-push"

FRESH_SUPPLY_GAS: Final = 20_000
"""Gas limit headroom of every push batch: a MINT token's first mint on a client chain sets its
``totalSupply`` slot from zero (a fresh 20k SSTORE instead of a 2.9k update). The per-leaf figure is
measured with the supply already minted, so without this a chain's first push of a token (e.g. a
chain whose only payouts of it are cumulative pushes) runs out of gas."""


class CumulativePusher:
    """State across cycles: the vault's address and the latest period's tree (both read-only facts;
    everything that must outlive the process is in ``cumulative_push_state``)."""

    def __init__(
        self,
        engine: Engine,
        grpc: ExocoreGrpcClient,
        gateway: GatewayClient,
        txm: TxManager,
        policy: PushPolicy,
        *,
        l1_chain_id: int,
        clock_s: Callable[[], float],
    ) -> None:
        self.engine = engine
        self.l1_chain_id = l1_chain_id
        self.grpc = grpc
        self.gateway = gateway
        self.txm = txm
        self.policy = policy
        self.clock_s = clock_s
        self._vault: str | None = None
        self._tree: tuple[int, CumulativeTree] | None = None

    def run(self) -> int:
        """One pass; returns the number of push batches queued."""
        if self._vault is None:
            self._vault = self.gateway.reward_vault()
        vault = self._vault
        period = self.gateway.latest_cumulative_period(vault)
        if period == 0:
            return 0
        if self._tree is None or self._tree[0] != period:
            self._tree = (
                period,
                CumulativeTree.build(self.grpc.cumulative_leaves(period, l1_chain_id=self.l1_chain_id)),
            )
        tree = self._tree[1]
        now = int(self.clock_s())
        with self.engine.begin() as conn:
            claimed = indexed_claimed(conn, self.l1_chain_id)
            state = load_push_state(conn, self.l1_chain_id)
        balances: list[Balance] = []
        first_seen: dict[PairKey, int] = {}
        paid: list[PairKey] = []
        for leaf in tree.leaves:
            key = (address_hex(leaf.earner), address_hex(leaf.token))
            owed = leaf.cumulative - claimed.get(key, 0)
            known = state.get(key)
            if owed <= 0:
                if known is not None:
                    paid.append(key)
                continue
            if known is not None and known.pushed_cumulative is not None:
                if known.pushed_cumulative >= leaf.cumulative:
                    continue  # queued already; its payout is not indexed yet
                if claimed.get(key, 0) >= known.pushed_cumulative:
                    # The queued push landed and a newer root owes more: a new clock from now.
                    paid.append(key)
                    known = None
            if known is None:
                first_seen[key] = now
            since = now if known is None else known.unpaid_since_s
            balances.append(Balance(leaf.earner, leaf.token, Amount(owed), since))
        with self.engine.begin() as conn:
            forget_paid(conn, self.l1_chain_id, paid)
            record_unpaid(conn, self.l1_chain_id, first_seen)
        base_fee, tip = self.gateway.client.fee_market()
        decision = decide(self.policy, balances, now_s=now, fee_per_gas_wei=base_fee + tip)
        queued = 0
        for batch in plan_batches(self.policy, list(decision.push)):
            keys = [(b.earner, b.token) for b in batch]
            multi = tree.multiproof(keys)
            # Same leaves at the same amounts: the same key, so a re-run enqueues nothing new.
            digest = keccak(b"".join(leaf.encoded for leaf in multi.leaves)).hex()[:40]
            # Intent keys are global: the chain is in it (each chain has its own period 1).
            intent_key = f"{INTENT_PREFIX}:{self.l1_chain_id}:{period}:{digest}"
            with self.engine.begin() as conn:
                # The intent and the memory of it commit together: a crash leaves neither or both.
                self.txm.enqueue(
                    conn,
                    key=intent_key,
                    purpose=TxPurpose.OTHER.value,
                    to=vault,
                    calldata=encode_push_call(period, multi),
                    gas_limit=self.policy.gas_per_batch
                    + len(keys) * self.policy.gas_per_leaf
                    + FRESH_SUPPLY_GAS,
                )
                mark_pushed(
                    conn,
                    self.l1_chain_id,
                    {(address_hex(x.earner), address_hex(x.token)): x.cumulative for x in multi.leaves},
                )
            queued += 1
        if queued or decision.push:
            _log.info(
                "cumulative pushes queued",
                extra={
                    "period": period,
                    "l1_chain_id": self.l1_chain_id,
                    "batches": queued,
                    "pushed": len(decision.push),
                    "held": len(decision.hold),
                    "below_threshold": len(decision.below_threshold),
                },
            )
        return queued
