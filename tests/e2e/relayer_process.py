"""Run ``exorelay run`` as a real OS process against a DevnetStack (for crash and signal tests)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from devnet.stack import DevnetStack
from relayer.l1.keystore import write_keystore
from tests.support.database import DATABASE_URL_ENV

KEYSTORE_PASSWORD = "crash-test-password"
KEYSTORE_KDF_ITERATIONS = 2
"""pbkdf2 with 2 rounds: decrypting the dev key must not dominate 20+ restarts."""


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def write_toml(path: Path, sections: Mapping[str, Any]) -> None:
    """Tables, and lists of tables (``[[client_chains]]``)."""
    lines: list[str] = []
    for name, body in sections.items():
        tables = (
            [(f"[[{name}]]", table) for table in body] if isinstance(body, list) else [(f"[{name}]", body)]
        )
        for header, keys in tables:
            lines.append(header)
            lines.extend(f"{key} = {toml_value(value)}" for key, value in keys.items() if value is not None)
            lines.append("")
    path.write_text("\n".join(lines))


@contextmanager
def process_database(directory: Path) -> Iterator[str]:
    """A database URL a child process can open (a fresh PostgreSQL schema, or a SQLite file)."""
    url = os.environ.get(DATABASE_URL_ENV)
    if not url:
        yield f"sqlite:///{directory / 'relayer.sqlite'}"
        return
    schema = f"exorelay_e2e_{secrets.token_hex(5)}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        separator = "&" if "?" in url else "?"
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def write_relayer_config(
    stack: DevnetStack,
    directory: Path,
    database_url: str,
    *,
    signer_index: int = 1,
    every_chain: bool = False,
    **overrides: Any,
) -> Path:
    """``every_chain``: serve every client chain of the stack (``[[client_chains]]``, the same dev key
    on each); then ``l1__<key>`` overrides apply to each chain's table."""
    assert stack.anvil is not None
    keystore = directory / "signer.json"
    write_keystore(
        keystore,
        stack.anvil.dev_accounts()[signer_index].private_key,
        KEYSTORE_PASSWORD,
        kdf="pbkdf2",
        iterations=KEYSTORE_KDF_ITERATIONS,
    )
    sections: dict[str, Any] = stack.relayer_settings(database_url)
    chains = [sections["l1"]]
    if every_chain:
        others = range(1, 1 + len(stack.manifest.get("client_chains", [])))
        chains += [stack.relayer_settings(database_url, chain=index)["l1"] for index in others]
        sections["client_chains"] = chains
        del sections["l1"]
    for chain in chains:
        chain["keystore_path"] = str(keystore)
        chain["keystore_password_env"] = "EXORELAY_TEST_KEYSTORE_PASSWORD"
    sections["logging"] = {"level": "info", "format": "json"}
    for dotted, value in overrides.items():
        section, key = dotted.split("__", 1)
        for table in chains if section == "l1" else [sections.setdefault(section, {})]:
            table[key] = value
    path = directory / "exorelay.toml"
    write_toml(path, sections)
    return path


def start_relayer(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "EXORELAY_TEST_KEYSTORE_PASSWORD": KEYSTORE_PASSWORD}
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "relayer", "run", "--config", str(config)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )


def kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


LOG_WAIT_S = 180.0
"""Longest a log line the test waits for may take (start-up, a reconnect after backoff)."""


def log_tail(log: Path, chars: int = 4000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else "(no log)"


def wait_for_log(log: Path, needle: str, *, count: int = 1, timeout_s: float = LOG_WAIT_S) -> None:
    """Until ``needle`` occurs ``count`` times in ``log`` (the relayer's JSON log lines)."""
    deadline = time.monotonic() + timeout_s
    while (log.read_text(errors="replace").count(needle) if log.exists() else 0) < count:
        if time.monotonic() > deadline:
            tail = log_tail(log)
            raise AssertionError(f"{needle!r} x{count} not logged within {timeout_s} s; tail:\n{tail}")
        time.sleep(0.1)


def log_records(log: Path) -> list[dict[str, Any]]:
    """The JSON records of ``log`` (lines that are not JSON, e.g. a traceback's, are skipped)."""
    records = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records
