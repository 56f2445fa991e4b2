"""Reward tokens' display units, read once from L1 and stored for the read side.

The API and the explorer write amounts in tokens ("1,000.0000 EXOR") but never call L1, so the L1
ingestion reads each reward token's ``symbol()`` and ``decimals()`` the first time it meets the
token (the deployment's reward tokens at start, then every token a distribution names) and stores
them in ``token_unit``. A symbol and decimals never change, so a stored token is never read again.

A read that fails (a node error, a token without the views) costs the stream nothing: the token is
tried again after :data:`UNIT_RETRY_S`, and the pages show base units meanwhile.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Final, Protocol, runtime_checkable

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from relayer.errors import ExorelayError
from relayer.l1.tokens import TokenReader
from storage.store import utc_now
from storage.token_tables import token_unit_table

_log = logging.getLogger(__name__)

UNIT_RETRY_S: Final = 60.0
"""A token whose units could not be read is tried again after a minute: soon enough that a page
shows its symbol shortly after a node hiccup, rare enough that a token without ``symbol()`` costs
one call a minute."""


@runtime_checkable
class EthCallSource(Protocol):
    """An ingestion source that can also ``eth_call`` (the real node; a scripted source cannot)."""

    def call(self, to: str, data: bytes) -> bytes: ...


class TokenUnits:
    """Reads and stores the units of tokens not stored yet (one ingestion stream's helper)."""

    def __init__(self, engine: Engine, source: EthCallSource) -> None:
        self.engine = engine
        self.source = source
        self._stored: set[str] = set()
        self._retry_at: dict[str, float] = {}

    def remember(self, tokens: Iterable[str]) -> None:
        """Store the units of every token in ``tokens`` that has none yet (lower-case addresses)."""
        wanted = {t.lower() for t in tokens} - self._stored
        now = time.monotonic()
        wanted = {t for t in wanted if self._retry_at.get(t, 0.0) <= now}
        if not wanted:
            return
        u = token_unit_table
        with self.engine.connect() as conn:
            self._stored.update(conn.execute(select(u.c.token).where(u.c.token.in_(wanted))).scalars())
        for token in sorted(wanted - self._stored):
            try:
                unit = TokenReader(self.source.call, token).unit()
            except ExorelayError as exc:  # the node or the token: try again later, never halt
                _log.warning("token units of %s not readable yet: %s", token, exc)
                self._retry_at[token] = now + UNIT_RETRY_S
                continue
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        insert(u).values(
                            token=token, symbol=unit.symbol, decimals=unit.decimals, read_at=utc_now()
                        )
                    )
            except IntegrityError:
                pass  # stored meanwhile by another ingestor of the same database: the same values
            self._stored.add(token)
            self._retry_at.pop(token, None)
