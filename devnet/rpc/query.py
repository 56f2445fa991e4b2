"""CometBFT event queries (``tm.event = 'NewBlock' AND transfer.amount > 5``) for websocket subscriptions.

The subset of CometBFT's pubsub query language that clients use: conditions joined by ``AND``, each
``<tag> <op> <value>`` with ``=, <, <=, >, >=, CONTAINS`` over single-quoted strings or numbers, or
``<tag> EXISTS``. A condition matches when any value recorded under the tag satisfies it; numeric
operators compare numerically. ``TIME``/``DATE`` literals are rejected as unsupported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from relayer.errors import ProtocolError


class QueryParseError(ProtocolError):
    """A subscription query is not valid query syntax."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'[^']*')
      | (?P<op><=|>=|=|<|>)
      | (?P<word>[^\s()"'=<>]+)
    )""",
    re.VERBOSE,
)
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_WORD_OPERATORS = ("CONTAINS", "EXISTS")


@dataclass(frozen=True)
class Condition:
    tag: str
    op: str
    value: str | Decimal | None

    def matches(self, values: Sequence[str]) -> bool:
        if self.op == "EXISTS":
            return True
        return any(self._matches_one(v) for v in values)

    def _matches_one(self, candidate: str) -> bool:
        if isinstance(self.value, Decimal):
            try:
                number = Decimal(candidate)
            except InvalidOperation:
                return False
            return {
                "=": number == self.value,
                "<": number < self.value,
                "<=": number <= self.value,
                ">": number > self.value,
                ">=": number >= self.value,
            }[self.op]
        text = "" if self.value is None else self.value
        if self.op == "CONTAINS":
            return text in candidate
        if self.op == "=":
            return candidate == text
        raise QueryParseError(f"operator {self.op} needs a number")


@dataclass(frozen=True)
class EventQuery:
    """A parsed query; ``str(query)`` is the text it was parsed from (echoed in event messages)."""

    text: str
    conditions: tuple[Condition, ...]

    @classmethod
    def parse(cls, text: str) -> EventQuery:
        if not isinstance(text, str) or not text.strip():
            raise QueryParseError("query is empty")
        tokens = _tokenize(text)
        conditions: list[Condition] = []
        position = 0
        while True:
            condition, position = _condition(tokens, position)
            conditions.append(condition)
            if position == len(tokens):
                break
            if tokens[position] != ("word", "AND"):
                raise QueryParseError(f"expected AND, got {tokens[position][1]!r}")
            position += 1
        return cls(text, tuple(conditions))

    def matches(self, events: Mapping[str, Sequence[str]]) -> bool:
        """True when every condition holds for the ``<type>.<key> -> values`` map of a message."""
        for condition in self.conditions:
            values = events.get(condition.tag)
            if values is None or not condition.matches(values):
                return False
        return True

    def __str__(self) -> str:
        return self.text


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    stripped_end = len(text.rstrip())
    while position < stripped_end:
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            snippet = text[position:position + 10]
            raise QueryParseError(f"unexpected character at offset {position}: {snippet!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _condition(tokens: Sequence[tuple[str, str]], position: int) -> tuple[Condition, int]:
    if position >= len(tokens) or tokens[position][0] != "word" or tokens[position][1] in ("AND",):
        raise QueryParseError("expected a tag")
    tag = tokens[position][1]
    position += 1
    if position >= len(tokens):
        raise QueryParseError(f"expected an operator after {tag!r}")
    kind, op = tokens[position]
    position += 1
    if kind == "word" and op == "EXISTS":
        return Condition(tag, "EXISTS", None), position
    if not (kind == "op" or (kind == "word" and op in _WORD_OPERATORS)):
        raise QueryParseError(f"expected an operator after {tag!r}, got {op!r}")
    if position >= len(tokens):
        raise QueryParseError(f"expected a value after {tag} {op}")
    value_kind, raw = tokens[position]
    position += 1
    if value_kind == "string":
        if op in ("<", "<=", ">", ">="):
            raise QueryParseError(f"operator {op} needs a number, got {raw}")
        return Condition(tag, op, raw[1:-1]), position
    if value_kind == "word" and _NUMBER.fullmatch(raw) and op != "CONTAINS":
        return Condition(tag, op, Decimal(raw)), position
    if value_kind == "word" and raw in ("TIME", "DATE"):
        raise QueryParseError(f"{raw} values are not supported by the devnet")
    raise QueryParseError(f"invalid value {raw!r} for {tag} {op}")
