"""The committed generated protobuf code matches proto/exocore/**.proto (regenerated with protoc)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from relayer.exocore.proto.avs.v1 import query_pb2 as avs_query
from relayer.exocore.proto.relay.v1 import types_pb2 as relay

REPO_ROOT = Path(__file__).resolve().parents[2]
CODEGEN_TIMEOUT_S = 120


def test_generated_code_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "proto" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=CODEGEN_TIMEOUT_S,
        check=False,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_generated_messages_use_cosmos_pagination_and_upstream_names() -> None:
    request = avs_query.QueryRewardClaimsRequest()
    assert request.DESCRIPTOR.full_name == "exocore.avs.v1.QueryRewardClaimsRequest"
    assert request.pagination.DESCRIPTOR.full_name == "cosmos.base.query.v1beta1.PageRequest"
    service = avs_query.DESCRIPTOR.services_by_name["Query"]
    assert [m.name for m in service.methods] == [
        "QueryAVSInfo",
        "QueryAVSList",
        "QueryCommittee",
        "QueryRewardClaim",
        "QueryRewardClaims",
    ]
    # Enum numbers are the wire values of the packet digest's `kind` byte.
    assert (
        relay.PACKET_KIND_VALSET_UPDATE,
        relay.PACKET_KIND_REWARD_DISTRIBUTION,
        relay.PACKET_KIND_SLASH,
    ) == (
        1,
        2,
        3,
    )
