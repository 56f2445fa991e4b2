"""A validator set's L1 installation is kept per client chain.

Regression: ``valset`` held one L1 commitment per set, so chain B's ``ValsetUpdated`` overwrote
chain A's installation, and a reorg on one chain cleared the other chain's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from indexer.api import ReadinessPolicy, create_app
from storage.errors import InvariantViolationError
from storage.lifecycle import Chain
from storage.models import valset_l1_table, valset_table
from storage.records import ChainRef, ValsetCreated, ValsetMemberInfo
from storage.store import LifecycleStore
from tests.support.indexer_factory import T0, StepClock, h
from tests.support.split_claim import VALSET_COMMITMENT, VALSET_NONCE, valset_updated
from tests.support.two_chains import CHAIN_A, CHAIN_B

A_BLOCK, B_BLOCK = 10, 500


def _installations(engine: Engine) -> dict[int, tuple[Any, ...]]:
    i = valset_l1_table
    with engine.connect() as conn:
        return {
            int(r.l1_chain_id): (r.valset_nonce, r.commitment, r.block_number, r.tx_hash)
            for r in conn.execute(select(i))
        }


def _valsets(engine: Engine) -> dict[int, str]:
    v = valset_table
    with engine.connect() as conn:
        return dict(conn.execute(select(v.c.valset_nonce, v.c.origin)).all())


def _install_on_both(store: LifecycleStore) -> None:
    with store.begin() as tx:
        tx.apply_l1_logs([valset_updated(A_BLOCK, "a")], chain_id=CHAIN_A)
    with store.begin() as tx:
        tx.apply_l1_logs([valset_updated(B_BLOCK, "b")], chain_id=CHAIN_B)


def test_a_set_installed_on_two_chains_has_an_installation_per_chain(engine: Engine) -> None:
    store = LifecycleStore(engine, clock=StepClock(T0))
    with store.begin() as tx:
        members = (ValsetMemberInfo(0, "0x" + "01" * 48, 60), ValsetMemberInfo(1, "0x" + "02" * 48, 40))
        tx.apply_exocore_event(
            ValsetCreated(VALSET_NONCE, members), ChainRef(Chain.EXOCORE, T0, 5, h("exo-5"))
        )
    _install_on_both(store)
    assert _installations(engine) == {
        CHAIN_A: (VALSET_NONCE, VALSET_COMMITMENT, A_BLOCK, h("a-valset-tx")),
        CHAIN_B: (VALSET_NONCE, VALSET_COMMITMENT, B_BLOCK, h("b-valset-tx")),
    }
    app = create_app(engine, clock=lambda: T0 + timedelta(days=1), readiness=ReadinessPolicy(max_age_s=10**9))
    with TestClient(app) as api:
        listed = api.get("/v1/valsets").json()["items"]
        assert [(v["valset_nonce"], v["member_count"]) for v in listed] == [(VALSET_NONCE, 2)]
        assert [(i["chain_id"], i["l1"]["height"]) for i in listed[0]["installations"]] == [
            (CHAIN_A, A_BLOCK),
            (CHAIN_B, B_BLOCK),
        ]
        on_b = api.get("/v1/valsets", params={"chain_id": CHAIN_B}).json()["items"]
        assert [v["valset_nonce"] for v in on_b] == [VALSET_NONCE]
        assert api.get("/v1/valsets", params={"chain_id": 1}).json()["items"] == []
        detail = api.get(f"/v1/valsets/{VALSET_NONCE}").json()
        assert [m["power"] for m in detail["members"]] == ["60", "40"]
        assert {i["commitment"] for i in detail["installations"]} == {VALSET_COMMITMENT}
        assert api.get("/v1/valsets/99").status_code == 404


def test_a_reorg_on_one_chain_leaves_the_other_chains_installation(engine: Engine) -> None:
    store = LifecycleStore(engine, clock=StepClock(T0))
    _install_on_both(store)  # first seen on L1: no Exocore record of the set yet
    assert _valsets(engine) == {VALSET_NONCE: "l1"}
    # Chain B reorgs below its installation: A's stays, and so does the set.
    with store.begin() as tx:
        tx.reverse_l1_above(B_BLOCK - 1, T0 + timedelta(days=1), chain_id=CHAIN_B)
    assert set(_installations(engine)) == {CHAIN_A}
    assert _valsets(engine) == {VALSET_NONCE: "l1"}
    # B installs it again on its new branch; then A reorgs: B's stays.
    with store.begin() as tx:
        tx.apply_l1_logs([valset_updated(B_BLOCK + 1, "b2")], chain_id=CHAIN_B)
    with store.begin() as tx:
        tx.reverse_l1_above(A_BLOCK - 1, T0 + timedelta(days=1), chain_id=CHAIN_A)
    assert _installations(engine) == {
        CHAIN_B: (VALSET_NONCE, VALSET_COMMITMENT, B_BLOCK + 1, h("b2-valset-tx"))
    }
    # The last installation of a set only L1 had shown goes, and the set with it.
    with store.begin() as tx:
        tx.reverse_l1_above(B_BLOCK - 1, T0 + timedelta(days=1), chain_id=CHAIN_B)
    assert _installations(engine) == {}
    assert _valsets(engine) == {}


def test_two_chains_installing_different_commitments_for_one_set_is_refused(engine: Engine) -> None:
    store = LifecycleStore(engine, clock=StepClock(T0))
    with store.begin() as tx:
        tx.apply_l1_logs([valset_updated(A_BLOCK, "a")], chain_id=CHAIN_A)
    with pytest.raises(InvariantViolationError) as refused, store.begin() as tx:
        tx.apply_l1_logs([valset_updated(B_BLOCK, "b", commitment=h("forged"))], chain_id=CHAIN_B)
    assert refused.value.invariant == "valset_commitment_agrees"
    assert set(_installations(engine)) == {CHAIN_A}
