"""How the aggregator reads Exocore's verdict on a claim it submitted: every status Exocore gives a
verified claim — distributed (a packet) or accrued (a cumulative-payout AVS: no packet) — closes the
request as verified; a claim left pending would be followed forever."""

from __future__ import annotations

import pytest

from avs.aggregator.submitter import Outcome, _claim_outcome
from relayer.exocore.proto.avs.v1 import types_pb2 as avs_types


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (avs_types.CLAIM_STATUS_SUBMITTED, Outcome.PENDING),
        (avs_types.CLAIM_STATUS_VERIFIED, Outcome.VERIFIED),
        (avs_types.CLAIM_STATUS_DISTRIBUTED, Outcome.VERIFIED),
        (avs_types.CLAIM_STATUS_ACCRUED, Outcome.VERIFIED),
        (avs_types.CLAIM_STATUS_REJECTED, Outcome.REJECTED),
    ],
)
def test_every_status_of_a_verified_claim_closes_the_request(status: int, outcome: Outcome) -> None:
    assert _claim_outcome(avs_types.RewardClaim(status=status)).outcome is outcome  # type: ignore[arg-type]


def test_no_claim_on_chain_is_absent() -> None:
    assert _claim_outcome(None).outcome is Outcome.ABSENT
