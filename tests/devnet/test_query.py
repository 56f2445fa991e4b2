from __future__ import annotations

from decimal import Decimal

import pytest

from devnet.rpc.query import Condition, EventQuery, QueryParseError


def test_parses_the_queries_clients_send() -> None:
    query = EventQuery.parse("tm.event='NewBlock'")
    assert query.conditions == (Condition("tm.event", "=", "NewBlock"),)
    assert str(query) == "tm.event='NewBlock'"
    compound = EventQuery.parse(
        "tm.event = 'Tx' AND tx.height >= 5 AND slash_executed.operator EXISTS AND a.b CONTAINS 'ell'"
    )
    assert compound.conditions == (
        Condition("tm.event", "=", "Tx"),
        Condition("tx.height", ">=", Decimal(5)),
        Condition("slash_executed.operator", "EXISTS", None),
        Condition("a.b", "CONTAINS", "ell"),
    )


@pytest.mark.parametrize(
    ("text", "events", "expected"),
    [
        ("tm.event='NewBlock'", {"tm.event": ["NewBlock"]}, True),
        ("tm.event='NewBlock'", {"tm.event": ["Tx"]}, False),
        ("tx.height > 4", {"tx.height": ["5"]}, True),
        ("tx.height > 4", {"tx.height": ["4"]}, False),
        ("tx.height <= 4.5", {"tx.height": ["4"]}, True),
        ("x.y = 3", {"x.y": ["abc", "3"]}, True),
        ("x.y > 3", {"x.y": ["abc"]}, False),
        ("x.y EXISTS", {"x.y": [""]}, True),
        ("x.y EXISTS", {}, False),
        ("a.b CONTAINS 'ell'", {"a.b": ["hello"]}, True),
        ("tm.event='Tx' AND a.b='1'", {"tm.event": ["Tx"], "a.b": ["2"]}, False),
    ],
)
def test_matching(text: str, events: dict[str, list[str]], expected: bool) -> None:
    assert EventQuery.parse(text).matches(events) is expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "tm.event=", "tm.event='a' OR b.c='d'", "a.b > 'x'", "=5", "a.b = TIME", "a.b ~ 1", "a.b"],
)
def test_rejects_invalid_queries(text: str) -> None:
    with pytest.raises(QueryParseError):
        EventQuery.parse(text)
