"""Stream cursors (how far each chain's ingestion got), remembered block hashes (reorg detection),
halts and poisoned blocks.

Invariant: a halted stream stays halted until an operator resumes it (``exorelay resume``/``skip-block``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, Row, delete, insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from storage.errors import InvariantViolationError, StreamHaltedError
from storage.models import block_table, cursor_table, poisoned_block_table, violation_table
from storage.store.base import NO_BLOCK_HASH, NO_BLOCK_HEIGHT, StoreBase, insert_ignore


@dataclass(frozen=True, slots=True)
class Cursor:
    stream: str
    chain: str
    height: int
    block_hash: str
    head_height: int | None
    finalized_height: int | None
    halted: bool
    halt_reason: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PoisonedBlock:
    stream: str
    height: int
    block_hash: str
    error_class: str
    error: str
    detected_at: datetime
    skipped_at: datetime | None
    skipped_by: str | None
    skip_reason: str | None


POISON_HALT_PREFIX: Final = "poisoned block"
"""``halt_reason`` of a stream halted at a poisoned block starts with this (then the height)."""


def _poisoned(row: Row[Any]) -> PoisonedBlock:
    return PoisonedBlock(
        stream=row.stream,
        height=int(row.height),
        block_hash=row.block_hash,
        error_class=row.error_class,
        error=row.error,
        detected_at=row.detected_at,
        skipped_at=row.skipped_at,
        skipped_by=row.skipped_by,
        skip_reason=row.skip_reason,
    )


def open_poisoned_blocks(conn: Connection) -> list[PoisonedBlock]:
    """Poisoned blocks neither skipped nor since stored (a resume that succeeded moved the cursor past
    them): what halts a stream now, oldest first."""
    p, c = poisoned_block_table, cursor_table
    rows = conn.execute(
        select(p)
        .outerjoin(c, c.c.stream == p.c.stream)
        .where(p.c.skipped_at.is_(None), or_(c.c.height.is_(None), c.c.height < p.c.height))
        .order_by(p.c.stream, p.c.height)
    ).all()
    return [_poisoned(row) for row in rows]


def read_cursor(conn: Connection, stream: str) -> Cursor | None:
    row = conn.execute(select(cursor_table).where(cursor_table.c.stream == stream)).first()
    if row is None:
        return None
    return Cursor(
        stream=row.stream,
        chain=row.chain,
        height=row.height,
        block_hash=row.block_hash,
        head_height=row.head_height,
        finalized_height=row.finalized_height,
        halted=row.halted,
        halt_reason=row.halt_reason,
        updated_at=row.updated_at,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


class CursorStore(StoreBase):
    """Cursor, block-hash and halt writes of one transaction."""

    def cursor(self, stream: str) -> Cursor | None:
        return read_cursor(self.conn, stream)

    def check_not_halted(self, stream: str) -> None:
        cursor = self.cursor(stream)
        if cursor is not None and cursor.halted:
            raise StreamHaltedError(stream, cursor.halt_reason or "halted")

    def set_cursor(
        self,
        stream: str,
        chain: str,
        height: int,
        block_hash: str,
        *,
        head_height: int | None = None,
        finalized_height: int | None = None,
    ) -> None:
        c = cursor_table
        values = {
            "chain": chain,
            "height": height,
            "block_hash": block_hash,
            "head_height": head_height,
            "finalized_height": finalized_height,
            "updated_at": self.clock(),
        }
        changed = self.conn.execute(update(c).where(c.c.stream == stream).values(**values)).rowcount
        if not changed:
            self.conn.execute(insert(c).values(stream=stream, halted=False, **values))

    def remember_blocks(self, stream: str, blocks: Iterable[tuple[int, str, datetime | None]]) -> None:
        insert_ignore(
            self.conn,
            block_table,
            [{"stream": stream, "height": h, "block_hash": bh, "at": at} for h, bh, at in blocks],
        )

    def remembered_blocks(self, stream: str, above: int) -> list[tuple[int, str]]:
        """Stored (height, hash) of the stream above ``above``, newest first."""
        b = block_table
        rows = self.conn.execute(
            select(b.c.height, b.c.block_hash)
            .where(b.c.stream == stream, b.c.height > above)
            .order_by(b.c.height.desc())
        ).all()
        return [(int(h), str(bh)) for h, bh in rows]

    def block_hash_at(self, stream: str, height: int) -> str | None:
        b = block_table
        found: str | None = self.conn.execute(
            select(b.c.block_hash).where(b.c.stream == stream, b.c.height == height)
        ).scalar_one_or_none()
        return found

    def forget_blocks(self, stream: str, *, above: int | None = None, below: int | None = None) -> None:
        b = block_table
        conditions: list[ColumnElement[bool]] = [b.c.stream == stream]
        if above is not None:
            conditions.append(b.c.height > above)
        if below is not None:
            conditions.append(b.c.height < below)
        self.conn.execute(delete(b).where(*conditions))

    def halt(
        self, stream: str, chain: str, reason: str, violation: InvariantViolationError | None = None
    ) -> None:
        c = cursor_table
        now = self.clock()
        changed = self.conn.execute(
            update(c).where(c.c.stream == stream).values(halted=True, halt_reason=reason, updated_at=now)
        ).rowcount
        if not changed:
            self.conn.execute(
                insert(c).values(
                    stream=stream,
                    chain=chain,
                    height=NO_BLOCK_HEIGHT,
                    block_hash=NO_BLOCK_HASH,
                    halted=True,
                    halt_reason=reason,
                    updated_at=now,
                )
            )
        if violation is not None:
            self.conn.execute(
                insert(violation_table).values(
                    stream=stream,
                    invariant=violation.invariant,
                    message=str(violation),
                    details=_jsonable(violation.details),
                    detected_at=now,
                )
            )
