"""``.exorelay/devnet.json``: where a running devnet is and how to use it.

Written by the devnet daemon once both chains answer (``status: "ready"``), updated to
``"stopped"`` by ``exorelay devnet down``. Layout (version 1)::

    {
      "version": 1, "status": "ready" | "stopped", "started_at": "<RFC 3339>", "home": "<abs path>",
      "seed": "...", "pids": {"daemon": int, "anvil": int},
      "logs": {"daemon": "<path>"},
      "exocore": {"chain_id", "exocore_chain" (0x hash), "rpc_url", "ws_url", "grpc_target",
                  "grpc_url", "block_time_ms", "epoch_blocks", "lz_chain_id", "data_file",
                  "operator_keys_dir" (operators' per-AVS EIP-2335 keystores, devnet.operator_keys)},
      "l1": {"chain_id", "rpc_url", "deploy_block", "owner", "guardian", "slashing_sink",
             "contracts": {"gateway", "reward_vault", "restaking_vault", "reward_token", "weth"},
             "state_file"},
      "reward_tokens": [{"token", "symbol", "funding": "MINT" | "VAULT", "decimals"}],
      "assets": [{"asset_id", "token", "symbol", "decimals", "price_usd"}],
      "validators": [{"index", "power", "bls_pubkey", "bls_secret_key" (dev only), "consensus_pubkey"}],
      "dev_accounts": [{"address", "private_key"}]     (anvil's well-known funded accounts)
    }

Every key in it is a development key for local chains only.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Final

from relayer.errors import ConfigError

MANIFEST_VERSION: Final = 1
DEFAULT_HOME: Final = Path(".exorelay")
MANIFEST_NAME: Final = "devnet.json"
STATUS_STARTING: Final = "starting"
STATUS_READY: Final = "ready"
STATUS_STOPPED: Final = "stopped"
STATUS_FAILED: Final = "failed"


class ManifestError(ConfigError):
    """The manifest is missing or unreadable."""


def manifest_path(home: Path) -> Path:
    return home / MANIFEST_NAME


def write_manifest(home: Path, manifest: dict[str, Any]) -> Path:
    """Write atomically (a reader never sees half a file)."""
    home.mkdir(parents=True, exist_ok=True)
    target = manifest_path(home)
    handle, temporary = tempfile.mkstemp(prefix=".devnet-", suffix=".json", dir=home)
    with os.fdopen(handle, "w") as out:
        json.dump(manifest, out, indent=2, sort_keys=True)
        out.write("\n")
    os.replace(temporary, target)
    return target


def read_manifest(home: Path) -> dict[str, Any]:
    path = manifest_path(home)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ManifestError(f"no devnet manifest at {path}: run `exorelay devnet up` first") from exc
    except (OSError, ValueError) as exc:
        raise ManifestError(f"cannot read {path}: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("version") != MANIFEST_VERSION:
        raise ManifestError(f"{path} is not a version {MANIFEST_VERSION} devnet manifest")
    return raw


def read_manifest_if_any(home: Path) -> dict[str, Any] | None:
    try:
        return read_manifest(home)
    except ManifestError:
        return None
