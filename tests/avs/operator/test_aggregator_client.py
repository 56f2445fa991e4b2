"""The operator's aggregator client: the retry policy as pure code, and the httpx adapter against a
real local HTTP server (retries connection errors, 5xx and 429 with backoff; gives up on 4xx and
keeps the error shape's code; pages through ``GET /v1/requests``)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest

from avs.operator.aggregator_client import (
    AggregatorClient,
    Disposition,
    RetryPolicy,
    classify,
)
from avs.operator.errors import AggregatorError
from tests.support.http_script import Recorded, Reply, scripted, serve_http

POLICY = RetryPolicy(base_s=0.5, max_s=3.0, max_attempts=4)
REQUEST = bytes(range(224))
SIGNATURE = bytes([0xC0]) + bytes(95)
OPERATOR = "exo1qyqszqgpqyqszqgpqyqszqgpqyqszqgpjnp7du"


def error(code: str) -> dict[str, object]:
    return {"error": {"code": code, "message": "m", "details": {}}}


@pytest.mark.parametrize(
    ("status", "disposition"),
    [
        (None, Disposition.RETRY),
        (202, Disposition.DONE),
        (200, Disposition.DONE),
        (429, Disposition.RETRY),
        (500, Disposition.RETRY),
        (503, Disposition.RETRY),
        (400, Disposition.REFUSED),
        (403, Disposition.REFUSED),
        (409, Disposition.REFUSED),
        (410, Disposition.REFUSED),
        (413, Disposition.REFUSED),
        (422, Disposition.REFUSED),
    ],
)
def test_classify(status: int | None, disposition: Disposition) -> None:
    assert classify(status) is disposition


def test_backoff_doubles_and_is_capped() -> None:
    assert [POLICY.delay_s(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    with pytest.raises(ValueError):
        RetryPolicy(base_s=2.0, max_s=1.0, max_attempts=1)


def client(url: str, sleeps: list[float]) -> AggregatorClient:
    return AggregatorClient(url, POLICY, timeout_s=5.0, sleep=sleeps.append)


def test_retries_5xx_and_429_then_succeeds() -> None:
    replies = [
        Reply(503, error("too_many_open_requests")),
        Reply(429, error("rate_limited")),
        Reply(202, {"digest": "0x00", "verdict": "accepted", "state": "collecting"}),
    ]
    sleeps: list[float] = []
    with serve_http(scripted(replies)) as server:
        result = client(server.url, sleeps).post_signature(REQUEST, OPERATOR, SIGNATURE)
    assert (result.disposition, result.status, result.verdict, result.attempts) == (
        Disposition.DONE,
        202,
        "accepted",
        3,
    )
    assert sleeps == [0.5, 1.0]
    assert [(r.method, r.path) for r in server.requests] == [("POST", "/v1/signatures")] * 3
    assert server.requests[0].body == {
        "request": "0x" + REQUEST.hex(),
        "operator": OPERATOR,
        "signature": "0x" + SIGNATURE.hex(),
    }


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (409, "conflicting_signature"),
        (403, "not_a_member"),
        (422, "invalid_signature"),
        (410, "request_expired"),
    ],
)
def test_4xx_is_final_and_keeps_the_code(status: int, code: str) -> None:
    sleeps: list[float] = []
    with serve_http(scripted([Reply(status, error(code))])) as server:
        result = client(server.url, sleeps).post_signature(REQUEST, OPERATOR, SIGNATURE)
    assert (result.disposition, result.status, result.code, result.attempts) == (
        Disposition.REFUSED,
        status,
        code,
        1,
    )
    assert sleeps == [] and len(server.requests) == 1


def test_gives_up_after_max_attempts_on_5xx() -> None:
    sleeps: list[float] = []
    with serve_http(scripted([Reply(500, b"not json")])) as server:
        result = client(server.url, sleeps).post_signature(REQUEST, OPERATOR, SIGNATURE)
    assert (result.disposition, result.status, result.code, result.attempts) == (
        Disposition.RETRY,
        500,
        None,
        4,
    )
    assert sleeps == [0.5, 1.0, 2.0] and len(server.requests) == 4


def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []
    result = client(f"http://127.0.0.1:{port}", sleeps).post_signature(REQUEST, OPERATOR, SIGNATURE)
    assert (result.disposition, result.status, result.code, result.attempts) == (
        Disposition.RETRY,
        None,
        "ConnectError",
        4,
    )
    with pytest.raises(AggregatorError, match="ConnectError"):
        list(client(f"http://127.0.0.1:{port}", sleeps).collecting("0x" + "aa" * 20))


def test_collecting_pages_through_the_cursor_and_skips_malformed_documents() -> None:
    def document(n: int) -> dict[str, object]:
        return {
            "digest": "0x" + bytes([n]).hex() * 32,
            "slot": "0x" + "00" * 32,
            "kind": "reward_claim",
            "request": "0x" + bytes([n]).hex() * 224,
            "evidence": None,
            "state": "collecting",
            "expires_at": "2030-01-01T00:00:00+00:00",
        }

    def handler(request: Recorded) -> Reply:
        if "cursor=two" in request.path:
            return Reply(
                200, {"items": [{**document(3), "expires_at": "2030-01-01T00:00:00"}], "next_cursor": None}
            )
        return Reply(200, {"items": [document(1), {"digest": "nope"}, document(2)], "next_cursor": "two"})

    with serve_http(handler) as server:
        documents = list(client(server.url, []).collecting("0x" + "aa" * 20))
    assert [d.digest[0] for d in documents] == [1, 2, 3]
    assert documents[0].expires_at == documents[2].expires_at == datetime(2030, 1, 1, tzinfo=UTC)
    assert all(r.path.startswith("/v1/requests?state=collecting&avs=0x" + "aa" * 20) for r in server.requests)


def test_a_poll_answered_with_an_error_is_an_aggregator_error() -> None:
    with (
        serve_http(scripted([Reply(503, error("not_ready"))])) as server,
        pytest.raises(AggregatorError, match="503"),
    ):
        list(client(server.url, []).collecting("0x" + "aa" * 20))
