"""The batch span policy (:func:`indexer.ingest.base.next_batch_span`) over every case that matters.

Regression: on a starved host a one-block EMPTY batch overran the time target on fixed overhead
alone; the old rule halved on any overrun and doubled only under a quarter of the target, so the
span fell to one block and never grew back, and the L1 stream fell behind its chain for good."""

from __future__ import annotations

import itertools

import pytest

from indexer.ingest.base import SPAN_GROW_MARGIN, next_batch_span

TARGET = 0.25
MAX = 64
SLOW = 2 * TARGET  # overran the target
FITS = 0.9 * TARGET  # within the target, but not under target / margin
QUICK = TARGET / (2 * SPAN_GROW_MARGIN)


def span_after(span: int, *, covered: int | None = None, records: int, elapsed_s: float, behind: bool) -> int:
    return next_batch_span(
        span,
        covered=span if covered is None else covered,
        records=records,
        elapsed_s=elapsed_s,
        target_s=TARGET,
        behind=behind,
        max_span=MAX,
    )


def test_starved_empty_batches_grow_the_span_back_while_behind() -> None:
    """The regression: every batch overruns the target (overhead alone), none stores a row."""
    span, spans = 1, []
    for _ in range(8):
        span = span_after(span, records=0, elapsed_s=SLOW, behind=True)
        spans.append(span)
    assert spans == [2, 4, 8, 16, 32, 64, 64, 64]


def test_a_starved_host_catches_up_through_a_busy_range() -> None:
    """Busy blocks (rows, over target) split the span; the empty stretch after grows it again, so
    blocks per batch recover instead of staying at one."""
    span = MAX
    for _ in range(10):
        span = span_after(span, records=5, elapsed_s=SLOW, behind=True)
    assert span == 1  # a busy range is split to single blocks
    span = span_after(span, records=5, elapsed_s=SLOW, behind=True)
    assert span == 1  # one busy block over target: nothing smaller to try
    for _ in range(6):
        span = span_after(span, records=0, elapsed_s=SLOW, behind=True)
    assert span == MAX


def test_a_slow_batch_with_rows_halves_what_it_covered() -> None:
    assert span_after(16, records=1, elapsed_s=SLOW, behind=True) == 8
    assert span_after(16, records=1, elapsed_s=SLOW, behind=False) == 8
    assert span_after(16, covered=5, records=1, elapsed_s=SLOW, behind=False) == 2
    assert span_after(16, covered=1, records=3, elapsed_s=SLOW, behind=True) == 16  # nothing to split


def test_behind_a_full_batch_within_the_target_doubles_the_span() -> None:
    assert span_after(8, records=3, elapsed_s=FITS, behind=True) == 16
    assert span_after(8, records=3, elapsed_s=TARGET, behind=True) == 16
    assert span_after(MAX, records=3, elapsed_s=FITS, behind=True) == MAX


def test_caught_up_the_span_grows_only_well_under_the_target() -> None:
    assert span_after(8, records=3, elapsed_s=FITS, behind=False) == 8
    assert span_after(8, records=0, elapsed_s=SLOW, behind=False) == 8
    assert span_after(8, records=3, elapsed_s=QUICK, behind=False) == 16


def test_a_partial_batch_never_grows_the_span() -> None:
    for records, elapsed_s, behind in itertools.product((0, 3), (QUICK, FITS, SLOW), (False, True)):
        if records and elapsed_s == SLOW:
            continue  # a busy overrun shrinks, covered above
        assert span_after(8, covered=4, records=records, elapsed_s=elapsed_s, behind=behind) == 8


def test_no_target_keeps_the_span() -> None:
    for elapsed_s in (0.0, 1e6):
        got = next_batch_span(
            7, covered=7, records=9, elapsed_s=elapsed_s, target_s=None, behind=True, max_span=MAX
        )
        assert got == 7


@pytest.mark.parametrize(
    ("span", "covered", "records", "elapsed_s", "behind"),
    [
        case
        for case in itertools.product(
            (1, 2, 5, MAX), (1, 2, 5, MAX), (0, 1), (0.0, QUICK, FITS, SLOW), (False, True)
        )
        if case[1] <= case[0]  # a batch never covers more than its span
    ],
)
def test_the_span_stays_within_one_and_the_maximum(
    span: int, covered: int, records: int, elapsed_s: float, behind: bool
) -> None:
    got = span_after(span, covered=covered, records=records, elapsed_s=elapsed_s, behind=behind)
    assert 1 <= got <= MAX
    if records == 0:
        assert got >= span  # overhead alone never shrinks the span
