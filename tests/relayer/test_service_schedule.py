"""The service's job schedule on a loaded machine: cycles that always take longer than the sweep
interval must not starve the sweep (it finds the packets whose announcement a killed process took
down with it). Before, the sweep's grace was its own interval, so queued behind such cycles on the
one worker every run of it was dropped as "missed"."""

from __future__ import annotations

import threading
import time
from typing import Final

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from relayer.service import schedule_jobs

SWEEP_INTERVAL_S: Final = 1.0
"""The smallest the old grace (``int(interval) or 1``) allowed: 1 s."""
CYCLE_WORK_S: Final = 3.0
"""Each cycle's work: more than twice the sweep interval (so a sweep queued behind it is always
later than the old grace), as on two busy cores."""
SWEEPS_WANTED: Final = 3
GIVE_UP_S: Final = 60.0


def test_sweeps_run_even_when_every_cycle_outlasts_the_sweep_interval() -> None:
    scheduler = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone="UTC",
    )
    sweeps = threading.Semaphore(0)
    cycles: list[float] = []

    def cycle() -> None:
        cycles.append(time.monotonic())
        time.sleep(CYCLE_WORK_S)  # the work itself, not a wait for anything

    schedule_jobs(
        scheduler,
        cycle=cycle,
        sweep=sweeps.release,
        refresh_metrics=lambda: None,
        poll_interval_s=0.05,
        sweep_interval_s=SWEEP_INTERVAL_S,
    )
    scheduler.start()
    try:
        deadline = time.monotonic() + GIVE_UP_S
        for _ in range(SWEEPS_WANTED):
            assert sweeps.acquire(timeout=max(0.0, deadline - time.monotonic())), (
                f"the sweep did not run {SWEEPS_WANTED} times beside {len(cycles)} long cycles"
            )
    finally:
        scheduler.shutdown(wait=True)
    assert len(cycles) >= SWEEPS_WANTED - 1, "cycles kept running between the sweeps"
