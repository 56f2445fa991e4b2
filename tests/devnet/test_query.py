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


@pytest.mark.parametrize(
    ("text", "events", "expected"),
    [
        # A leading number is read from the value, as the node does ("100stake" > 5).
        ("coin.amount > 5", {"coin.amount": ["100stake"]}, True),
        ("coin.amount < 5", {"coin.amount": ["100stake"]}, False),
        ("coin.amount = 100", {"coin.amount": ["100.0"]}, True),
        ("coin.amount = 100", {"coin.amount": ["stake100"]}, False),
        ("coin.amount >= 0.5", {"coin.amount": ["0.75"]}, True),
        ("a.when > TIME 2024-01-01T00:00:00Z", {"a.when": ["2024-01-01T00:00:01Z"]}, True),
        ("a.when > TIME 2024-01-01T00:00:00Z", {"a.when": ["2024-01-01T01:00:00+02:00"]}, False),
        ("a.when = TIME 2024-01-01T00:00:00Z", {"a.when": ["not a time"]}, False),
        ("a.day <= DATE 2024-01-02", {"a.day": ["2024-01-02"]}, True),
        ("a.day < DATE 2024-01-02", {"a.day": ["2024-01-02"]}, False),
        ("a.b = '5'", {"a.b": ["5"]}, True),
        ("a.b = 'x y' AND c_d.e = 1", {"a.b": ["x y"], "c_d.e": ["1"]}, True),
    ],
)
def test_matching_numbers_times_and_dates(text: str, events: dict[str, list[str]], expected: bool) -> None:
    assert EventQuery.parse(text).matches(events) is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "offset 0: EOF"),
        ("a.b", "offset 3: EOF"),
        ("a.b =", "offset 5: EOF"),
        ("=5", "offset 0: got = operator, wanted tag"),
        (
            "a.b 5",
            "offset 4: got number, wanted <= operator, >= operator, < operator, > operator, "
            "= operator, CONTAINS operator or EXISTS operator",
        ),
        ("a.b > 'x'", "offset 6: got string, wanted number, timestamp or datestamp"),
        ("a.b = TIME", "offset 6: got tag, wanted number, timestamp, datestamp or string"),
        ("a.b CONTAINS DATE 2024-01-01", "offset 13: got datestamp, wanted string"),
        ("a.b = 1 OR a.b = 2", "offset 8: got tag, want AND operator"),
        ("a.b = 1 a.b = 2", "offset 8: got tag, want AND operator"),
        ("a.b = 1 (", "offset 8: got invalid token, want AND operator"),
        ("a.b ~ 1", "offset 4: invalid input ~ at offset 5"),
        ("a.b = -1", "offset 6: invalid input - at offset 7"),
        ("a.b = 'unterminated", "offset 6: EOF"),
        ("a.b = TIME 3000-01-01T00:00:00Z", "offset 6: timestamp year 3000 out of range"),
        ("a.b = DATE 2024-02-30", 'offset 6: invalid DATE value: parsing time "2024-02-30"'),
    ],
)
def test_syntax_errors_read_like_the_nodes(text: str, message: str) -> None:
    with pytest.raises(QueryParseError) as raised:
        EventQuery.parse(text)
    assert str(raised.value).startswith(message)
