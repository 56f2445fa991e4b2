"""Claiming the work queue (``storage.claims`` through ``relayer.pipeline.jobs``) on the configured
database: two workers never get the same job, claims lapse on the clock they are given, a worker
re-claims its own, and released jobs are free at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert, select

from relayer.pipeline import jobs
from relayer.pipeline.jobs import Claimant
from storage.job_tables import JobStage, PayoutStage, payout_job_table, relay_job_table
from tests.support.database import backend

NOW = datetime(2026, 6, 1, tzinfo=UTC)
TTL_S = 60.0
A = Claimant("host-a:1:aa", TTL_S)
B = Claimant("host-b:2:bb", TTL_S)


def _add_jobs(engine: Engine, count: int, *, stage: JobStage = JobStage.DISCOVERED) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(relay_job_table),
            [
                {
                    "packet_nonce": nonce,
                    "kind": 2,
                    "valset_nonce": 1,
                    "exocore_height": 10 + nonce,
                    "stage": stage.value,
                    "attempts": 0,
                    "discovered_at": NOW,
                    "updated_at": NOW,
                }
                for nonce in range(1, count + 1)
            ],
        )


def _claim(engine: Engine, claimant: Claimant, limit: int, *, at: datetime = NOW) -> list[int]:
    with engine.begin() as conn:
        rows = jobs.claim_due_jobs(conn, JobStage.DISCOVERED, at, limit, claimant=claimant, db_now=at)
    return [int(row.packet_nonce) for row in rows]


def test_a_second_worker_skips_the_rows_the_first_has_locked(engine: Engine) -> None:
    """Both transactions open at once: the second skips the first's locked rows instead of waiting."""
    if backend() != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serialises writers (one process)")
    _add_jobs(engine, 6)
    with engine.begin() as first:
        mine = [
            int(row.packet_nonce)
            for row in jobs.claim_due_jobs(first, JobStage.DISCOVERED, NOW, 3, claimant=A, db_now=NOW)
        ]
        theirs = _claim(engine, B, 3)  # another connection, while the first transaction is open
    assert mine == [1, 2, 3]
    assert theirs == [4, 5, 6]
    assert _claim(engine, B, 10) == [4, 5, 6]  # its own, again; A's are still claimed by A
    with engine.connect() as conn:
        owners = dict(
            conn.execute(select(relay_job_table.c.packet_nonce, relay_job_table.c.claimed_by)).all()
        )
    assert owners == {1: A.holder, 2: A.holder, 3: A.holder, 4: B.holder, 5: B.holder, 6: B.holder}


def test_two_workers_claiming_at_once_never_take_a_job_twice(engine: Engine) -> None:
    _add_jobs(engine, 120)
    taken: dict[str, list[int]] = {A.holder: [], B.holder: []}
    barrier = threading.Barrier(2)

    def work(claimant: Claimant) -> None:
        barrier.wait()
        while batch := _claim_new(engine, claimant, taken[claimant.holder]):
            taken[claimant.holder].extend(batch)

    threads = [threading.Thread(target=work, args=(c,)) for c in (A, B)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = taken[A.holder] + taken[B.holder]
    assert sorted(everything) == list(range(1, 121))  # every job once, none twice
    assert len(set(everything)) == len(everything)


def _claim_new(engine: Engine, claimant: Claimant, already: list[int]) -> list[int]:
    """Claim up to 4 jobs this worker does not hold yet (a worker re-claims its own claims)."""
    with engine.begin() as conn:
        rows = jobs.claim_due_jobs(
            conn, JobStage.DISCOVERED, NOW, 4 + len(already), claimant=claimant, db_now=NOW
        )
    return [int(row.packet_nonce) for row in rows if int(row.packet_nonce) not in already]


def test_a_lapsed_claim_goes_to_another_worker(engine: Engine) -> None:
    _add_jobs(engine, 2)
    assert _claim(engine, A, 10) == [1, 2]
    assert _claim(engine, B, 10, at=NOW + timedelta(seconds=TTL_S - 1)) == []
    assert _claim(engine, B, 10, at=NOW + timedelta(seconds=TTL_S)) == [1, 2]  # A died: B takes over


def test_released_jobs_are_free_at_once_and_only_the_owner_releases(engine: Engine) -> None:
    _add_jobs(engine, 3)
    assert _claim(engine, A, 10) == [1, 2, 3]
    with engine.begin() as conn:
        jobs.release_jobs(conn, [1, 2], B)  # not B's: nothing happens
    assert _claim(engine, B, 10) == []
    with engine.begin() as conn:
        jobs.release_jobs(conn, [1, 2], A)
    assert _claim(engine, B, 10) == [1, 2]


def test_only_due_jobs_at_the_stage_are_claimed(engine: Engine) -> None:
    _add_jobs(engine, 2)
    with engine.begin() as conn:
        conn.execute(
            relay_job_table.update()
            .where(relay_job_table.c.packet_nonce == 1)
            .values(next_attempt_at=NOW + timedelta(seconds=5))
        )
        conn.execute(
            relay_job_table.update()
            .where(relay_job_table.c.packet_nonce == 2)
            .values(stage=JobStage.SUBMITTED.value)
        )
    assert _claim(engine, A, 10) == []
    assert _claim(engine, A, 10, at=NOW + timedelta(seconds=5)) == [1]


def test_payout_jobs_are_claimed_the_same_way(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(payout_job_table),
            [
                {
                    "distribution_id": "0x" + f"{i:064x}",
                    "packet_nonce": i,
                    "leaf_count": 0,
                    "stage": (PayoutStage.PAYING if i < 3 else PayoutStage.PAID).value,
                    "attempts": 0,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for i in (1, 2, 3)
            ],
        )
        first = [row.packet_nonce for row in jobs.claim_due_payout_jobs(conn, NOW, 1, claimant=A, db_now=NOW)]
    with engine.begin() as conn:
        second = [
            row.packet_nonce for row in jobs.claim_due_payout_jobs(conn, NOW, 10, claimant=B, db_now=NOW)
        ]
        jobs.release_payout_jobs(conn, ["0x" + f"{2:064x}"], B)
    with engine.begin() as conn:
        third = [
            row.packet_nonce for row in jobs.claim_due_payout_jobs(conn, NOW, 10, claimant=B, db_now=NOW)
        ]
    assert (first, second, third) == ([1], [2], [2])  # the paid job (3) is never due
