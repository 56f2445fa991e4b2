"""CometBFT 0.37 event queries (``tm.event = 'NewBlock' AND transfer.amount > 5``): parse and match.

The grammar and error wording are those of CometBFT's ``libs/pubsub/query/syntax``::

    query      = condition { "AND" condition }
    condition  = tag ( "=" (number | time | date | string)
                     | ("<" | "<=" | ">" | ">=") (number | time | date)
                     | "CONTAINS" string
                     | "EXISTS" )

Tags are runs of letters, digits, ``.`` and ``_`` not starting with a digit; strings are single-quoted
without escapes; numbers are ``digits[.digits]`` (no sign); ``TIME 2023-11-14T22:13:20Z`` is an RFC 3339
timestamp and ``DATE 2023-11-14`` a date, both with years in [1900, 2999]. Syntax errors read
``offset N: ...`` with N the byte offset of the offending token, as the node reports them.

Matching follows ``libs/pubsub/query``: a condition holds when *any* value recorded under its tag
satisfies it; numeric conditions compare the value as a number (a leading number is extracted, so
``"100stake" > 5``), time and date conditions parse the value as RFC 3339 / ``YYYY-MM-DD``; values
that do not parse never match. ``OR`` and parentheses are not part of the 0.37 language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from relayer.errors import ProtocolError

Value = str | Decimal | datetime | date | None


class QueryParseError(ProtocolError):
    """A query is not valid query syntax; the message is CometBFT's."""


# Token kinds and the names CometBFT's parser prints for them.
TAG, STRING, NUMBER, TIME, DATE = "tag", "string", "number", "timestamp", "datestamp"
AND, CONTAINS, EXISTS = "AND operator", "CONTAINS operator", "EXISTS operator"
EQ, LT, LEQ, GT, GEQ = "= operator", "< operator", "<= operator", "> operator", ">= operator"
INVALID = "invalid token"
_OPERATOR_TEXT = {EQ: "=", LT: "<", LEQ: "<=", GT: ">", GEQ: ">=", CONTAINS: "CONTAINS", EXISTS: "EXISTS"}
_KEYWORDS = {"AND": AND, "EXISTS": EXISTS, "CONTAINS": CONTAINS}
# CometBFT refuses TIME/DATE literals outside these years.
MIN_LITERAL_YEAR, MAX_LITERAL_YEAR = 1900, 2999
_GO_RFC3339 = "2006-01-02T15:04:05Z07:00"
_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)")
_DATE = re.compile(r"(\d{4})-(\d\d)-(\d\d)")
_FULL_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_LEADING_NUMBER = re.compile(r"\d+(\.\d+)?")


def _is_tag_char(ch: str) -> bool:
    return ch in "._" or ch.isalpha() or ch.isdigit()


def _offset(text: str, index: int) -> int:
    """Byte offset of character ``index`` (Go scans UTF-8 bytes)."""
    return len(text[:index].encode())


class _ScanError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    position: int  # byte offset where the token starts


class _Scanner:
    """One token at a time, as ``syntax.Scanner``; errors carry the node's wording."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.index = 0
        self.start = 0  # byte offset of the token being scanned (``Scanner.Pos``)

    def next(self) -> _Token | None:
        """The next token, ``None`` at end of input; raises :class:`_ScanError` on bad input."""
        text = self.text
        while self.index < len(text) and text[self.index].isspace():
            self.index += 1
        start = self.index
        self.start = _offset(text, start)
        if start >= len(text):
            return None
        ch = text[start]
        if ch.isdigit():
            return self._number(start)
        if _is_tag_char(ch):
            return self._tag_like(start)
        if ch == "'":
            end = text.find("'", start + 1)
            if end < 0:
                self.index = len(text)
                raise _ScanError("EOF")
            self.index = end + 1
            return _Token(STRING, text[start + 1 : end], _offset(text, start))
        if ch in "<>=":
            self.index = start + 1
            kind = {"<": LT, ">": GT, "=": EQ}[ch]
            if ch != "=" and self.index < len(text) and text[self.index] == "=":
                self.index += 1
                kind = LEQ if ch == "<" else GEQ
            return _Token(kind, text[start : self.index], _offset(text, start))
        self.index = start + 1
        raise _ScanError(f"invalid input {ch} at offset {_offset(text, self.index)}")

    def _number(self, start: int) -> _Token:
        match = re.compile(r"\d+(\.\d*)?").match(self.text, start)
        assert match is not None  # the caller saw a digit
        self.index = match.end()
        return _Token(NUMBER, match.group(), _offset(self.text, start))

    def _tag_like(self, start: int) -> _Token:
        text = self.text
        end = start
        while end < len(text) and _is_tag_char(text[end]):
            end += 1
        word = text[start:end]
        self.index = end
        followed_by_space = end < len(text) and text[end] == " "
        if word in ("TIME", "DATE") and followed_by_space:
            return self._stamp(word, start, end + 1)
        return _Token(_KEYWORDS.get(word, TAG), word, _offset(text, start))

    def _stamp(self, label: str, label_start: int, start: int) -> _Token:
        allowed = "0123456789-T:+Z" if label == "TIME" else "0123456789-"
        end = start
        while end < len(self.text) and self.text[end] in allowed:
            end += 1
        self.index = end
        body = self.text[start:end]
        try:
            value: datetime | date = parse_time(body) if label == "TIME" else parse_date(body)
        except ValueError as exc:
            raise _ScanError(f"invalid {label} value: {exc}") from exc
        if not MIN_LITERAL_YEAR <= value.year <= MAX_LITERAL_YEAR:
            what = "timestamp" if label == "TIME" else "datestamp"
            raise _ScanError(f"{what} year {value.year} out of range")
        return _Token(TIME if label == "TIME" else DATE, body, _offset(self.text, label_start))


def parse_time(text: str) -> datetime:
    """Go ``time.Parse(time.RFC3339, text)``."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f'parsing time "{text}" as "{_GO_RFC3339}": cannot parse "{text}" as RFC 3339')
    stamp = text.replace("Z", "+00:00")
    if match.group(7):  # Python takes at most 6 fractional digits
        stamp = stamp.replace(match.group(7), match.group(7)[:7])
    try:
        return datetime.fromisoformat(stamp)
    except ValueError as exc:
        raise ValueError(f'parsing time "{text}": {exc}') from exc


def parse_date(text: str) -> date:
    """Go ``time.Parse("2006-01-02", text)``."""
    if _DATE.fullmatch(text) is None:
        raise ValueError(f'parsing time "{text}" as "2006-01-02": cannot parse "{text}" as "2006-01-02"')
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f'parsing time "{text}": {exc}') from exc


def parse_number(text: str) -> Decimal | None:
    """An attribute value as a number, as the node reads it (leading number extracted), or None."""
    match = _FULL_NUMBER.fullmatch(text) or _LEADING_NUMBER.match(text)
    if match is None:
        return None
    try:
        return Decimal(match.group())
    except InvalidOperation:
        return None


@dataclass(frozen=True)
class Condition:
    """``tag op value``; ``value`` is a str (string literal), Decimal (number), datetime (TIME),
    date (DATE) or None (EXISTS). ``op`` is ``=, <, <=, >, >=, CONTAINS, EXISTS``."""

    tag: str
    op: str
    value: Value

    def matches(self, values: Sequence[str]) -> bool:
        if self.op == "EXISTS":
            return True
        return any(self._matches_one(v) for v in values)

    def _matches_one(self, candidate: str) -> bool:
        wanted = self.value
        if isinstance(wanted, str):
            return wanted in candidate if self.op == "CONTAINS" else candidate == wanted
        got: Decimal | datetime | date | None
        if isinstance(wanted, Decimal):
            got = parse_number(candidate)
        elif isinstance(wanted, datetime):
            try:
                got = parse_time(candidate)
            except ValueError:
                got = None
        elif isinstance(wanted, date):
            try:
                got = parse_date(candidate)
            except ValueError:
                got = None
        else:
            got = None
        if got is None or wanted is None:
            return False
        return _compare(self.op, got, wanted)


def _compare(op: str, got: Decimal | datetime | date, wanted: Decimal | datetime | date) -> bool:
    if op == "=":
        return got == wanted
    if op == "<":
        return got < wanted  # type: ignore[operator]
    if op == "<=":
        return got <= wanted  # type: ignore[operator]
    if op == ">":
        return got > wanted  # type: ignore[operator]
    return got >= wanted  # type: ignore[operator]


@dataclass(frozen=True)
class EventQuery:
    """A parsed query; ``str(query)`` is the text it was parsed from (echoed in event messages)."""

    text: str
    conditions: tuple[Condition, ...]

    @classmethod
    def parse(cls, text: str) -> EventQuery:
        if not isinstance(text, str):
            raise QueryParseError("query is not a string")
        scanner = _Scanner(text)
        conditions = [_condition(scanner)]
        while True:
            try:
                token = scanner.next()
            except _ScanError:
                raise QueryParseError(f"offset {scanner.start}: got {INVALID}, want {AND}") from None
            if token is None:
                break
            if token.kind != AND:
                raise QueryParseError(f"offset {token.position}: got {token.kind}, want {AND}")
            conditions.append(_condition(scanner))
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


def _require(scanner: _Scanner, *kinds: str) -> _Token:
    """``Parser.require``: the next token must be one of ``kinds``."""
    try:
        token = scanner.next()
    except _ScanError as exc:
        raise QueryParseError(f"offset {scanner.start}: {exc.message}") from None
    if token is None:
        raise QueryParseError(f"offset {_offset(scanner.text, scanner.index)}: EOF")
    if token.kind not in kinds:
        wanted = kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " or " + kinds[-1]
        raise QueryParseError(f"offset {token.position}: got {token.kind}, wanted {wanted}")
    return token


def _condition(scanner: _Scanner) -> Condition:
    tag = _require(scanner, TAG).text
    op = _require(scanner, LEQ, GEQ, LT, GT, EQ, CONTAINS, EXISTS).kind
    if op == EXISTS:
        return Condition(tag, "EXISTS", None)
    if op == EQ:
        arg = _require(scanner, NUMBER, TIME, DATE, STRING)
    elif op == CONTAINS:
        arg = _require(scanner, STRING)
    else:
        arg = _require(scanner, NUMBER, TIME, DATE)
    value: Value
    if arg.kind == STRING:
        value = arg.text
    elif arg.kind == NUMBER:
        value = Decimal(arg.text.rstrip(".") or "0")
    elif arg.kind == TIME:
        value = parse_time(arg.text).astimezone(UTC)
    else:
        value = parse_date(arg.text)
    return Condition(tag, _OPERATOR_TEXT[op], value)
