"""Compiled L1 contract artifacts (``relayer/l1/abi/<Name>.json``), loaded without a compiler.

``node contracts/build.mjs`` writes the artifacts and CI fails when they differ from the sources,
so what this module loads is always the build of the committed Solidity. They are package data of
the relayer (``pyproject.toml``), so a production install from the wheel has them next to this
module, exactly as a checkout does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Final

from relayer.errors import ConfigError

ARTIFACTS_DIR: Final = Path(__file__).resolve().parent / "abi"
"""Where ``contracts/build.mjs`` writes artifacts; shipped in the wheel as package data."""


class ContractName(StrEnum):
    """Contracts with a committed artifact."""

    EXOCORE_GATEWAY = "ExocoreGateway"
    REWARD_VAULT = "RewardVault"
    RESTAKING_VAULT = "RestakingVault"
    REWARD_TOKEN = "RewardToken"  # noqa: S105 - a contract name, not a secret
    WRAPPED_ETHER = "WrappedEther"
    BLS12381_HARNESS = "BLS12381Harness"


class ArtifactError(ConfigError):
    """A contract artifact is missing or malformed (run ``node contracts/build.mjs``)."""


AbiEntry = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ContractArtifact:
    """ABI and bytecode of one compiled contract."""

    name: str
    source_name: str
    abi: tuple[AbiEntry, ...]
    bytecode: bytes
    deployed_bytecode: bytes
    compiler_version: str
    source_hash: str

    def abi_list(self) -> list[dict[str, Any]]:
        """The ABI as the mutable list web3.py expects."""
        return [dict(entry) for entry in self.abi]

    def entries(self, kind: str) -> tuple[AbiEntry, ...]:
        """ABI entries of one type (``function``, ``event``, ``error``, ...)."""
        return tuple(entry for entry in self.abi if entry.get("type") == kind)

    def names(self, kind: str) -> frozenset[str]:
        return frozenset(str(entry["name"]) for entry in self.entries(kind) if "name" in entry)


def _hex_bytes(value: object, what: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ArtifactError(f"{what} must be a 0x-hex string")
    try:
        return bytes.fromhex(value[2:])
    except ValueError as exc:
        raise ArtifactError(f"{what} is not hex") from exc


def _parse(name: str, data: object) -> ContractArtifact:
    if not isinstance(data, Mapping):
        raise ArtifactError(f"artifact {name} is not a JSON object")
    abi = data.get("abi")
    if not isinstance(abi, Sequence) or not all(isinstance(entry, Mapping) for entry in abi):
        raise ArtifactError(f"artifact {name}: abi must be a list of objects")
    compiler = data.get("compiler")
    version = compiler.get("version") if isinstance(compiler, Mapping) else None
    if not isinstance(version, str):
        raise ArtifactError(f"artifact {name}: compiler.version missing")
    source_name = data.get("sourceName")
    source_hash = data.get("sourceHash")
    if not isinstance(source_name, str) or not isinstance(source_hash, str):
        raise ArtifactError(f"artifact {name}: sourceName/sourceHash missing")
    if data.get("contractName") != name:
        raise ArtifactError(f"artifact {name}: contractName is {data.get('contractName')!r}")
    return ContractArtifact(
        name=name,
        source_name=source_name,
        abi=tuple(abi),
        bytecode=_hex_bytes(data.get("bytecode"), f"{name}.bytecode"),
        deployed_bytecode=_hex_bytes(data.get("deployedBytecode"), f"{name}.deployedBytecode"),
        compiler_version=version,
        source_hash=source_hash,
    )


def load_artifact(name: ContractName | str, directory: Path | None = None) -> ContractArtifact:
    """Load ``<directory>/<name>.json`` (default :data:`ARTIFACTS_DIR`)."""
    return _load(str(name), directory or ARTIFACTS_DIR)


@cache
def _load(name: str, directory: Path) -> ContractArtifact:
    path = directory / f"{name}.json"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ArtifactError(f"cannot read contract artifact {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"contract artifact {path} is not JSON: {exc}") from exc
    return _parse(name, data)
