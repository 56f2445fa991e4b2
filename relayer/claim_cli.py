"""``exorelay claim``: an earner claims its rewards itself (registered by :func:`register`).

Two kinds, both by default: the cumulative claim (``claimCumulative`` on the RewardVault, all tokens
of the latest root L1 accepted; :mod:`relayer.claim`; one per client chain: each chain has its own
roots, so the claim is made on ``--chain-id``'s chain, or on each configured chain with something to
claim) and every unpaid per-distribution leaf of a
distribution L1 holds (the gateway's ``claim``, one transaction per leaf;
:mod:`relayer.claim_leaves`), both read from Exocore (gRPC) and L1, never from the indexer.
``--no-leaves`` / ``--no-cumulative`` restrict to one kind. Prints the transactions for a wallet
(``--print``, the default) or signs and sends them with the earner's own key (``--send``: the
keystore of ``l1.keystore_path``, which must be the earner's). Output is one JSON object: the
cumulative transaction's fields at the top level when there is one (the first chain's), ``cumulative``,
the list of every chain's cumulative transaction (each with its ``chain_id``), and ``leaves``, a list.

Invariant: importing this module costs only typer and the standard library, so ``exorelay --help``
stays fast (tests/relayer/test_cli_imports.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from relayer.errors import ConfigError, ExorelayError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from web3 import Web3

CONFIG_OPTION: Final = typer.Option(
    "--config", "-c", help="TOML config file; EXORELAY_* env overrides apply."
)
RECEIPT_TIMEOUT_S: Final = 120.0
"""How long ``--send`` waits for each claim to be mined before it reports the hash and gives up."""


def claim_command(
    earner: Annotated[str, typer.Argument(help="0x address of the earner whose rewards are claimed.")],
    *,
    recipient: Annotated[
        str | None,
        typer.Option(help="0x address that receives the cumulative tokens (default: the earner)."),
    ] = None,
    send: Annotated[
        bool,
        typer.Option("--send/--print", help="Sign and send with l1.keystore_path, or print for a wallet."),
    ] = False,
    cumulative: Annotated[
        bool, typer.Option("--cumulative/--no-cumulative", help="Claim under the latest cumulative root.")
    ] = True,
    leaves: Annotated[
        bool,
        typer.Option("--leaves/--no-leaves", help="Claim unpaid leaves of distributions L1 holds."),
    ] = True,
    config: Annotated[Path | None, CONFIG_OPTION] = None,
    chain_id: Annotated[
        int | None,
        typer.Option("--chain-id", help="Claim on this configured client chain only (default: each)."),
    ] = None,
) -> None:
    """Claim everything an earner has left: the cumulative claim and each unpaid distribution leaf."""
    # Network, ABI and crypto libraries load only when the command runs (keeps --help fast).
    from web3 import Web3  # noqa: PLC0415

    from relayer.claim import NothingToClaimError, read_and_plan  # noqa: PLC0415
    from relayer.claim_leaves import leaf_transaction, read_leaf_claims  # noqa: PLC0415
    from relayer.config import load_config  # noqa: PLC0415
    from relayer.exocore.grpc_client import ExocoreGrpcClient  # noqa: PLC0415
    from relayer.l1.client import L1Client  # noqa: PLC0415
    from relayer.l1.gateway import GatewayClient  # noqa: PLC0415
    from relayer.protocol.types import as_address  # noqa: PLC0415

    try:
        if not (cumulative or leaves):
            raise ConfigError("--no-cumulative and --no-leaves leave nothing to claim")
        settings = load_config(config)
        chains = [c for c in settings.chains if chain_id is None or c.chain_id == chain_id]
        if not chains:
            raise ConfigError(f"client chain {chain_id} is not configured")
        for chain in chains:
            if chain.gateway_address is None:
                raise ConfigError(f"the gateway_address of client chain {chain.chain_id} is not set")
        # Leaves are claimed on the named chain, else on the first configured one.
        home = chains[0]
        assert home.gateway_address is not None  # checked above
        w3s = {
            c.chain_id: Web3(Web3.HTTPProvider(str(c.rpc_urls[0]), request_kwargs={"timeout": 30}))
            for c in chains
        }
        owner = as_address(earner)
        result: dict[str, Any] = {}
        cumulative_txs: list[dict[str, object]] = []
        leaf_txs: list[dict[str, object]] = []
        nothing: list[str] = []
        grpc = ExocoreGrpcClient.from_config(settings.exocore)
        try:
            if cumulative:
                for chain in chains:
                    try:
                        plan = read_and_plan(
                            chain,
                            w3s[chain.chain_id],
                            grpc,
                            owner,
                            as_address(recipient) if recipient else None,
                        )
                        cumulative_txs.append({"chain_id": chain.chain_id, **plan.as_transaction()})
                    except NothingToClaimError as exc:
                        nothing.append(f"cumulative: {exc}")
            if cumulative_txs:
                result.update(cumulative_txs[0])
            if leaves:
                gateway = GatewayClient(L1Client.for_chain(home), home.gateway_address)
                found = read_leaf_claims(grpc, gateway, owner)
                leaf_txs = [leaf_transaction(claim, token, gateway.address) for claim, token in found.claims]
                for skip in found.skipped:
                    typer.echo(
                        f"claim: skipped distribution 0x{bytes(skip.distribution_id).hex()}: {skip.reason}",
                        err=True,
                    )
                if not leaf_txs:
                    nothing.append("leaves: no unpaid leaf of a distribution on L1")
        finally:
            grpc.close()
        if not cumulative_txs and not leaf_txs:
            raise NothingToClaimError("nothing to claim (" + "; ".join(nothing) + ")")
        result["cumulative"] = cumulative_txs
        result["leaves"] = leaf_txs
        if not send:
            typer.echo(json.dumps(result, indent=2))
            return
        from relayer.l1.keystore import load_signer  # noqa: PLC0415

        signer = load_signer(home)
        if as_address(signer.address) != owner:
            raise ConfigError(
                f"the keystore holds {signer.address}, not the earner {earner}: only it may claim"
            )
        failed = False
        sent_cumulative = []
        for tx in cumulative_txs:
            # Each chain's claim goes to that chain's vault (its root is on no other chain).
            tx_hash, ok = _send(w3s[int(str(tx["chain_id"]))], signer, str(tx["to"]), str(tx["data"]))
            sent_cumulative.append({"status": "claimed" if ok else "REVERTED", "tx": tx_hash, **tx})
            failed |= not ok
        if sent_cumulative:
            result = {**result, **sent_cumulative[0], "cumulative": sent_cumulative}
        sent_leaves = []
        for leaf in leaf_txs:
            tx_hash, ok = _send(w3s[home.chain_id], signer, str(leaf["to"]), str(leaf["data"]))
            sent_leaves.append({"status": "claimed" if ok else "REVERTED", "tx": tx_hash, **leaf})
            failed |= not ok
        result["leaves"] = sent_leaves
        typer.echo(json.dumps(result, indent=2))
        if failed:
            raise typer.Exit(code=1)
    except (ExorelayError, ValueError) as exc:
        typer.echo(f"claim: {exc}", err=True)
        raise typer.Exit(code=1) from exc


def _send(w3: Web3, signer: LocalAccount, to: str, data: str) -> tuple[str, bool]:
    """Sign, send and wait for one call from the earner; its hash and whether it succeeded."""
    tx: dict[str, Any] = {
        "from": signer.address,
        "to": w3.to_checksum_address(to),
        "data": data,
        "value": 0,
        "nonce": w3.eth.get_transaction_count(signer.address, "pending"),
        "chainId": w3.eth.chain_id,
    }
    tx["gas"] = w3.eth.estimate_gas(tx)  # type: ignore[arg-type]  # a plain dict of TxParams fields
    tip = int(w3.eth.max_priority_fee)
    tx["maxPriorityFeePerGas"] = tip
    tx["maxFeePerGas"] = 2 * int(w3.eth.get_block("latest").get("baseFeePerGas", 0)) + tip
    tx_hash = w3.eth.send_raw_transaction(signer.sign_transaction(tx).raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_S)
    return "0x" + bytes(tx_hash).hex(), receipt["status"] == 1


def register(app: typer.Typer) -> None:
    """Add ``exorelay claim`` to the CLI."""
    app.command("claim")(claim_command)
