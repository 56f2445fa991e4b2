"""One SQLite file per devnet: the committed blocks (the transaction log) and the genesis they start from.

The block store's tables hold the blocks; table ``devnet_genesis`` holds the genesis JSON (seed,
validators, L1 chain and gateway, epoch length...). :func:`open_chain` creates the file with a
genesis or reopens it, and :class:`~devnet.chain.node.DevnetNode` replays the blocks on start, so a
stopped devnet resumes exactly where it was.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from devnet.chain.blockstore import BlockStore
from devnet.chain.params import Genesis
from relayer.errors import StorageError

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS devnet_genesis (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL)"
)


class GenesisMismatchError(StorageError):
    """The file was created with another genesis than the one given."""


def read_genesis(path: Path) -> Genesis | None:
    """The genesis stored in ``path``, or ``None`` if the file has none (or does not exist)."""
    if not path.exists():
        return None
    try:
        with sqlite3.connect(str(path)) as db:
            db.execute(_SCHEMA)
            row = db.execute("SELECT body FROM devnet_genesis WHERE id = 1").fetchone()
    except sqlite3.Error as exc:
        raise StorageError(f"cannot read the devnet genesis from {path}: {exc}") from exc
    return None if row is None else Genesis.loads(row[0])


def _write_genesis(path: Path, genesis: Genesis) -> None:
    try:
        with sqlite3.connect(str(path)) as db:
            db.execute(_SCHEMA)
            db.execute("INSERT INTO devnet_genesis (id, body) VALUES (1, ?)", (genesis.dumps(),))
    except sqlite3.Error as exc:
        raise StorageError(f"cannot write the devnet genesis to {path}: {exc}") from exc


def open_chain(path: Path, genesis: Genesis | None = None) -> tuple[Genesis, BlockStore]:
    """Open (or create, when ``genesis`` is given) the devnet file at ``path``.

    Reopening with a ``genesis`` that differs from the stored one raises :class:`GenesisMismatchError`;
    reopening without one uses the stored genesis.
    """
    stored = read_genesis(path)
    if stored is None:
        if genesis is None:
            raise StorageError(f"{path} holds no devnet genesis; start a new devnet with one")
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_genesis(path, genesis)
        stored = genesis
    elif genesis is not None and genesis.dumps() != stored.dumps():
        raise GenesisMismatchError(f"{path} was created with another genesis")
    return stored, BlockStore(stored.chain_id, path)
