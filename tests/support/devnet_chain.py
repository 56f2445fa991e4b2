"""A small deterministic chain used by the wire-layer tests."""

from __future__ import annotations

import hashlib

from devnet.chain.blockstore import Block, BlockStore, Event, TxResult, Validator, next_block

CHAIN_ID = "exocoredevnet_233-1"
# 2023-11-14T22:13:20Z plus a sub-second part, so RFC 3339 nanosecond formatting is exercised.
GENESIS_TIME_NS = 1_700_000_000_000_000_000 + 123_456_789
BLOCK_INTERVAL_NS = 1_000_000_000


def validator(seed: int, power: int) -> Validator:
    return Validator(hashlib.sha256(b"validator-%d" % seed).digest(), power)


VALIDATORS = (validator(1, 30), validator(2, 20), validator(3, 10))


def make_block(store: BlockStore, previous: Block | None, height: int) -> Block:
    """Block ``height``: one tx on even heights; begin-block events on every height."""
    txs: list[bytes] = []
    results: list[TxResult] = []
    if height % 2 == 0:
        txs.append(b"claim-tx-%d" % height)
        results.append(
            TxResult(
                code=0,
                data=b"\x0a\x02ok",
                log="[]",
                gas_wanted=200_000,
                gas_used=81_234,
                events=(
                    Event.of("message", ("action", "/exocore.avs.v1.MsgSubmitRewardClaim")),
                    Event.of("reward_claim_submitted", ("claim_id", f"0x{height:064x}"), ("avs", "")),
                ),
            )
        )
    return next_block(
        previous,
        chain_id=store.chain_id,
        time_ns=GENESIS_TIME_NS + (height - 1) * BLOCK_INTERVAL_NS,
        validators=VALIDATORS if previous is None else None,
        app_hash=hashlib.sha256(b"app-%d" % height).digest(),
        txs=txs,
        tx_results=results,
        begin_block_events=(
            Event.of("committee_elected", ("avs", "0x" + "11" * 20), ("epoch", str(height))),
        ),
    )


def grow(store: BlockStore, count: int) -> list[Block]:
    """Append ``count`` blocks after the store's tip; returns them."""
    added = []
    previous = store.latest()
    for _ in range(count):
        height = store.initial_height if previous is None else previous.height + 1
        block = make_block(store, previous, height)
        store.append(block)
        added.append(block)
        previous = block
    return added
