"""How the cumulative push stage learns what each earner was already paid: one grouped query over the
indexed ``CumulativePaid`` records (``storage.cumulative_push.indexed_claimed``) against the anchor,
one ``eth_call`` of the RewardVault's ``claimed(earner, token)`` per leaf (what the stage did before).

    .venv/bin/python bench/cumulative_claimed_reads.py            # 100k earners
    .venv/bin/python bench/cumulative_claimed_reads.py --quick    # 10k earners

1. MEASURED: ``indexed_claimed`` over N earners' payouts in a fresh SQLite database (migrated, one
   payout row per earner), best of 3.
2. Anchor, MEASURED then COMPUTED: ``claimed(earner, token)`` by ``eth_call`` against the real
   RewardVault on anvil for ``CALL_SAMPLE`` earners (sequential, as the stage made them), scaled to
   N. Printed: both times, and the ratio anchor / figure.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Final

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3

from devnet.anvil import AnvilConfig, AnvilNode
from devnet.l1_deploy import GenesisValset, contract_at, deploy_l1
from relayer.l1.artifacts import ContractName
from relayer.protocol.bls import SecretKey, pop_prove
from relayer.protocol.types import Hash32
from storage import migrate
from storage.cumulative_push import indexed_claimed
from storage.db import create_db_engine
from storage.models import cumulative_payout_table
from storage.store.base import bulk_insert, chunks

EARNERS: Final = 100_000
QUICK_EARNERS: Final = 10_000
CALL_SAMPLE: Final = 1_000
"""eth_calls actually made; their mean scales to N (each call is independent of N)."""
VALIDATORS: Final = 4
"""The deployment's genesis set: its size does not matter to a view call."""
EXOCORE_CHAIN: Final = Hash32(keccak(b"exocoretestnet_233"))


def genesis() -> GenesisValset:
    secrets = [SecretKey.from_int(1000 + i) for i in range(VALIDATORS)]
    return GenesisValset(
        nonce=1,
        pubkeys=tuple(s.public_key().to_eip2537() for s in secrets),
        powers=(100,) * VALIDATORS,
        pops=tuple(pop_prove(s).compressed for s in secrets),
    )


def earner(i: int) -> str:
    return "0x" + keccak(b"claimed-bench" + i.to_bytes(8, "big"))[12:].hex()


def indexed_seconds(count: int, token: str) -> float:
    with tempfile.TemporaryDirectory(prefix="exorelay-bench-claimed-") as tmp:
        engine = create_db_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrate.upgrade(engine)
        rows = [
            {
                "earner": earner(i),
                "token": token,
                "recipient": earner(i),
                "amount": 10**18 + i,
                "cumulative": 10**18 + i,
                "period": 1,
                "by_earner": False,
                "tx_hash": "0x" + keccak(i.to_bytes(8, "big")).hex(),
                "log_index": 0,
                "block_number": 1 + i // 100,
                "block_hash": "0x" + "ab" * 32,
            }
            for i in range(count)
        ]
        with engine.begin() as conn:
            for part in chunks(rows):
                bulk_insert(conn, cumulative_payout_table, part)
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            with engine.connect() as conn:
                claimed = indexed_claimed(conn)
            best = min(best, time.perf_counter() - started)
            if len(claimed) != count:
                raise RuntimeError(f"expected {count} pairs, read {len(claimed)}")
        engine.dispose()
        return best


def eth_call_seconds_each() -> tuple[float, str]:
    with AnvilNode(AnvilConfig(accounts=2)) as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url, request_kwargs={"timeout": 120}))
        account = node.dev_accounts()[0]
        deployment = deploy_l1(w3, account.private_key, genesis(), EXOCORE_CHAIN)
        vault = contract_at(w3, ContractName.REWARD_VAULT, deployment.reward_vault)
        token = to_checksum_address(deployment.reward_token)
        started = time.perf_counter()
        for i in range(CALL_SAMPLE):
            vault.functions.claimed(to_checksum_address(earner(i)), token).call()
        return (time.perf_counter() - started) / CALL_SAMPLE, deployment.reward_token.lower()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    count = QUICK_EARNERS if parser.parse_args().quick else EARNERS
    per_call, token = eth_call_seconds_each()
    figure = indexed_seconds(count, token)
    anchor = per_call * count
    print(f"earners: {count:,}")
    print(f"figure  indexed_claimed, one query (SQLite, MEASURED):        {figure:8.3f} s")
    print(
        f"anchor  claimed() eth_call per leaf (anvil, {CALL_SAMPLE:,} MEASURED, "
        f"{per_call * 1e3:.2f} ms each, COMPUTED for {count:,}): {anchor:8.3f} s"
    )
    print(f"ratio   anchor / figure: {anchor / figure:.1f}x")


if __name__ == "__main__":
    main()
