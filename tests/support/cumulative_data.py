"""A cumulative-rewards history for the indexer's read side: two closed periods with their
CUMULATIVE_ROOT packets (real payloads over the periods' trees) and leaves, and the vault's logs
that deliver roots and pay earners (L1)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, insert

from relayer.protocol.cumulative import CumulativeLeaf, CumulativeTree
from relayer.protocol.packets import CumulativeFunding, CumulativeRootPayload, FundingMode, encode_payload
from relayer.protocol.types import Amount, as_address
from storage.records import (
    CumulativeLeafInfo,
    CumulativeLeaves,
    CumulativePaidLog,
    CumulativeRootLog,
    L1Log,
    L1Position,
    PacketCreated,
)
from storage.store import LifecycleStore
from storage.token_tables import token_unit_table
from tests.support.indexer_factory import AVS, T0, h, staker

L1_CHAIN_ID = 31337
CHAIN_B_ID = 31338
"""A second client chain: its own periods (1, 2, ...) with the same ledgers, other packet nonces."""
EARNER, OTHER = staker(1), staker(2)
TOKEN_T, TOKEN_U = "0x" + "71" * 20, "0x" + "72" * 20
VAULT = "0x" + "7a" * 20
"""The RewardVault emitting the roots and payouts."""
LEDGER = {
    1: {(EARNER, TOKEN_T): 100, (EARNER, TOKEN_U): 7, (OTHER, TOKEN_T): 50},
    2: {(EARNER, TOKEN_T): 180, (EARNER, TOKEN_U): 7, (OTHER, TOKEN_T): 50},
}
"""Each period's running totals (they only grow); period p's root is packet ``NONCE0 + p``."""
NONCE0 = 40


def tree(period: int) -> CumulativeTree:
    return CumulativeTree.build(
        CumulativeLeaf(as_address(e), as_address(t), Amount(amount))
        for (e, t), amount in LEDGER[period].items()
    )


def nonce_of(period: int, chain: int = L1_CHAIN_ID) -> int:
    """Period ``period``'s root packet nonce on ``chain`` (nonces are one sequence over chains)."""
    return NONCE0 + period + (0 if chain == L1_CHAIN_ID else 10)


def root_packet(period: int, chain: int = L1_CHAIN_ID) -> PacketCreated:
    funded = {
        token: sum(a for (_, t), a in LEDGER[period].items() if t == token) for token in (TOKEN_T, TOKEN_U)
    }
    payload = CumulativeRootPayload(
        period=period,
        root=tree(period).root,
        leaf_count=len(LEDGER[period]),
        entries=tuple(
            CumulativeFunding(as_address(AVS), as_address(token), FundingMode.MINT, Amount(amount))
            for token, amount in funded.items()
        ),
    )
    return PacketCreated(
        nonce=nonce_of(period, chain),
        kind=5,
        valset_nonce=1,
        payload="0x" + encode_payload(payload).hex(),
        payload_hash=h(f"cumulative-payload-{chain}-{period}"),
        digest=h(f"cumulative-digest-{chain}-{period}"),
        l1_chain_id=chain,
    )


def leaves(period: int, chain: int = L1_CHAIN_ID) -> CumulativeLeaves:
    return CumulativeLeaves(
        period,
        nonce_of(period, chain),
        tuple(CumulativeLeafInfo(e, t, amount) for (e, t), amount in LEDGER[period].items()),
        chain,
    )


def position(block: int, log_index: int) -> L1Position:
    return L1Position(block, h(f"l1-block-{block}"), h(f"l1-tx-{block}"), log_index, T0)


def accepted(period: int, block: int, chain: int = L1_CHAIN_ID) -> CumulativeRootLog:
    return CumulativeRootLog(period, nonce_of(period, chain), True, position(block, 0), VAULT)


def paid(earner: str, token: str, amount: int, cumulative: int, period: int, block: int) -> CumulativePaidLog:
    return CumulativePaidLog(earner, token, earner, amount, cumulative, period, True, position(block, 1))


def l1(store: LifecycleStore, *logs: L1Log, chain: int = L1_CHAIN_ID) -> None:
    with store.begin() as tx:
        tx.apply_l1_logs(list(logs), chain_id=chain)


def name_token_t(engine: Engine, symbol: str = "EXOR", decimals: int = 18) -> None:
    """Store token T's display unit (as L1 ingestion would on first meeting it)."""
    with engine.begin() as conn:
        conn.execute(
            insert(token_unit_table).values(
                token=TOKEN_T, symbol=symbol, decimals=decimals, read_at=datetime(2026, 1, 1, tzinfo=UTC)
            )
        )
