"""What a tx-manager test needs besides the chain fixtures: the `Harness` (chain + database + managers),
`ManualClock`, `DEFAULT_SETTINGS`, the dev-account roles, and endpoints that refuse (`dead_url`) or
never answer (`SilentServer`).
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, select

from relayer.config import FinalityMode
from relayer.l1.client import L1Client
from relayer.l1.gateway import encode_packet_call
from relayer.l1.txmanager import IntentView, TxManager, TxSettings
from relayer.protocol.packets import Packet, Payload
from storage.l1_tables import (
    tx_attempt_table,
    tx_intent_table,
)
from storage.models import l1_tx_table, transition_table
from storage.store import LifecycleStore
from tests.support.l1_contracts import (
    System,
    ValidatorSet,
)

RELAYER_ACCOUNT = 5
"""Dev account the tx manager signs with (the deployer, 0, must not be used: its nonces are fixed)."""


OUTSIDER_ACCOUNT = 6


class ManualClock:
    """A clock the test moves: fee bumps are due after wall time the test does not want to wait."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


DEFAULT_SETTINGS = TxSettings(
    finality=FinalityMode.CONFIRMATIONS, confirmations=2, fee_bump_after_s=30.0, max_fee_multiplier=3.0
)


@dataclass
class Harness:
    """What a tx-manager test needs: the chain, the database and a way to build managers."""

    system: System
    engine: Engine
    store: LifecycleStore
    clock: ManualClock
    account: LocalAccount
    client: L1Client

    def manager(self, settings: TxSettings = DEFAULT_SETTINGS, client: L1Client | None = None) -> TxManager:
        return TxManager(
            self.engine, client or self.client, self.account, settings, store=self.store, clock=self.clock
        )

    def packet_calldata(
        self,
        payload: Payload,
        *,
        nonce: int,
        signers: list[int] | None = None,
        valset: ValidatorSet | None = None,
        valset_nonce: int | None = None,
    ) -> tuple[Packet, bytes]:
        """Calldata delivering ``payload`` signed by ``valset`` (default: genesis) claiming
        ``valset_nonce`` (default: the signing set's)."""
        signing = valset or self.system.valset
        packet = self.system.packet(payload, nonce=nonce, valset=signing)
        if valset_nonce is not None:
            packet = Packet(
                exocore_chain=packet.exocore_chain,
                l1_chain_id=packet.l1_chain_id,
                gateway=packet.gateway,
                valset_nonce=valset_nonce,
                nonce=nonce,
                payload=payload,
            )
        att = signing.attest(packet.digest, signers)
        return packet, encode_packet_call(packet, att.bitmap, att.signature)

    def enqueue(self, manager: TxManager, key: str, purpose: str, calldata: bytes, **kwargs: Any) -> int:
        with self.engine.begin() as conn:
            return manager.enqueue(
                conn, key=key, purpose=purpose, to=self.system.deployment.gateway, calldata=calldata, **kwargs
            )

    def intent(self, manager: TxManager, intent_id: int) -> IntentView:
        with self.engine.connect() as conn:
            return manager.intent(conn, intent_id)

    def attempts(self, intent_id: int) -> list[Any]:
        a = tx_attempt_table
        with self.engine.connect() as conn:
            return list(conn.execute(select(a).where(a.c.intent_id == intent_id).order_by(a.c.id)).all())

    def intents(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(tx_intent_table).order_by(tx_intent_table.c.id)).all())

    def l1_tx_state(self, tx_hash: str | None) -> str | None:
        with self.engine.connect() as conn:
            state: str | None = conn.execute(
                select(l1_tx_table.c.state).where(l1_tx_table.c.tx_hash == tx_hash)
            ).scalar_one_or_none()
            return state

    def l1_tx_history(self, tx_hash: str | None) -> list[tuple[str | None, str | None, str]]:
        t = transition_table
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.c.from_state, t.c.to_state, t.c.edge)
                .where(t.c.entity_kind == "l1_tx", t.c.entity_id == tx_hash)
                .order_by(t.c.id)
            ).all()
        return [(r.from_state, r.to_state, r.edge) for r in rows]

    def mine(self, blocks: int = 1) -> None:
        self.system.node.rpc("anvil_mine", [hex(blocks)])

    def automine(self, enabled: bool) -> None:
        self.system.node.rpc("evm_setAutomine", [enabled])

    def settle(self, manager: TxManager, *, ticks: int = 6) -> None:
        """Tick (mining a block between ticks) until nothing is open; anvil automines the txs."""
        for _ in range(ticks):
            manager.tick()
            if manager.pending_count() == 0:
                return
            self.mine()
        raise AssertionError(f"intents still open after {ticks} ticks: {self.intents()}")


def dead_url() -> str:
    """A local port nothing listens on (connection refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class SilentServer:
    """A TCP server that accepts connections and never answers: every request times out."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def _accept(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self._held:
            conn.close()
        self._sock.close()


def new_set(valset_nonce: int = 2, seed: int = 2) -> ValidatorSet:
    return ValidatorSet.generate(4, nonce=valset_nonce, seed=seed)


def valset_update(
    h: Harness,
    *,
    nonce: int,
    to: ValidatorSet | None = None,
    signers: list[int] | None = None,
    signed_by: ValidatorSet | None = None,
    valset_nonce: int | None = None,
) -> bytes:
    """Calldata of packet ``nonce`` installing ``to`` (default: a 4-member set with valset nonce 2)."""
    payload = (to or new_set()).update_payload()
    return h.packet_calldata(
        payload, nonce=nonce, signers=signers, valset=signed_by, valset_nonce=valset_nonce
    )[1]
