"""Migration 0020: cumulative rows keyed by client chain. Existing leaves take their root packet's
chain, existing push clocks the chain of the latest indexed root (the one chain roots went to before);
two chains may then hold the same (period, earner, token); the downgrade folds the clocks back to one
per (earner, token), keeping the earliest."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from storage import migrate
from tests.support.database import fresh_database

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CHAIN_A, CHAIN_B = 31337, 31338
EARNER, TOKEN = "0x" + "e1" * 20, "0x" + "71" * 20
H = "0x" + "ab" * 32

packets = sa.table(
    "relay_packet",
    *(
        sa.column(name)
        for name in (
            "nonce",
            "kind",
            "valset_nonce",
            "payload",
            "payload_hash",
            "digest",
            "state",
            "exocore_height",
            "l1_chain_id",
            "created_at",
            "updated_at",
        )
    ),
)
leaves = sa.table(
    "cumulative_leaf",
    *(sa.column(n) for n in ("period", "earner", "token", "cumulative", "packet_nonce", "l1_chain_id")),
)
roots = sa.table(
    "cumulative_root",
    *(
        sa.column(n)
        for n in (
            "packet_nonce",
            "period",
            "vault",
            "accepted",
            "tx_hash",
            "log_index",
            "block_number",
            "block_hash",
            "l1_chain_id",
        )
    ),
)
clocks = sa.table(
    "cumulative_push_state",
    *(sa.column(n) for n in ("l1_chain_id", "earner", "token", "unpaid_since_s", "pushed_cumulative")),
)


def _packet(nonce: int) -> dict[str, object]:
    return {
        "nonce": nonce,
        "kind": 5,
        "valset_nonce": 1,
        "payload": "0x",
        "payload_hash": H,
        "digest": H,
        "state": "relayed",
        "exocore_height": 10,
        "l1_chain_id": CHAIN_A,
        "created_at": NOW,
        "updated_at": NOW,
    }


def test_0020_keys_leaves_and_clocks_by_chain_and_its_downgrade_folds_them(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as engine:
        migrate.upgrade(engine, "0019")
        leaf = {"period": 1, "earner": EARNER, "token": TOKEN, "cumulative": 100, "packet_nonce": 7}
        with engine.begin() as conn:
            conn.execute(sa.insert(packets).values(**_packet(7)))
            pre_0020 = sa.table("cumulative_leaf", *(sa.column(n) for n in leaf))
            conn.execute(sa.insert(pre_0020), [leaf])
            root = {"packet_nonce": 7, "period": 1, "vault": EARNER, "accepted": True, "tx_hash": H}
            conn.execute(
                sa.insert(roots).values(
                    **root, log_index=0, block_number=5, block_hash=H, l1_chain_id=CHAIN_A
                )
            )
            old_clock = {"earner": EARNER, "token": TOKEN, "unpaid_since_s": 1000, "pushed_cumulative": 60}
            conn.execute(
                sa.insert(sa.table("cumulative_push_state", *(sa.column(n) for n in old_clock))), [old_clock]
            )
        migrate.upgrade(engine)
        with engine.begin() as conn:
            assert [int(r.l1_chain_id) for r in conn.execute(sa.select(leaves.c.l1_chain_id))] == [CHAIN_A]
            (clock,) = conn.execute(sa.select(clocks)).all()
            assert (
                int(clock.l1_chain_id),
                clock.earner,
                int(clock.unpaid_since_s),
                int(clock.pushed_cumulative),
            ) == (
                CHAIN_A,
                EARNER,
                1000,
                60,
            )
            # Chain B's period 1 holds the same (earner, token): a row of its own.
            conn.execute(sa.insert(leaves), [{**leaf, "packet_nonce": 8, "l1_chain_id": CHAIN_B}])
            conn.execute(
                sa.insert(clocks),
                [{"l1_chain_id": CHAIN_B, "earner": EARNER, "token": TOKEN, "unpaid_since_s": 900}],
            )
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(sa.insert(leaves), [{**leaf, "packet_nonce": 9, "l1_chain_id": CHAIN_B}])
        with engine.begin() as conn:
            conn.execute(sa.delete(leaves).where(leaves.c.l1_chain_id == CHAIN_B))
        migrate.migrate_to(engine, "0019")
        with engine.begin() as conn:
            folded = conn.execute(
                sa.text("SELECT earner, token, unpaid_since_s FROM cumulative_push_state")
            ).all()
            assert [(e, t, int(s)) for e, t, s in folded] == [(EARNER, TOKEN, 900)]  # the earliest clock
        migrate.upgrade(engine)
