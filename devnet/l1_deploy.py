"""Deploy the exorelay L1 contracts to a node (anvil or any JSON-RPC chain) from committed artifacts.

Order and wiring: the vaults and the reward token take the gateway's address as an immutable, and
the gateway's constructor refuses vaults bound to another address. The gateway's address is
predicted from the deployer's nonce (CREATE), so the deployer must send nothing else meanwhile.

    WETH (n) → RewardVault(gateway, weth) (n+1) → RestakingVault(gateway, sink) (n+2)
    → RewardToken(admin, minter=gateway) (n+3) → ExocoreGateway(..., genesis valset) (n+4)

Restaked principal: the vault is deployed empty. Every stake is a ``RestakingVault.delegate``
(:mod:`devnet.l1_stake` on the devnet) that the follower (:mod:`devnet.l1_follower`) turns into
Exocore stake, so custody equals Exocore's stake per token and a SLASH packet moves what stakers
deposited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.types import TxParams, TxReceipt

from relayer.errors import ConfigError, TxError
from relayer.l1.artifacts import ContractName, load_artifact
from relayer.protocol.attestation import check_proofs_of_possession
from relayer.protocol.errors import SignatureError
from relayer.protocol.types import Hash32

SLASHING_SINK_DEFAULT: Final = to_checksum_address("0x000000000000000000000000000000000000dEaD")
"""Where slashed principal goes unless told otherwise: the conventional burn address."""

RECEIPT_TIMEOUT_S: Final = 120.0
"""How long to wait for a deployment to be mined (instant on anvil's automine)."""

ETHER: Final = 10**18

REWARD_TOKEN_NAME: Final = "Exocore Reward"  # noqa: S105 - a token name, not a secret
REWARD_TOKEN_SYMBOL: Final = "EXOR"  # noqa: S105 - a token symbol, not a secret


class GenesisValsetRefusedError(ConfigError):
    """The genesis validator set cannot be trusted: a key without a valid proof of possession."""


@dataclass(frozen=True, slots=True)
class GenesisValset:
    """The validator set the gateway trusts at deployment (the genesis set)."""

    nonce: int
    pubkeys: tuple[bytes, ...]
    """EIP-2537 uncompressed G1 keys (128 bytes each), in bitmap order."""
    powers: tuple[int, ...]
    pops: tuple[bytes, ...]
    """Each key's IETF proof of possession (96 bytes compressed G2), same order. The gateway cannot
    check them on chain; :func:`deploy_l1` refuses a set without them before sending anything."""


@dataclass(frozen=True, slots=True)
class L1Deployment:
    chain_id: int
    exocore_chain: Hash32
    weth: ChecksumAddress
    reward_vault: ChecksumAddress
    restaking_vault: ChecksumAddress
    reward_token: ChecksumAddress
    gateway: ChecksumAddress
    owner: ChecksumAddress
    guardian: ChecksumAddress
    slashing_sink: ChecksumAddress
    block_number: int
    """Block of the gateway deployment: where an event scan starts."""
    """(token, amount) the deployer deposited into the RestakingVault (empty unless asked for)."""


def create_address(sender: str, nonce: int) -> ChecksumAddress:
    """Address of the contract ``sender`` creates with transaction nonce ``nonce`` (CREATE)."""
    sender_bytes = bytes.fromhex(sender.removeprefix("0x"))
    if nonce == 0:
        encoded_nonce = b"\x80"
    elif nonce < 0x80:
        encoded_nonce = bytes([nonce])
    else:
        raw = nonce.to_bytes((nonce.bit_length() + 7) // 8, "big")
        encoded_nonce = bytes([0x80 + len(raw)]) + raw
    payload = b"\x94" + sender_bytes + encoded_nonce
    return to_checksum_address(keccak(bytes([0xC0 + len(payload)]) + payload)[12:])


def contract_at(w3: Web3, name: ContractName, address: str) -> Contract:
    """A web3 contract object for a deployed exorelay contract."""
    return w3.eth.contract(address=to_checksum_address(address), abi=load_artifact(name).abi_list())


def send_transaction(w3: Web3, account: LocalAccount, tx: TxParams) -> TxReceipt:
    """Sign locally, send, wait for the receipt; a reverted transaction raises :class:`TxError`."""
    filled: dict[str, Any] = dict(tx)
    filled.setdefault("from", account.address)
    filled.setdefault("nonce", w3.eth.get_transaction_count(account.address, "pending"))
    filled.setdefault("chainId", w3.eth.chain_id)
    if "gas" not in filled:
        filled["gas"] = w3.eth.estimate_gas(filled)  # type: ignore[arg-type]
    if "maxFeePerGas" not in filled and "gasPrice" not in filled:
        base_fee = int(w3.eth.get_block("latest").get("baseFeePerGas", 0))
        tip = int(w3.eth.max_priority_fee)
        filled["maxPriorityFeePerGas"] = tip
        filled["maxFeePerGas"] = 2 * base_fee + tip
    signed = account.sign_transaction(filled)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_S)
    if receipt["status"] != 1:
        raise TxError(f"transaction {tx_hash.hex()} reverted")
    return receipt


def deploy_contract(w3: Web3, account: LocalAccount, name: ContractName, *args: object) -> ChecksumAddress:
    """Deploy one artifact with constructor ``args``; return its address."""
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact.abi_list(), bytecode=artifact.bytecode)
    tx = factory.constructor(*args).build_transaction(
        {"from": account.address, "nonce": w3.eth.get_transaction_count(account.address, "pending")}
    )
    receipt = send_transaction(w3, account, tx)
    address = receipt.get("contractAddress")
    if address is None:
        raise TxError(f"deployment of {name} produced no contract address")
    return to_checksum_address(address)


def deploy_l1(
    w3: Web3,
    deployer_key: bytes,
    genesis: GenesisValset,
    exocore_chain: Hash32,
    *,
    owner: str | None = None,
    guardian: str | None = None,
    slashing_sink: str = SLASHING_SINK_DEFAULT,
    token_admin: str | None = None,
    weth: str | None = None,
) -> L1Deployment:
    """Deploy WETH (unless ``weth`` is given), both vaults, the reward token and the gateway.

    The genesis set's proofs of possession are checked first: a set with a key its holder cannot
    prove (a rogue key) raises :class:`GenesisValsetRefusedError` and nothing is deployed.

    ``owner``, ``guardian`` and ``token_admin`` default to the deployer.
    """
    try:
        check_proofs_of_possession(genesis.pubkeys, genesis.pops)
    except SignatureError as exc:
        raise GenesisValsetRefusedError(f"genesis validator set refused: {exc}") from exc
    account: LocalAccount = Account.from_key(deployer_key)
    owner_address = to_checksum_address(owner or account.address)
    guardian_address = to_checksum_address(guardian or account.address)
    admin_address = to_checksum_address(token_admin or account.address)
    sink = to_checksum_address(slashing_sink)
    weth_address = (
        to_checksum_address(weth)
        if weth is not None
        else deploy_contract(w3, account, ContractName.WRAPPED_ETHER)
    )
    gateway_nonce = w3.eth.get_transaction_count(account.address, "pending") + 3
    predicted_gateway = create_address(account.address, gateway_nonce)
    reward_vault = deploy_contract(w3, account, ContractName.REWARD_VAULT, predicted_gateway, weth_address)
    restaking_vault = deploy_contract(w3, account, ContractName.RESTAKING_VAULT, predicted_gateway, sink)
    reward_token = deploy_contract(
        w3,
        account,
        ContractName.REWARD_TOKEN,
        REWARD_TOKEN_NAME,
        REWARD_TOKEN_SYMBOL,
        admin_address,
        predicted_gateway,
    )
    gateway = deploy_contract(
        w3,
        account,
        ContractName.EXOCORE_GATEWAY,
        owner_address,
        guardian_address,
        bytes(exocore_chain),
        reward_vault,
        restaking_vault,
        genesis.nonce,
        list(genesis.pubkeys),
        list(genesis.powers),
    )
    if gateway != predicted_gateway:
        raise TxError(f"gateway deployed at {gateway}, vaults are bound to {predicted_gateway}")
    if admin_address == account.address:
        grant_cumulative_minter(w3, account, reward_token=reward_token, reward_vault=reward_vault)
    return L1Deployment(
        chain_id=int(w3.eth.chain_id),
        exocore_chain=exocore_chain,
        weth=weth_address,
        reward_vault=reward_vault,
        restaking_vault=restaking_vault,
        reward_token=reward_token,
        gateway=gateway,
        owner=owner_address,
        guardian=guardian_address,
        slashing_sink=sink,
        block_number=int(w3.eth.block_number),
    )


def grant_cumulative_minter(w3: Web3, account: LocalAccount, *, reward_token: str, reward_vault: str) -> None:
    """Let the RewardVault mint the reward token: cumulative rewards in the MINT funding mode are
    minted by the vault on each claim, within what the gateway-verified roots funded. Needs the
    token admin's key; with another admin, that admin grants the role itself (docs/operations.md)."""
    token = contract_at(w3, ContractName.REWARD_TOKEN, reward_token)
    minter = token.functions.MINTER_ROLE().call()
    send_transaction(
        w3,
        account,
        token.functions.grantRole(minter, to_checksum_address(reward_vault)).build_transaction(
            {"from": account.address}
        ),
    )
