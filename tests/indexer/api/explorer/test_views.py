"""The explorer's view computations: exact shares, the quorum rule, durations, timeline layout."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from indexer.api import schemas
from indexer.api.explorer import views
from storage.lifecycle import EntityKind
from tests.support.indexer_factory import T0, h


def test_shares_are_exact_for_uint256_and_round_half_up() -> None:
    assert views.Share(1, 3).percent == "33.33"
    assert views.Share(2, 3).percent == "66.67"
    assert views.Share(1, 8).percent == "12.50"  # 1250 basis points exactly
    assert views.Share(1, 80_000).percent == "0.00"  # 0.125 bp rounds down
    assert views.Share(1, 20_000).percent == "0.01"  # 0.5 bp rounds half up
    big = 2**256 - 1
    assert views.Share(big - 1, big).percent == "100.00"
    assert views.Share(big // 3, big).percent == "33.33"
    assert views.Share(5, 0).percent == "0.00"
    assert views.Share(3, 2).fraction == 1.0


def test_grouped_and_durations() -> None:
    assert views.grouped("969999999999999999996") == "969,999,999,999,999,999,996"
    assert views.grouped(0) == "0"
    assert [views.duration(s) for s in (0, 0.424, 12.34, 64, 3 * 3600 + 5 * 60, 2 * 86400 + 7200)] == [
        "0.00 s",
        "0.42 s",
        "12.3 s",
        "1 min 4 s",
        "3 h 5 min",
        "2 d 2 h",
    ]
    assert views.duration(-3) == "0.00 s"


def test_quorum_is_strictly_above_the_threshold_and_slices_add_up() -> None:
    members = [(0, "exo1a", 40), (1, "exo1b", 26), (2, "exo1c", 34)]
    exact = views.quorum(members[:2], signed=None, total=99, threshold="2/3")
    assert exact is not None and exact.signed == 66
    assert not exact.reached, "66 of 99 is exactly 2/3: not above it"
    assert exact.of_threshold.percent == "100.00"  # exactly what the threshold asks for
    above = views.quorum(members, signed=None, total=100, threshold="2/3")
    assert above is not None and above.reached
    assert above.of_threshold.percent == "150.00"  # 100 of 100 against 2/3 of it
    assert [s.share.percent for s in above.segments] == ["40.00", "26.00", "34.00"]
    assert [s.cumulative.percent for s in above.segments] == ["40.00", "66.00", "100.00"]
    assert sum(s.width for s in above.segments) == pytest.approx(views.FIGURE_WIDTH)
    assert above.segments[1].x == pytest.approx(400.0)
    assert above.threshold_x == pytest.approx(views.FIGURE_WIDTH * 2 / 3)
    assert views.quorum(members, signed=None, total=None, threshold="2/3") is None
    assert views.quorum(members, signed=None, total=100, threshold="2/0") is None


def transition(n: int, kind: str, to: str, seconds: float, chain: str = "exocore", **extra: Any) -> Any:
    return schemas.TransitionOut(
        id=n,
        entity_kind=kind,  # type: ignore[arg-type]
        entity_id=extra.pop("entity_id", h(kind)),
        from_state=extra.pop("from_state", None),
        to_state=to,
        edge="forward",
        where=schemas.ChainLocation(chain=chain, height=n),  # type: ignore[arg-type]
        at=T0 + timedelta(seconds=seconds),
    )


def test_a_finished_timeline_never_runs_backwards_and_fills_the_bar() -> None:
    steps = [
        transition(1, "claim", "submitted", 0),
        transition(2, "claim", "verified", 0),
        transition(3, "l1_tx", "signed", 2.5, "relayer"),
        # L1 stamps whole seconds: "relayed" carries 2.0 although it was recorded after 2.5.
        transition(4, "claim", "relayed", 2.0, "l1"),
        transition(5, "claim", "paid", 6.0, "l1"),
    ]
    tl = views.timeline(steps, EntityKind.CLAIM, "paid", now=T0 + timedelta(hours=1))
    assert [s.offset_s for s in tl.steps] == [0.0, 0.0, 2.5, 2.5, 6.0]
    assert [s.gap_s for s in tl.steps] == [None, 0.0, 2.5, 0.0, 3.5]
    assert [s.gap_shown for s in tl.steps] == [False, False, True, False, True]
    assert [s.subject for s in tl.steps] == [True, True, False, True, True]
    assert [st.state for st in tl.stages] == ["submitted", "verified", "relayed", "paid"]
    assert [st.duration_s for st in tl.stages] == [0.0, 2.5, 3.5, None]
    assert not any(st.ongoing for st in tl.stages)
    assert tl.total_s == 6.0
    assert tl.stages[0].x == 0.0
    assert sum(st.width for st in tl.stages) == pytest.approx(views.FIGURE_WIDTH)
    assert min(st.width for st in tl.stages) == pytest.approx(views.MIN_STAGE_WIDTH)
    # Widths beyond the minimum are in proportion to time (2.5 s vs 3.5 s).
    extra = [st.width - views.MIN_STAGE_WIDTH for st in tl.stages]
    assert extra[1] / extra[2] == pytest.approx(2.5 / 3.5)


def test_an_unfinished_subject_is_timed_until_now() -> None:
    steps = [transition(1, "slash", "submitted", 0), transition(2, "slash", "attested", 10)]
    tl = views.timeline(steps, EntityKind.SLASH, "attested", now=T0 + timedelta(seconds=70))
    assert [st.duration_s for st in tl.stages] == [10.0, 60.0]
    assert tl.stages[-1].ongoing
    assert tl.total_s == 70.0
    assert views.timeline([], EntityKind.CLAIM, "submitted", now=T0).stages == ()


def test_payout_totals_per_avs_and_token() -> None:
    def payout(n: int, avs: str, token: str, amount: int, status: str) -> schemas.PayoutOut:
        return schemas.PayoutOut(
            id=n,
            distribution_id=h(n),
            leaf_index=n,
            staker="0x" + "11" * 20,
            token=token,
            amount=str(amount),
            avs=avs,
            status=status,  # type: ignore[arg-type]
            created_at=T0,
            updated_at=T0,
        )

    a, b, t1, t2 = "0x" + "a1" * 20, "0x" + "b1" * 20, "0x" + "c1" * 20, "0x" + "c2" * 20
    totals = views.payout_totals(
        [
            payout(1, b, t1, 5, "finalized"),
            payout(2, a, t2, 2**255, "included"),
            payout(3, a, t2, 2**255, "pending"),
            payout(4, a, t1, 7, "submitted"),
        ]
    )
    assert [(t.avs, t.token, t.payouts, t.amount, t.paid) for t in totals] == [
        (a, t1, 1, 7, 0),
        (a, t2, 2, 2**256, 2**255),
        (b, t1, 1, 5, 5),
    ]
    assert totals[1].unpaid == 2**255 and totals[1].paid_share.percent == "50.00"
