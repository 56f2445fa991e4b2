"""Slashing protection on SQLite and PostgreSQL: one digest per (key, slot), ever; concurrent
double-sign attempts from threads and from processes sign exactly one digest; interchange export,
import (merge), conflicting and other-chain files refused whole."""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections.abc import Iterator

import pytest

from avs.operator.errors import InterchangeError, ProtectionError
from avs.operator.protection import (
    INTERCHANGE_FORMAT_VERSION,
    Decision,
    PostOutcome,
    SlashingProtection,
    SlotRecord,
    dumps_interchange,
)
from relayer.protocol.types import Hash32
from storage.db import create_db_engine
from tests.support.operator_db import authorize_in_child

CHAIN_ID = "exocoredevnet_233-1"
OTHER_CHAIN_ID = "othernet_77-1"
KEY_A = bytes([0xA0]) * 48
KEY_B = bytes([0xB0]) * 48
AVS = bytes([0xAA]) * 20
CONTENDERS = 6


def record(key: bytes, slot: int, digest: int, *, epoch: int = 3, kind: str = "reward_claim") -> SlotRecord:
    return SlotRecord(
        key, Hash32(slot.to_bytes(32, "big")), Hash32(digest.to_bytes(32, "big")), kind, AVS, epoch
    )


@pytest.fixture
def protection(db_url: str) -> Iterator[SlashingProtection]:
    store = SlashingProtection(create_db_engine(db_url), chain_id=CHAIN_ID)
    yield store
    store.engine.dispose()


def test_one_digest_per_slot_and_the_same_digest_again(protection: SlashingProtection) -> None:
    first = protection.authorize(record(KEY_A, 1, 10))
    again = protection.authorize(record(KEY_A, 1, 10))
    other = protection.authorize(record(KEY_A, 1, 11))
    assert (first.decision, again.decision, other.decision) == (
        Decision.SIGN_NEW,
        Decision.SIGN_AGAIN,
        Decision.REFUSE,
    )
    assert other.recorded_digest == (10).to_bytes(32, "big")
    assert not other.may_sign and first.may_sign and again.may_sign
    # Another slot, or another key in the same slot, is independent.
    assert protection.authorize(record(KEY_A, 2, 11)).decision is Decision.SIGN_NEW
    assert protection.authorize(record(KEY_B, 1, 11)).decision is Decision.SIGN_NEW
    assert [(r.pubkey, r.slot[-1], r.digest[-1]) for r in protection.signed_slots()] == [
        (KEY_A, 1, 10),
        (KEY_A, 2, 11),
        (KEY_B, 1, 11),
    ]


def test_concurrent_threads_sign_exactly_one_digest_per_slot(protection: SlashingProtection) -> None:
    barrier = threading.Barrier(CONTENDERS)
    decisions: dict[int, Decision] = {}

    def attempt(digest: int) -> None:
        barrier.wait()
        decisions[digest] = protection.authorize(record(KEY_A, 7, digest)).decision

    threads = [threading.Thread(target=attempt, args=(100 + i,)) for i in range(CONTENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [digest for digest, decision in decisions.items() if decision is Decision.SIGN_NEW]
    assert len(winners) == 1
    assert sorted(d.value for d in decisions.values()) == sorted(["sign_new"] + ["refuse"] * (CONTENDERS - 1))
    [stored] = protection.signed_slots(KEY_A)
    assert stored.digest == winners[0].to_bytes(32, "big")


def test_concurrent_processes_sign_exactly_one_digest_per_slot(db_url: str) -> None:
    # The schema exists before the race (as it does for a running operator and a second instance).
    SlashingProtection(create_db_engine(db_url), chain_id=CHAIN_ID).engine.dispose()
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(CONTENDERS)
    out = context.Queue()
    processes = []
    for index in range(CONTENDERS):
        fields = (KEY_A, (9).to_bytes(32, "big"), (200 + index).to_bytes(32, "big"), "slash_request", AVS, 4)
        processes.append(
            context.Process(target=authorize_in_child, args=(db_url, CHAIN_ID, fields, barrier, out))
        )
    for process in processes:
        process.start()
    results = [out.get(timeout=120) for _ in processes]
    for process in processes:
        process.join()
    assert [p.exitcode for p in processes] == [0] * CONTENDERS
    signed = [digest for digest, decision in results if decision == "sign_new"]
    assert len(signed) == 1
    assert sorted(decision for _, decision in results).count("refuse") == CONTENDERS - 1
    store = SlashingProtection(create_db_engine(db_url), chain_id=CHAIN_ID)
    assert [r.digest for r in store.signed_slots()] == signed
    store.engine.dispose()


def test_a_database_of_another_chain_is_refused(db_url: str) -> None:
    SlashingProtection(create_db_engine(db_url), chain_id=CHAIN_ID).engine.dispose()
    # Another revision of the same chain binds the same digests: the same database serves it.
    SlashingProtection(create_db_engine(db_url), chain_id="exocoredevnet_233-2").engine.dispose()
    engine = create_db_engine(db_url)
    with pytest.raises(ProtectionError, match="belongs to Exocore chain"):
        SlashingProtection(engine, chain_id=OTHER_CHAIN_ID)
    engine.dispose()


def test_refusals_and_posts_are_recorded(protection: SlashingProtection) -> None:
    digest = (5).to_bytes(32, "big")
    protection.record_refusal(digest=digest, kind="reward_claim", avs=AVS, epoch=2, reason="x", detail="why")
    protection.record_post(
        digest=digest, aggregator="http://a", outcome=PostOutcome.FAILED, code="ConnectError"
    )
    assert not protection.settled(digest, "http://a")
    protection.record_post(
        digest=digest, aggregator="http://a", outcome=PostOutcome.REFUSED, code="not_a_member"
    )
    assert protection.settled(digest, "http://a") and not protection.settled(digest, "http://b")
    assert protection.refusals(digest) == [("0x" + digest.hex(), "x")]
    assert protection.posts(digest) == [
        ("http://a", "failed", "ConnectError"),
        ("http://a", "refused", "not_a_member"),
    ]


# -- interchange --


def test_export_import_round_trip(
    protection: SlashingProtection, tmp_path_factory: pytest.TempPathFactory
) -> None:
    for slot, digest in ((1, 10), (2, 20)):
        protection.authorize(record(KEY_A, slot, digest))
    protection.authorize(record(KEY_B, 1, 30, kind="slash_request", epoch=2**64 - 1))
    document = protection.export_interchange()
    assert document["metadata"] == {
        "interchange_format_version": INTERCHANGE_FORMAT_VERSION,
        "exocore_chain_id": CHAIN_ID,
        "exocore_chain": "0x" + protection.exocore_chain.hex(),
    }
    text = dumps_interchange(document)
    fresh_url = f"sqlite:///{tmp_path_factory.mktemp('fresh') / 'fresh.sqlite'}"
    fresh = SlashingProtection(create_db_engine(fresh_url), chain_id=CHAIN_ID)
    report = fresh.import_interchange(json.loads(text))
    assert (report.added, report.already_present) == (3, 0)
    assert fresh.signed_slots() == protection.signed_slots()
    assert fresh.export_interchange() == document
    # The imported slots protect: another digest in one of them is refused.
    assert fresh.authorize(record(KEY_A, 1, 11)).decision is Decision.REFUSE
    assert fresh.authorize(record(KEY_A, 1, 10)).decision is Decision.SIGN_AGAIN
    fresh.engine.dispose()


def test_import_merges_the_union(
    protection: SlashingProtection, tmp_path_factory: pytest.TempPathFactory
) -> None:
    protection.authorize(record(KEY_A, 1, 10))
    other_url = f"sqlite:///{tmp_path_factory.mktemp('other') / 'other.sqlite'}"
    other = SlashingProtection(create_db_engine(other_url), chain_id=CHAIN_ID)
    other.authorize(record(KEY_A, 1, 10))  # the same binding on both sides
    other.authorize(record(KEY_A, 2, 20))
    report = protection.import_interchange(other.export_interchange())
    assert (report.added, report.already_present) == (1, 1)
    assert [(r.slot[-1], r.digest[-1]) for r in protection.signed_slots()] == [(1, 10), (2, 20)]
    other.engine.dispose()


def test_conflicting_import_is_refused_whole(protection: SlashingProtection) -> None:
    protection.authorize(record(KEY_A, 1, 10))
    document = protection.export_interchange()
    slots = document["data"][0]["signed_slots"]
    slots[0]["digest"] = "0x" + (11).to_bytes(32, "big").hex()  # the file's slot 1 holds another digest
    slots.append({**slots[0], "slot": "0x" + (2).to_bytes(32, "big").hex()})  # and a new slot
    with pytest.raises(InterchangeError, match="conflict"):
        protection.import_interchange(document)
    assert [(r.slot[-1], r.digest[-1]) for r in protection.signed_slots()] == [(1, 10)]  # nothing written


def test_a_file_with_two_digests_in_one_slot_is_refused(protection: SlashingProtection) -> None:
    protection.authorize(record(KEY_A, 1, 10))
    document = protection.export_interchange()
    slots = document["data"][0]["signed_slots"]
    slots.append({**slots[0], "digest": "0x" + (12).to_bytes(32, "big").hex()})
    with pytest.raises(InterchangeError, match="conflict inside the file"):
        protection.import_interchange(document)


def test_a_file_of_another_chain_is_refused(
    protection: SlashingProtection, tmp_path_factory: pytest.TempPathFactory
) -> None:
    other_url = f"sqlite:///{tmp_path_factory.mktemp('chain') / 'chain.sqlite'}"
    other = SlashingProtection(create_db_engine(other_url), chain_id=OTHER_CHAIN_ID)
    other.authorize(record(KEY_A, 1, 10))
    with pytest.raises(InterchangeError, match="refusing it"):
        protection.import_interchange(other.export_interchange())
    assert protection.signed_slots() == []
    other.engine.dispose()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("metadata", "interchange_format_version"), "2", "interchange_format_version"),
        (("data", 0, "pubkey"), "0x" + "ab" * 47, "48 bytes"),
        (("data", 0, "signed_slots", 0, "slot"), "0X" + "00" * 32, "0x-prefixed"),
        (("data", 0, "signed_slots", 0, "epoch"), "07", "decimal string"),
        (("data", 0, "signed_slots", 0, "epoch"), str(2**64), "uint64"),
        (("data", 0, "signed_slots", 0, "kind"), "packet", "kind"),
    ],
)
def test_malformed_files_are_refused(
    protection: SlashingProtection, path: tuple[object, ...], value: str, message: str
) -> None:
    protection.authorize(record(KEY_A, 1, 10))
    document = protection.export_interchange()
    target: object = document
    for step in path[:-1]:
        target = target[step]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    with pytest.raises(InterchangeError, match=message):
        protection.import_interchange(document)
