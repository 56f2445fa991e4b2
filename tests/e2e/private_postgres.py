"""A throw-away PostgreSQL cluster a test may stop and start (the shared server on :5432 must never be
restarted: other tests and helpers use it).

initdb refuses to run as root, so the cluster belongs to the ``postgres`` system user (``runuser``);
its data and socket directories live in a fresh directory under /tmp that user can enter.

:class:`PrivateReplica` is a streaming replica of one (``pg_basebackup -R``: a copy of the primary's
data directory with ``standby.signal`` and the ``primary_conninfo`` to stream from it), a hot standby
that serves reads and refuses every write.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Final, Self

from devnet.anvil import free_port

PG_BIN: Final = Path("/usr/lib/postgresql/15/bin")
PG_USER: Final = "postgres"
PG_CTL_TIMEOUT_S: Final = 30
# Durability is not under test (a restart is a clean shutdown): skip fsyncs so initdb and every
# commit stay fast on this shared machine.
SERVER_OPTIONS: Final = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


class PrivatePostgres:
    """``start()`` runs initdb + the server on a free port; ``restart(down_s)`` stops it (fast mode:
    every client connection is cut), waits, starts it again; ``stop()`` removes everything."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="exorelay-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sock"
        self.log = self.root / "server.log"
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(
            ["runuser", "-u", PG_USER, "--", *command],
            check=True,
            capture_output=True,
            timeout=PG_CTL_TIMEOUT_S,
            cwd=self.root,
        )

    def _pg_ctl(self, *args: str) -> None:
        self._as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", str(PG_CTL_TIMEOUT_S), *args
        )

    def _own_root(self) -> None:
        self.sockets.mkdir()
        shutil.chown(self.root, PG_USER)
        shutil.chown(self.sockets, PG_USER)
        os.chmod(self.root, 0o700)

    def start(self) -> Self:
        self._own_root()
        self._as_postgres(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "--auth=trust",
            f"--username={PG_USER}",
            "--encoding=UTF8",
            "--no-sync",
            "--no-instructions",
        )
        self.start_server()
        return self

    def start_server(self) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 {SERVER_OPTIONS}"
        self._pg_ctl("-l", str(self.log), "-o", options, "start")

    def stop_server(self) -> None:
        self._pg_ctl("-m", "fast", "stop")

    def restart(self, down_s: float) -> None:
        self.stop_server()
        time.sleep(down_s)
        self.start_server()

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._pg_ctl("-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class PrivateReplica(PrivatePostgres):
    """A hot-standby streaming replica of a running ``primary`` on its own port; ``stop()`` removes it.
    (initdb's trust configuration lets 127.0.0.1 open replication connections as ``postgres``.)"""

    def __init__(self, primary: PrivatePostgres) -> None:
        super().__init__()
        self.primary = primary

    def start(self) -> Self:
        self._own_root()
        self._as_postgres(
            str(PG_BIN / "pg_basebackup"),
            "-D",
            str(self.data),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.primary.port),
            "-U",
            PG_USER,
            "-R",  # standby.signal + primary_conninfo: start as a replica streaming from the primary
            "-X",
            "stream",
            "--checkpoint=fast",
            "--no-sync",
        )
        self.start_server()
        return self
