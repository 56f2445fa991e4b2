"""Migration 0019: each valset's L1 installation moves to ``valset_l1`` keyed by the chain its
transaction was recorded on (or, without one, the chain of the VALSET_UPDATE packet it relayed), and
each reward distribution's ``payment_state`` is backfilled from its payouts; the downgrade puts one
installation per set back on ``valset``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from storage import migrate
from storage.sqltypes import Uint256, UtcDateTime
from tests.support.database import fresh_database
from tests.support.indexer_factory import h

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CHAIN_A, CHAIN_B = 31337, 31338
AVS, TOKEN = "0x" + "a1" * 20, "0x" + "70" * 20

valset = sa.table(
    "valset",
    sa.column("valset_nonce"),
    sa.column("total_power", Uint256()),
    sa.column("members", sa.JSON()),
    sa.column("created_height"),
    sa.column("l1_commitment"),
    sa.column("l1_block_number"),
    sa.column("l1_block_hash"),
    sa.column("l1_tx_hash"),
    sa.column("l1_log_index"),
    sa.column("origin"),
    sa.column("created_at", UtcDateTime()),
    sa.column("updated_at", UtcDateTime()),
)
l1_tx = sa.table(
    "l1_tx",
    sa.column("tx_hash"),
    sa.column("chain_id"),
    sa.column("purpose"),
    sa.column("state"),
    sa.column("origin"),
    sa.column("created_at", UtcDateTime()),
    sa.column("updated_at", UtcDateTime()),
)
packet = sa.table(
    "relay_packet",
    sa.column("nonce"),
    sa.column("kind"),
    sa.column("valset_nonce"),
    sa.column("payload"),
    sa.column("payload_hash"),
    sa.column("digest"),
    sa.column("subject_id"),
    sa.column("state"),
    sa.column("exocore_height"),
    sa.column("l1_tx_hash"),
    sa.column("l1_chain_id"),
    sa.column("created_at", UtcDateTime()),
    sa.column("updated_at", UtcDateTime()),
)
distribution = sa.table(
    "distribution",
    sa.column("distribution_id"),
    sa.column("nonce"),
    sa.column("claim_id"),
    sa.column("avs_address"),
    sa.column("epoch"),
    sa.column("token"),
    sa.column("total", Uint256()),
    sa.column("leaf_count"),
    sa.column("merkle_root"),
    sa.column("l1_finalized"),
    sa.column("origin"),
    sa.column("packet_kind"),
    sa.column("created_at", UtcDateTime()),
    sa.column("updated_at", UtcDateTime()),
)
payout = sa.table(
    "payout",
    sa.column("distribution_id"),
    sa.column("leaf_index"),
    sa.column("staker"),
    sa.column("token"),
    sa.column("amount", Uint256()),
    sa.column("state"),
    sa.column("origin"),
    sa.column("created_at", UtcDateTime()),
    sa.column("updated_at", UtcDateTime()),
)


def _valset(nonce: int, tx: str | None, block: int | None) -> dict[str, Any]:
    return {
        "valset_nonce": nonce,
        "total_power": 100,
        "members": [],
        "created_height": nonce,
        "l1_commitment": None if tx is None else h(f"commitment-{nonce}"),
        "l1_block_number": block,
        "l1_block_hash": None if block is None else h(f"block-{block}"),
        "l1_tx_hash": None if tx is None else h(tx),
        "l1_log_index": None if tx is None else 0,
        "origin": "exocore",
        "created_at": NOW,
        "updated_at": NOW,
    }


def _distribution(label: str, nonce: int, leaves: int, *, final: bool) -> dict[str, Any]:
    return {
        "distribution_id": h(label),
        "nonce": nonce,
        "claim_id": h(f"claim-{label}"),
        "avs_address": AVS,
        "epoch": 1,
        "token": TOKEN,
        "total": 100 * leaves,
        "leaf_count": leaves,
        "merkle_root": h(f"root-{label}"),
        "l1_finalized": final,
        "origin": "exocore",
        "packet_kind": 2,
        "created_at": NOW,
        "updated_at": NOW,
    }


def _payouts(label: str, states: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "distribution_id": h(label),
            "leaf_index": i,
            "staker": "0x" + f"{i + 1:02x}" * 20,
            "token": TOKEN,
            "amount": 100,
            "state": state,
            "origin": "exocore",
            "created_at": NOW,
            "updated_at": NOW,
        }
        for i, state in enumerate(states)
    ]


def _populate_before(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(l1_tx),
            [
                {
                    "tx_hash": h("tx-on-a"),
                    "chain_id": CHAIN_A,
                    "purpose": "valset_update",
                    "state": "included",
                    "origin": "l1",
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            ],
        )
        conn.execute(
            sa.insert(valset),
            [
                _valset(2, "tx-on-a", 10),  # its transaction names chain A
                _valset(3, "tx-on-b", 500),  # no transaction row: the packet it relayed names chain B
                _valset(4, None, None),  # not installed anywhere
            ],
        )
        conn.execute(
            sa.insert(packet),
            [
                {
                    "nonce": 7,
                    "kind": 3,
                    "valset_nonce": 2,
                    "payload": "0x",
                    "payload_hash": h("payload-7"),
                    "digest": h("digest-7"),
                    "subject_id": "3",
                    "state": "relayed",
                    "exocore_height": 3,
                    "l1_tx_hash": h("tx-on-b"),
                    "l1_chain_id": CHAIN_B,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            ],
        )
        conn.execute(
            sa.insert(distribution),
            [
                _distribution("paid", 1, 2, final=True),
                _distribution("paying", 2, 2, final=True),
                _distribution("unpaid", 3, 2, final=True),
                _distribution("not-final", 4, 2, final=False),
            ],
        )
        conn.execute(
            sa.insert(payout),
            _payouts("paid", ["finalized", "finalized"])
            + _payouts("paying", ["finalized", "pending"])
            + _payouts("unpaid", ["pending", "submitted"])
            + _payouts("not-final", ["included", "pending"]),
        )


def test_0019_moves_each_installation_to_its_chain_and_backfills_payment_state(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as engine:
        migrate.upgrade(engine, "0018")
        _populate_before(engine)
        migrate.upgrade(engine, "0019")
        installations = sa.table(
            "valset_l1",
            sa.column("valset_nonce"),
            sa.column("l1_chain_id"),
            sa.column("commitment"),
            sa.column("block_number"),
            sa.column("tx_hash"),
        )
        states = sa.table("distribution", sa.column("distribution_id"), sa.column("payment_state"))
        with engine.connect() as conn:
            moved = sorted(tuple(r) for r in conn.execute(sa.select(installations)))
            payment = dict(conn.execute(sa.select(states.c.distribution_id, states.c.payment_state)).all())
            columns = {c["name"] for c in sa.inspect(conn).get_columns("valset")}
        assert moved == [
            (2, CHAIN_A, h("commitment-2"), 10, h("tx-on-a")),
            (3, CHAIN_B, h("commitment-3"), 500, h("tx-on-b")),
        ]
        assert not columns & {"l1_commitment", "l1_block_number", "l1_tx_hash"}
        assert payment == {
            h("paid"): "paid",
            h("paying"): "paying",
            h("unpaid"): None,
            h("not-final"): None,  # its root is not final: the claim is not paying yet
        }

        migrate.migrate_to(engine, "0018")
        with engine.connect() as conn:
            back = {
                int(r.valset_nonce): (r.l1_commitment, r.l1_block_number, r.l1_tx_hash)
                for r in conn.execute(sa.select(valset))
            }
        assert back == {
            2: (h("commitment-2"), 10, h("tx-on-a")),
            3: (h("commitment-3"), 500, h("tx-on-b")),
            4: (None, None, None),
        }
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
