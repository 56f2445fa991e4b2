"""The demo's AVS side: one ``exorelay aggregator`` process and one ``exorelay operator`` process per
committee member, each with its own config file, keystores and slashing-protection database.

Invariants:

- Nothing here signs for an honest committee member: members sign in their own ``exorelay
  operator`` processes. The one exception is :meth:`AvsProcesses.post_rogue`, which simulates a
  compromised signer (an honest ``exorelay operator`` refuses by design to sign a second digest in a
  slot) and whose post the aggregator must refuse.
- Every process this module starts is stopped by :meth:`AvsProcesses.stop` (SIGTERM, then SIGKILL
  after :data:`PROCESS_STOP_S`), whatever state the demo ends in.
- The aggregator writes only its own tables (``storage/aggregation.py``) in the demo's database;
  each operator keeps its own SQLite file under the demo home.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx

from devnet.operator_keys import keystore_paths
from relayer.errors import ExorelayError
from relayer.l1.keystore import write_keystore
from relayer.protocol import bls
from relayer.protocol.claims import EquivocationEvidence, RewardClaim, SigningRequest, SlashRequest
from relayer.protocol.evidence import SignedEquivocation
from relayer.protocol.ids import ChainId, OperatorAddress
from relayer.protocol.keystore import Keystore
from relayer.protocol.types import Address, Amount, Hash32

AGGREGATOR_ACCOUNT: Final = "avs-owner"
"""The funded devnet account the aggregator signs its Exocore transactions with (not ``relayer``,
which the scenario client signs with: two signers on one account would race its sequence)."""
AGGREGATOR_HOST: Final = "127.0.0.1"
OPERATOR_POLL_S: Final = 0.2
"""Operators poll the aggregator every Exocore block (0.2 s) so a claim is signed within a block or two."""
REQUEST_TTL_S: Final = 30.0
"""A request's life at the aggregator: operators started before the claims are opened sign within
seconds; short enough that the demo sees the unsigned claim expire while payouts run."""
GRACE_S: Final = 0.5
"""Wait after the threshold for the remaining members (a few polls), then submit."""
TICK_S: Final = 0.1
PROCESS_START_S: Final = 120.0
"""Hang guard for a process to start (cold imports on a loaded 2-core machine take seconds)."""
PROCESS_STOP_S: Final = 15.0
"""SIGTERM → exit budget of a process before it is killed."""
HTTP_TIMEOUT_S: Final = 10.0
POLL_S: Final = 0.1
KEYSTORE_KDF_ITERATIONS: Final = 16
"""The aggregator's throw-away dev key: a cheap KDF keeps start-up fast (never for a real key)."""
LOG_DIR: Final = "avs"


class AvsDemoError(ExorelayError, RuntimeError):
    """An AVS process failed to start or answered out of contract."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((AGGREGATOR_HOST, 0))
        return int(probe.getsockname()[1])


def digest_of(request: SigningRequest) -> str:
    return "0x" + (request.claim_id if isinstance(request, RewardClaim) else request.slash_id).hex()


@dataclass(frozen=True)
class Refusal:
    """The aggregator's answer to a refused post (HTTP status and error document)."""

    status: int
    code: str
    message: str


@dataclass
class AvsProcesses:
    """The aggregator and the operators of the demo, as separate processes."""

    home: Path
    manifest: Mapping[str, Any]
    database_url: str
    keystore_dir: Path
    avs_policies: Mapping[str, Mapping[str, int]]
    """AVS address -> {reward token -> most one epoch's claim may pay} (each operator's local policy)."""

    def __post_init__(self) -> None:
        self.directory = self.home / LOG_DIR
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://{AGGREGATOR_HOST}:{self.port}"
        self.token = secrets.token_hex(16)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.http = httpx.Client(base_url=self.url, timeout=HTTP_TIMEOUT_S)
        exocore = self.manifest["exocore"]
        self.chain_id: str = exocore["chain_id"]
        self.grpc_target: str = exocore["grpc_target"]

    # ------------------------------------------------------------------ processes

    def _env(self) -> dict[str, str]:
        return {**os.environ, "EXORELAY_AGGREGATOR_TOKEN": self.token, "PYTHONUNBUFFERED": "1"}

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = self.directory / f"{name}.log"
        with log.open("ab") as sink:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and entry point
                [sys.executable, "-m", "relayer", *args],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=self._env(),
            )
        self.processes[name] = process
        return process

    def _common(self, database_url: str | None) -> list[str]:
        lines = [
            "[exocore]",
            f"chain_id = {json.dumps(self.chain_id)}",
            f"grpc_endpoints = [{json.dumps(self.grpc_target)}]",
            "[logging]",
            'format = "text"',
        ]
        if database_url is not None:
            lines += ["[database]", f"url = {json.dumps(database_url)}"]
        return lines

    def start_aggregator(self) -> None:
        account = self.manifest["exocore"]["accounts"][AGGREGATOR_ACCOUNT]
        keystore = self.directory / "aggregator-keystore.json"
        password_file = self.directory / "aggregator.password"
        password = secrets.token_hex(16)
        password_file.write_text(password + "\n", encoding="utf-8")
        keystore.unlink(missing_ok=True)
        write_keystore(
            keystore,
            bytes.fromhex(account["secret_key"]),
            password,
            kdf="pbkdf2",
            iterations=KEYSTORE_KDF_ITERATIONS,
        )
        settings: dict[str, Any] = {
            "host": AGGREGATOR_HOST,
            "port": self.port,
            "avs": sorted(self.avs_policies),
            "keystore_path": str(keystore),
            "keystore_password_file": str(password_file),
            "grace_s": GRACE_S,
            "request_ttl_s": REQUEST_TTL_S,
            "tick_s": TICK_S,
        }
        lines = [
            *self._common(self.database_url),
            "[aggregator]",
            *(f"{key} = {json.dumps(value)}" for key, value in settings.items()),
        ]
        config = self.directory / "aggregator.toml"
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self._spawn("aggregator", ["aggregator", "--config", str(config)])

    def start_operator(self, account: str) -> Path:
        """``exorelay operator run`` for ``account`` with its own keystore per AVS; returns its config."""
        name = f"operator-{account[-6:]}"
        lines = [
            *self._common(None),
            "[operator]",
            f"account = {json.dumps(account)}",
            f"aggregator_urls = [{json.dumps(self.url)}]",
            f"protection_db_url = {json.dumps('sqlite:///' + str(self.directory / (name + '.sqlite')))}",
            f"poll_interval_s = {OPERATOR_POLL_S}",
            "metrics_port = 0",
        ]
        for avs, policy in sorted(self.avs_policies.items()):
            # The keystore the devnet wrote when the operator opted in (its key, not a new one).
            keystore, password_file = existing_keystore(self.keystore_dir, account, avs)
            amounts = ", ".join(f"{json.dumps(t)} = {json.dumps(str(a))}" for t, a in sorted(policy.items()))
            lines += [
                "[[operator.avs]]",
                f"address = {json.dumps(avs)}",
                f"keystore_path = {json.dumps(str(keystore))}",
                f"keystore_password_file = {json.dumps(str(password_file))}",
                f"max_amount_per_epoch = {{ {amounts} }}",
            ]
        config = self.directory / f"{name}.toml"
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self._spawn(name, ["operator", "run", "--config", str(config)])
        return config

    def wait_ready(self) -> None:
        """The aggregator answers /v1/health and no started process has exited."""
        deadline = time.monotonic() + PROCESS_START_S
        while True:
            self.check_alive()
            try:
                if self.http.get("/v1/health").status_code == httpx.codes.OK:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AvsDemoError(f"the aggregator did not start (log: {self.directory / 'aggregator.log'})")
            time.sleep(POLL_S)

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise AvsDemoError(
                    f"{name} exited with {process.returncode} (log: {self.directory / (name + '.log')})"
                )

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=PROCESS_STOP_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=PROCESS_STOP_S)
        self.http.close()

    # ------------------------------------------------------------------ the AVS's calls

    def open(self, request: SigningRequest, evidence: bytes | None = None) -> dict[str, Any]:
        """Open ``request`` as the AVS (its bearer token), as ``exorelay aggregator open`` does."""
        body = {
            "request": "0x" + request.canonical_bytes.hex(),
            "evidence": None if evidence is None else "0x" + evidence.hex(),
        }
        answer = self.http.post("/v1/requests", json=body, headers={"Authorization": f"Bearer {self.token}"})
        if answer.status_code not in (httpx.codes.OK, httpx.codes.CREATED):
            raise AvsDemoError(f"the aggregator refused to open a request: {answer.text}")
        document: dict[str, Any] = answer.json()
        return document

    def document(self, digest: str) -> dict[str, Any]:
        answer = self.http.get(f"/v1/requests/{digest}")
        if answer.status_code != httpx.codes.OK:
            raise AvsDemoError(f"no request {digest} at the aggregator: {answer.text}")
        document: dict[str, Any] = answer.json()
        return document

    def post_rogue(self, request: SigningRequest, account: str, secret: bls.SecretKey) -> Refusal | None:
        """A compromised signer's post: ``account``'s key over ``request`` (None if it was accepted)."""
        signature = bls.sign(secret, bytes.fromhex(digest_of(request)[2:])).compressed
        answer = self.http.post(
            "/v1/signatures",
            json={
                "request": "0x" + request.canonical_bytes.hex(),
                "operator": account,
                "signature": "0x" + signature.hex(),
            },
        )
        if answer.status_code == httpx.codes.ACCEPTED:
            return None
        error = answer.json().get("error", {})
        return Refusal(answer.status_code, str(error.get("code")), str(error.get("message")))

    def evidence_rows(self) -> list[dict[str, Any]]:
        """Conflicting signatures the aggregator recorded (its collection documents list them)."""
        from sqlalchemy import select  # noqa: PLC0415 - only the demo's reader needs it here

        from storage.aggregation import aggregation_evidence_table  # noqa: PLC0415
        from storage.db import create_db_engine  # noqa: PLC0415

        engine = create_db_engine(self.database_url, read_only=True)
        try:
            with engine.connect() as conn:
                return [dict(row._mapping) for row in conn.execute(select(aggregation_evidence_table))]
        finally:
            engine.dispose()


def existing_keystore(keystore_dir: Path, account: str, avs: str) -> tuple[Path, Path]:
    """The keystore and password file the devnet wrote when ``account`` opted into ``avs``."""
    keystore, password_file = keystore_paths(keystore_dir, account, avs)
    if not (keystore.exists() and password_file.exists()):
        raise AvsDemoError(f"no keystore for {account} and AVS {avs} under {keystore_dir}")
    return keystore, password_file


def member_secret(keystore_dir: Path, account: str, avs: str) -> bls.SecretKey:
    """``account``'s AVS key, decrypted from its keystore (the rogue step's key)."""
    keystore, password_file = existing_keystore(keystore_dir, account, avs)
    password = password_file.read_text(encoding="utf-8").removesuffix("\n")
    return Keystore.loads(keystore.read_text(encoding="utf-8")).decrypt(password)


def conflicting_claim(claim: RewardClaim) -> RewardClaim:
    """Another payload in ``claim``'s signing slot (same AVS, epoch and token; one more base unit)."""
    return RewardClaim(
        claim.exocore_chain, claim.avs, claim.epoch, claim.token, Amount(claim.amount + 1), claim.tasks_root
    )


def reward_claim(chain_id: str, avs: str, epoch: int, token: str, amount: int) -> RewardClaim:
    return RewardClaim(
        ChainId.parse(chain_id).hash,
        Address(bytes.fromhex(avs.removeprefix("0x"))),
        epoch,
        Address(bytes.fromhex(token.removeprefix("0x"))),
        Amount(amount),
        Hash32(bytes(32)),
    )


def equivocation_slash(
    chain_id: str,
    avs: str,
    epoch: int,
    operator: str,
    secret: bls.SecretKey,
    *,
    task_id: int,
    proportion: int,
) -> tuple[SlashRequest, bytes]:
    """A slash request whose evidence is two conflicting task responses signed by ``operator``'s key
    (what the AVS's own monitoring would have caught), and the evidence bytes operators check."""
    target = OperatorAddress.parse(operator)
    evidence = EquivocationEvidence(
        ChainId.parse(chain_id).hash,
        Address(bytes.fromhex(avs.removeprefix("0x"))),
        target.address,
        task_id,
        task_id.to_bytes(32, "big") + (1).to_bytes(32, "big"),
        task_id.to_bytes(32, "big") + (2).to_bytes(32, "big"),
    )
    digest_a, digest_b = evidence.digests
    signed = SignedEquivocation(
        evidence, bls.sign(secret, digest_a).compressed, bls.sign(secret, digest_b).compressed
    )
    data = signed.encode()
    request = SlashRequest(
        ChainId.parse(chain_id).hash,
        Address(bytes.fromhex(avs.removeprefix("0x"))),
        epoch,
        target.address,
        proportion,
        True,
        signed.evidence_hash,
    )
    return request, data


def wait_for(
    processes: AvsProcesses, digests: Iterable[str], states: frozenset[str], timeout_s: float
) -> dict[str, dict[str, Any]]:
    """The aggregator's documents once every digest is in one of ``states``."""
    deadline = time.monotonic() + timeout_s
    pending = list(digests)
    while True:
        processes.check_alive()
        documents = {digest: processes.document(digest) for digest in pending}
        if all(doc["state"] in states for doc in documents.values()):
            return documents
        if time.monotonic() > deadline:
            stuck = {d: doc["state"] for d, doc in documents.items() if doc["state"] not in states}
            raise AvsDemoError(f"requests not {sorted(states)} in time: {stuck}")
        time.sleep(POLL_S)


def wait_for_signature(processes: AvsProcesses, digest: str, operator: str, timeout_s: float) -> None:
    """Until ``operator``'s signature over ``digest`` is accepted (its own process signed)."""
    deadline = time.monotonic() + timeout_s
    while True:
        processes.check_alive()
        doc = processes.document(digest)
        if any(s["operator"] == operator and s["verdict"] == "accepted" for s in doc["signatures"]):
            return
        if time.monotonic() > deadline:
            raise AvsDemoError(f"{operator} did not sign {digest} in time (state {doc['state']})")
        time.sleep(POLL_S)
