"""The committed artifacts expose exactly the interface the relayer and docs/protocol.md rely on."""

from __future__ import annotations

from typing import Any

from relayer.l1.artifacts import ContractName, load_artifact


def signature(entry: Any) -> str:
    def kind(item: Any) -> str:
        if str(item["type"]).startswith("tuple"):
            return "(" + ",".join(kind(c) for c in item["components"]) + ")" + str(item["type"])[5:]
        return str(item["type"])

    return f"{entry['name']}({','.join(kind(i) for i in entry['inputs'])})"


def test_gateway_events_match_design() -> None:
    events = {
        str(e["name"]): (signature(e), [bool(i["indexed"]) for i in e["inputs"]])
        for e in load_artifact(ContractName.EXOCORE_GATEWAY).entries("event")
    }
    assert events["ValsetUpdated"] == ("ValsetUpdated(uint64,bytes32,uint256)", [True, False, False])
    assert events["DistributionSubmitted"] == (
        "DistributionSubmitted(bytes32,bytes32,address,uint64,address,uint256,bytes32,uint64)",
        [True, True, True, False, False, False, False, False],
    )
    assert events["RewardPaid"] == ("RewardPaid(bytes32,uint256,address,uint256)", [True, False, True, False])
    assert events["SlashExecuted"] == (
        "SlashExecuted(bytes32,address,address,address[],uint256[],bool,uint64)",
        [True, True, True, False, False, False, False],
    )


def test_gateway_entry_points_match_design() -> None:
    functions = {signature(f) for f in load_artifact(ContractName.EXOCORE_GATEWAY).entries("function")}
    expected = {
        "updateValset(uint64,uint64,bytes,(bytes,bytes))",
        "submitDistribution(uint64,uint64,bytes,(bytes,bytes))",
        "executeSlash(uint64,uint64,bytes,(bytes,bytes))",
        "payout(bytes32,(uint256,address,uint256)[],bytes32[],bool[])",
        "claim(bytes32,(uint256,address,uint256),bytes32[])",
        "verifyAttestation(bytes32,(bytes,bytes))",
        "packetDigest(uint64,uint8,uint64,bytes32)",
        "submitCumulativeRoot(uint64,uint64,bytes,(bytes,bytes))",
    }
    assert expected <= functions


def test_reward_vault_cumulative_interface() -> None:
    vault = load_artifact(ContractName.REWARD_VAULT)
    functions = {signature(f) for f in vault.entries("function")}
    assert {
        "acceptCumulativeRoot(uint64,bytes)",
        "pushCumulative(uint64,(address,address,uint256)[],bytes32[],bool[])",
        "claimCumulative(uint64,(address,address,uint256)[],bytes32[],bool[],address)",
        "claimCumulativeWithSig(uint64,(address,address,uint256)[],bytes32[],bool[],address,uint256,bytes)",
        "drawCumulative(address,address)",
    } <= functions
    events = {str(e["name"]): signature(e) for e in vault.entries("event")}
    assert events["CumulativePaid"] == "CumulativePaid(address,address,address,uint256,uint256,uint64,bool)"
    assert events["CumulativeRootAccepted"] == "CumulativeRootAccepted(uint64,bytes32,uint32,uint64)"


def test_artifacts_carry_bytecode_and_compiler() -> None:
    for name in ContractName:
        artifact = load_artifact(name)
        assert len(artifact.bytecode) > len(artifact.deployed_bytecode) > 0
        assert 0 < len(artifact.deployed_bytecode) <= 24_576  # EIP-170
        assert artifact.compiler_version.startswith("0.8.30")
        assert artifact.source_name.startswith("src/")
