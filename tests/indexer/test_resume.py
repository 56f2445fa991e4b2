"""``exorelay resume STREAM``: clears a halt the invariant checks set, says what it cleared."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from indexer.cli import UnknownStreamError, resume_stream
from indexer.ingest.exocore import EXOCORE_STREAM, ExocoreIngestor
from relayer.cli import app
from storage import migrate
from storage.db import create_db_engine
from storage.errors import ChainMismatchError, StreamHaltedError
from storage.models import violation_table
from storage.records import ExocoreBlock
from storage.store import LifecycleStore

AT = datetime(2026, 1, 1, tzinfo=UTC)


def halt_by_fork(store: LifecycleStore) -> None:
    """A real halt: block 5 comes back with another hash (Exocore blocks are final)."""
    ingestor = ExocoreIngestor(store)
    ingestor.apply_block(ExocoreBlock(5, "0x" + "aa" * 32, AT))
    with pytest.raises(ChainMismatchError):
        ingestor.apply_block(ExocoreBlock(5, "0x" + "bb" * 32, AT))
    cursor = store.cursor(EXOCORE_STREAM)
    assert cursor is not None and cursor.halted


def test_resume_clears_the_halt_and_keeps_the_violation(store: LifecycleStore, engine: Engine) -> None:
    halt_by_fork(store)
    resumed = resume_stream(store, EXOCORE_STREAM)
    assert (resumed.stream, resumed.height, resumed.was_halted) == (EXOCORE_STREAM, 5, True)
    assert resumed.halt_reason is not None and "chain_consistent" in resumed.halt_reason
    assert resumed.violations == 1 and resumed.last_violation is not None
    assert resumed.last_violation.startswith("chain_consistent: ")
    cursor = store.cursor(EXOCORE_STREAM)
    assert cursor is not None and not cursor.halted and cursor.halt_reason is None
    with engine.connect() as conn:  # the audit trail stays
        assert conn.execute(select(func.count()).select_from(violation_table)).scalar_one() == 1
    # Ingestion goes on from the cursor.
    assert ExocoreIngestor(store).apply_block(ExocoreBlock(6, "0x" + "cc" * 32, AT))
    # Resuming a stream that is not halted changes nothing.
    again = resume_stream(store, EXOCORE_STREAM)
    assert (again.was_halted, again.height, again.halt_reason) == (False, 6, None)


def test_resume_of_an_unknown_stream_is_a_typed_error(store: LifecycleStore) -> None:
    with pytest.raises(UnknownStreamError, match=r"streams: none yet") as empty:
        resume_stream(store, "exocore")
    assert isinstance(empty.value, LookupError) and empty.value.known == []
    halt_by_fork(store)
    with pytest.raises(UnknownStreamError, match=r"no ingestion stream 'l1:1' \(streams: exocore\)"):
        resume_stream(store, "l1:1")


def test_exorelay_resume_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'resume.db'}"
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    store = LifecycleStore(engine)
    halt_by_fork(store)
    runner = CliRunner()
    result = runner.invoke(app, ["resume", "exocore", "--database-url", url])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "stream exocore resumed at height 5"
    assert lines[1].startswith("cleared halt: exocore: invariant 'chain_consistent' violated: ")
    assert lines[2].startswith("invariant violations on record for exocore: 1 (latest at ")
    cursor = store.cursor(EXOCORE_STREAM)
    assert cursor is not None and not cursor.halted

    result = runner.invoke(app, ["resume", "exocore", "--database-url", url])
    assert result.exit_code == 0
    assert result.output == "stream exocore is not halted (at height 5); nothing to clear\n"

    result = runner.invoke(app, ["resume", "l1:31337", "--database-url", url])
    assert result.exit_code == 1
    assert "resume: no ingestion stream 'l1:31337' (streams: exocore)" in result.output
    engine.dispose()


def test_a_resumed_stream_that_fails_again_halts_again(store: LifecycleStore) -> None:
    halt_by_fork(store)
    resume_stream(store, EXOCORE_STREAM)
    ingestor = ExocoreIngestor(store)
    with pytest.raises(ChainMismatchError):
        ingestor.apply_block(ExocoreBlock(5, "0x" + "dd" * 32, AT))
    with pytest.raises(StreamHaltedError):
        ingestor.apply_block(ExocoreBlock(6, "0x" + "ee" * 32, AT))
    assert resume_stream(store, EXOCORE_STREAM).violations == 2
