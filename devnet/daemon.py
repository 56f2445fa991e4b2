"""The background process behind ``exorelay devnet up``: anvil + L1 contracts + the Exocore devnet.

``python -m devnet.daemon --home .exorelay ...`` (the CLI spawns it detached, logging to
``<home>/devnet.log``):

1. starts anvil (``node_modules``) with its state kept in ``<home>/l1/anvil-state.json``;
2. fresh start: derives the genesis validator set from the seed, deploys WETH, the vaults, the
   reward token and the gateway with that set, and writes ``<home>/l1/deployment.json``;
   resume (``<home>/exocore/devnet.sqlite`` exists): reuses the stored genesis and deployment;
3. starts the Exocore node with its CometBFT RPC and gRPC servers, replaying stored blocks;
4. writes the manifest (:mod:`devnet.manifest`) once both chains answer, then runs until SIGTERM or
   SIGINT, when it stops the node (sealing the open block) and anvil (which dumps its state).

``--client-chain-id N`` (repeatable, fresh start only) adds a client chain: one more anvil with chain
id ``N`` (state in ``<home>/l1/anvil-state-<N>.json``), the same contracts deployed on it, its tokens
as its own assets, its vault followed; the genesis lists it and the manifest describes it under
``client_chains``. A resumed devnet restarts the chains its stored genesis lists.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import httpx

from devnet.anvil import AnvilConfig, AnvilNode
from devnet.chain.params import DEFAULT_CHAIN_ID, Genesis
from devnet.chain.persistence import open_chain, read_genesis
from devnet.defaults import DEFAULT_BLOCK_TIME_MS, DEFAULT_EPOCH_BLOCKS, DEFAULT_SEED, DEFAULT_VALIDATORS
from devnet.l1_follower import FollowerThread, follow_devnet_vault
from devnet.manifest import (
    MANIFEST_VERSION,
    STATUS_FAILED,
    STATUS_READY,
    STATUS_STARTING,
    STATUS_STOPPED,
    write_manifest,
)
from devnet.operator_keys import OPERATOR_KEYS_DIR
from devnet.runtime import ExocoreDevnet
from devnet.stack import client_chain_endpoints, deploy_for_devnet, endpoints, hex0x
from relayer.errors import ConfigError

_log = logging.getLogger("devnet.daemon")

ANVIL_STATE_INTERVAL_S: Final = 5
"""anvil also dumps its state every few seconds, so a killed daemon loses little L1 history."""
READY_TIMEOUT_S: Final = 30.0
"""How long both chains get to answer after their servers started."""
PROBE_TIMEOUT_S: Final = 2.0


class Daemon:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.home = Path(args.home).resolve()
        self.data_file = self.home / "exocore" / "devnet.sqlite"
        self.deployment_file = self.home / "l1" / "deployment.json"
        self.anvil_state = self.home / "l1" / "anvil-state.json"
        self.anvil: AnvilNode | None = None
        self.devnet: ExocoreDevnet | None = None
        self.follower: FollowerThread | None = None
        self.other_anvils: list[AnvilNode] = []
        self.other_followers: list[FollowerThread] = []
        self.stop_requested = threading.Event()
        self.manifest: dict[str, Any] = {
            "version": MANIFEST_VERSION,
            "status": STATUS_STARTING,
            "started_at": datetime.now(tz=UTC).isoformat(),
            "home": str(self.home),
            "seed": args.seed,
            "pids": {"daemon": os.getpid(), "anvil": None},
            "logs": {"daemon": str(self.home / "devnet.log")},
        }

    def _save(self, status: str, **extra: Any) -> None:
        self.manifest["status"] = status
        self.manifest.update(extra)
        write_manifest(self.home, self.manifest)

    def _start_anvil(self) -> AnvilNode:
        self.anvil_state.parent.mkdir(parents=True, exist_ok=True)
        config = AnvilConfig(
            port=self.args.anvil_port or None,
            extra_args=("--state", str(self.anvil_state), "--state-interval", str(ANVIL_STATE_INTERVAL_S)),
        )
        anvil = AnvilNode(config).start()
        self.anvil = anvil
        # AnvilNode keeps its process private; `devnet down` needs the pid to stop anvil if we die.
        process = anvil._process
        self.manifest["pids"]["anvil"] = None if process is None else process.pid
        self._save(STATUS_STARTING)
        return anvil

    def _start_other_anvils(self, chain_ids: Sequence[int]) -> None:
        """One anvil per further client chain, each with its own state file."""
        for chain_id in chain_ids:
            state = self.anvil_state.with_name(f"anvil-state-{chain_id}.json")
            config = AnvilConfig(
                chain_id=chain_id,
                extra_args=("--state", str(state), "--state-interval", str(ANVIL_STATE_INTERVAL_S)),
            )
            node = AnvilNode(config).start()
            self.other_anvils.append(node)
            process = node._process
            self.manifest["pids"].setdefault("client_anvils", []).append(
                None if process is None else process.pid
            )
        self._save(STATUS_STARTING)

    def _fresh_chain(self, anvil: AnvilNode) -> tuple[Genesis, dict[str, Any]]:
        args = self.args
        genesis, deployment, others = deploy_for_devnet(
            anvil,
            chain_id=args.chain_id,
            seed=args.seed,
            validators=args.validators,
            epoch_blocks=args.epoch_blocks,
            other_chains=tuple(self.other_anvils),
        )
        if others:
            deployment["client_chains"] = others
        self.deployment_file.parent.mkdir(parents=True, exist_ok=True)
        self.deployment_file.write_text(json.dumps(deployment, indent=2) + "\n")
        return genesis, deployment

    def _resumed_chain(self, anvil: AnvilNode, genesis: Genesis) -> dict[str, Any]:
        try:
            deployment: dict[str, Any] = json.loads(self.deployment_file.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot resume: {self.deployment_file} is missing ({exc}); use --fresh"
            ) from exc
        code = anvil.rpc("eth_getCode", [deployment["gateway"], "latest"])
        if not isinstance(code, str) or code in ("0x", ""):
            raise ConfigError("cannot resume: the L1 state (gateway) is gone from anvil; use --fresh")
        if hex0x(genesis.gateway) != deployment["gateway"].lower():
            raise ConfigError("cannot resume: the stored genesis names another gateway; use --fresh")
        return deployment

    def _wait_ready(self, devnet: ExocoreDevnet, anvil: AnvilNode) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                status = httpx.get(f"{devnet.rpc_url}/status", timeout=PROBE_TIMEOUT_S)
                anvil.rpc("eth_blockNumber", timeout_s=PROBE_TIMEOUT_S)
                if status.status_code == httpx.codes.OK:
                    return
            except (httpx.HTTPError, ConnectionError) as exc:
                _log.debug("not ready yet: %s", exc)
            if time.monotonic() > deadline:
                raise ConfigError(f"the chains did not answer within {READY_TIMEOUT_S} s")
            time.sleep(0.1)

    def run(self) -> int:
        args = self.args
        self._save(STATUS_STARTING)
        anvil = self._start_anvil()
        stored = read_genesis(self.data_file)
        self._start_other_anvils(
            [c.l1_chain_id for c in stored.client_chains] if stored is not None else args.client_chain_ids
        )
        if stored is None:
            genesis, deployment = self._fresh_chain(anvil)
            _log.info("deployed the L1 contracts; gateway %s", deployment["gateway"])
        else:
            genesis = stored
            deployment = self._resumed_chain(anvil, genesis)
            _log.info("resuming the devnet in %s", self.data_file)
        genesis, store = open_chain(self.data_file, None if stored is not None else genesis)
        devnet = ExocoreDevnet(
            genesis,
            store,
            block_time_s=args.block_time_ms / 1000,
            rpc_port=args.rpc_port,
            grpc_port=args.grpc_port,
        )
        self.devnet = devnet
        devnet.start()
        # L1 custody events become Exocore stake; a resumed devnet re-reads from the first block
        # after the deployment and Exocore refuses the request ids it already applied.
        self.follower = follow_devnet_vault(
            anvil.rpc_url,
            deployment["restaking_vault"],
            from_block=int(deployment.get("follow_from_block", deployment["block_number"])),
            submit=devnet.node.submit,
            reward_vault=deployment.get("reward_vault"),
        )
        for other, node in zip(deployment.get("client_chains", []), self.other_anvils, strict=True):
            self.other_followers.append(
                follow_devnet_vault(
                    node.rpc_url,
                    other["restaking_vault"],
                    from_block=int(other.get("follow_from_block", other["block_number"])),
                    submit=devnet.node.submit,
                    lz_chain_id=int(other["chain_id"]),
                    # Every chain's fee deposits fund its own FEES sources.
                    reward_vault=other.get("reward_vault"),
                    l1_chain_id=int(other["chain_id"]),
                )
            )
        self._wait_ready(devnet, anvil)
        self._save(STATUS_READY, **self._endpoints(genesis, deployment, devnet, anvil))
        _log.info("devnet ready: exocore %s, l1 %s", devnet.rpc_url, anvil.rpc_url)
        self.stop_requested.wait()
        return 0

    def _endpoints(
        self, genesis: Genesis, deployment: dict[str, Any], devnet: ExocoreDevnet, anvil: AnvilNode
    ) -> dict[str, Any]:
        described = endpoints(genesis, deployment, devnet, anvil, self.args.block_time_ms)
        described["exocore"]["data_file"] = str(self.data_file)
        # Operators' per-AVS keys, as EIP-2335 keystores, written by the scenario client at opt-in.
        described["exocore"]["operator_keys_dir"] = str(self.home / OPERATOR_KEYS_DIR)
        described["l1"]["state_file"] = str(self.anvil_state)
        others = deployment.get("client_chains", [])
        if others:
            described["client_chains"] = [
                client_chain_endpoints(other, node)
                for other, node in zip(others, self.other_anvils, strict=True)
            ]
        return described

    def shutdown(self) -> None:
        if self.follower is not None:
            self.follower.stop()
            self.follower = None
        while self.other_followers:
            self.other_followers.pop().stop()
        if self.devnet is not None:
            self.devnet.stop()
            self.devnet.store.close()
            self.devnet = None
        if self.anvil is not None:
            self.anvil.stop()
            self.anvil = None
        while self.other_anvils:
            self.other_anvils.pop().stop()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run the exorelay devnet (Exocore simulator + anvil).")
    parser.add_argument("--home", default=".exorelay")
    parser.add_argument("--block-time-ms", type=int, default=DEFAULT_BLOCK_TIME_MS)
    parser.add_argument("--validators", type=int, default=DEFAULT_VALIDATORS)
    parser.add_argument("--seed", default=DEFAULT_SEED)
    parser.add_argument("--epoch-blocks", type=int, default=DEFAULT_EPOCH_BLOCKS)
    parser.add_argument("--chain-id", default=DEFAULT_CHAIN_ID)
    parser.add_argument("--rpc-port", type=int, default=0)
    parser.add_argument("--grpc-port", type=int, default=0)
    parser.add_argument("--anvil-port", type=int, default=0)
    parser.add_argument("--client-chain-id", dest="client_chain_ids", type=int, action="append", default=[])
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per readiness probe is noise
    daemon = Daemon(parse_args(argv))

    def request_stop(signum: int, _frame: object) -> None:
        _log.info("signal %d: stopping", signum)
        daemon.stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    code = 1
    try:
        code = daemon.run()
    except Exception as exc:  # reported in the manifest and the log; the CLI shows both
        _log.exception("devnet failed")
        daemon._save(STATUS_FAILED, error=f"{type(exc).__name__}: {exc}")
    finally:
        daemon.shutdown()
    if code == 0:
        daemon.manifest["pids"] = {"daemon": None, "anvil": None, "client_anvils": []}
        daemon._save(STATUS_STOPPED)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
