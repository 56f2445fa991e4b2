"""``exorelay claim``: an earner claims its cumulative rewards itself (registered by :func:`register`).

Prints the ``claimCumulative`` transaction for a wallet (``--print``, the default) or signs and sends
it with the earner's own key (``--send``: the keystore of ``l1.keystore_path``, which must be the
earner's). Invariant: importing this module costs only typer and the standard library, so
``exorelay --help`` stays fast (tests/relayer/test_cli_imports.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Final

import typer

from relayer.errors import ConfigError, ExorelayError

CONFIG_OPTION: Final = typer.Option(
    "--config", "-c", help="TOML config file; EXORELAY_* env overrides apply."
)
RECEIPT_TIMEOUT_S: Final = 120.0
"""How long ``--send`` waits for the claim to be mined before it reports the hash and gives up."""


def claim_command(
    earner: Annotated[str, typer.Argument(help="0x address of the earner whose rewards are claimed.")],
    recipient: Annotated[
        str | None, typer.Option(help="0x address that receives the tokens (default: the earner).")
    ] = None,
    send: Annotated[
        bool,
        typer.Option("--send/--print", help="Sign and send with l1.keystore_path, or print for a wallet."),
    ] = False,
    config: Annotated[Path | None, CONFIG_OPTION] = None,
) -> None:
    """Claim everything an earner has left under the latest cumulative root (one tx, all tokens)."""
    # Network, ABI and crypto libraries load only when the command runs (keeps --help fast).
    from web3 import Web3  # noqa: PLC0415

    from relayer.claim import read_and_plan  # noqa: PLC0415
    from relayer.config import load_config  # noqa: PLC0415
    from relayer.exocore.grpc_client import ExocoreGrpcClient  # noqa: PLC0415
    from relayer.protocol.types import as_address  # noqa: PLC0415

    try:
        settings = load_config(config)
        w3 = Web3(Web3.HTTPProvider(str(settings.l1.rpc_urls[0]), request_kwargs={"timeout": 30}))
        grpc = ExocoreGrpcClient.from_config(settings.exocore)
        try:
            plan = read_and_plan(
                settings, w3, grpc, as_address(earner), as_address(recipient) if recipient else None
            )
        finally:
            grpc.close()
        transaction = plan.as_transaction()
        if not send:
            typer.echo(json.dumps(transaction, indent=2))
            return
        from relayer.l1.keystore import load_signer  # noqa: PLC0415

        signer = load_signer(settings.l1)
        if as_address(signer.address) != plan.earner:
            raise ConfigError(
                f"the keystore holds {signer.address}, not the earner {earner}: only it may claim"
            )
        tx: dict[str, Any] = {
            "from": signer.address,
            "to": Web3.to_checksum_address(str(transaction["to"])),
            "data": str(transaction["data"]),
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
        status = "claimed" if receipt["status"] == 1 else "REVERTED"
        typer.echo(json.dumps({"status": status, "tx": "0x" + bytes(tx_hash).hex(), **transaction}, indent=2))
        if receipt["status"] != 1:
            raise typer.Exit(code=1)
    except (ExorelayError, ValueError) as exc:
        typer.echo(f"claim: {exc}", err=True)
        raise typer.Exit(code=1) from exc


def register(app: typer.Typer) -> None:
    """Add ``exorelay claim`` to the CLI."""
    app.command("claim")(claim_command)
