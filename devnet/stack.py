"""Both chains in one process: anvil + the L1 contracts + the Exocore devnet, for tests, benchmarks
and ``exorelay demo``.

``exorelay devnet up`` runs the same parts as a detached daemon (:mod:`devnet.daemon`); this module
holds what both share (deployment → genesis, the manifest's endpoint section).

    with DevnetStack(tmp_path) as stack:
        stack.relayer_config(database_url)      # an ExorelayConfig that points at both chains
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Final, Self

from eth_account import Account
from web3 import Web3
from web3.types import TxParams, Wei

from devnet.anvil import AnvilConfig, AnvilNode
from devnet.chain.params import (
    DEFAULT_CHAIN_ID,
    DEVNET_ACCOUNT_NAMES,
    DEVNET_LZ_CHAIN_ID,
    GENESIS_VALSET_NONCE,
    USD_ONE,
    Genesis,
    GenesisAsset,
    devnet_account_secret,
    devnet_accounts,
    devnet_validators,
)
from devnet.chain.persistence import open_chain
from devnet.defaults import DEFAULT_EPOCH_BLOCKS, DEFAULT_SEED
from devnet.l1_deploy import (
    GenesisValset,
    L1Deployment,
    contract_at,
    deploy_l1,
    send_transaction,
)
from devnet.l1_follower import FollowerThread, follow_devnet_vault
from devnet.operator_keys import OPERATOR_KEYS_DIR
from devnet.runtime import ExocoreDevnet
from relayer.l1.artifacts import ContractName
from relayer.protocol import bls
from relayer.protocol.ids import ChainId, asset_id
from relayer.protocol.packets import ClientChain
from relayer.protocol.types import Address

WETH_PRICE_USD: Final = 3000
REWARD_TOKEN_PRICE_USD: Final = 1
TOKEN_DECIMALS: Final = 18
DEFAULT_STACK_VALIDATORS: Final = 4
"""Small enough for fast tests, large enough that one offline validator still leaves > 2/3."""


def hex0x(data: bytes) -> str:
    return "0x" + data.hex()


def parse_address(text: str) -> Address:
    return Address(bytes.fromhex(text.removeprefix("0x")))


def deployment_to_json(deployment: L1Deployment) -> dict[str, Any]:
    return {
        "chain_id": deployment.chain_id,
        "exocore_chain": hex0x(deployment.exocore_chain),
        "weth": deployment.weth,
        "reward_vault": deployment.reward_vault,
        "restaking_vault": deployment.restaking_vault,
        "reward_token": deployment.reward_token,
        "gateway": deployment.gateway,
        "owner": deployment.owner,
        "guardian": deployment.guardian,
        "slashing_sink": deployment.slashing_sink,
        "block_number": deployment.block_number,
    }


def genesis_assets(
    deployment: dict[str, Any], lz_chain_id: int = DEVNET_LZ_CHAIN_ID
) -> tuple[GenesisAsset, ...]:
    """WETH and the reward token are restakable from genesis (with oracle prices), as assets of
    client chain ``lz_chain_id`` (the devnet's LayerZero id of a chain is its EVM chain id)."""
    return (
        GenesisAsset(
            asset_id(parse_address(deployment["weth"]), lz_chain_id),
            TOKEN_DECIMALS,
            WETH_PRICE_USD * USD_ONE,
        ),
        GenesisAsset(
            asset_id(parse_address(deployment["reward_token"]), lz_chain_id),
            TOKEN_DECIMALS,
            REWARD_TOKEN_PRICE_USD * USD_ONE,
        ),
    )


def deploy_for_devnet(
    anvil: AnvilNode,
    *,
    chain_id: str,
    seed: str,
    validators: int,
    epoch_blocks: int,
    cumulative_every: int = 0,
    other_chains: tuple[AnvilNode, ...] = (),
) -> tuple[Genesis, dict[str, Any], list[dict[str, Any]]]:
    """Deploy the L1 contracts trusting the devnet's genesis valset; return the matching genesis.

    ``other_chains``: further client chains' anvils, each given the same contracts (trusting the same
    genesis valset), listed in the genesis after the first; their deployments are returned in order."""
    members = devnet_validators(seed, validators)
    w3 = Web3(Web3.HTTPProvider(anvil.rpc_url))
    deployment = deploy_client_chain(anvil, chain_id=chain_id, seed=seed, validators=validators)
    others = [
        deploy_client_chain(node, chain_id=chain_id, seed=seed, validators=validators)
        for node in other_chains
    ]
    # The vault holds nothing yet: every principal enters through RestakingVault.delegate after this
    # block, and the follower turns each into Exocore stake (so custody = Exocore's stake per token).
    deployment["follow_from_block"] = w3.eth.block_number + 1
    for other, node in zip(others, other_chains, strict=True):
        other["follow_from_block"] = Web3(Web3.HTTPProvider(node.rpc_url)).eth.block_number + 1
    genesis = Genesis(
        chain_id=chain_id,
        seed=seed,
        l1_chain_id=deployment["chain_id"],
        gateway=parse_address(deployment["gateway"]),
        validators=members,
        genesis_time_ns=time.time_ns(),
        epoch_blocks=epoch_blocks,
        # Each client chain's tokens are its own assets (asset id ``<token>_<chain id hex>``).
        assets=genesis_assets(deployment)
        + tuple(asset for other in others for asset in genesis_assets(other, other["chain_id"])),
        # Bank accounts for the devnet's actors (keys derived from the seed), so signed Cosmos
        # transactions can pay fees from the first block.
        accounts=devnet_accounts(seed),
        cumulative_every=cumulative_every,
        # Every stake is an L1 vault deposit the follower reports: custody = Exocore's stake.
        l1_custody=True,
        client_chains=tuple(
            ClientChain(other["chain_id"], parse_address(other["gateway"])) for other in others
        ),
    )
    return genesis, deployment, others


def deploy_client_chain(anvil: AnvilNode, *, chain_id: str, seed: str, validators: int) -> dict[str, Any]:
    """The L1 contracts on one client chain, trusting the devnet's genesis valset (as JSON)."""
    members = devnet_validators(seed, validators)
    keys = tuple(bls.parse_public_key(v.bls_pubkey).to_eip2537() for v in members)
    w3 = Web3(Web3.HTTPProvider(anvil.rpc_url))
    return deployment_to_json(
        deploy_l1(
            w3,
            anvil.dev_accounts()[0].private_key,
            GenesisValset(
                GENESIS_VALSET_NONCE, keys, tuple(v.power for v in members), tuple(v.pop for v in members)
            ),
            ChainId.parse(chain_id).hash,
        )
    )


def client_chain_endpoints(deployment: dict[str, Any], anvil: AnvilNode) -> dict[str, Any]:
    """The manifest's description of one client chain (``l1``, and each of ``client_chains``)."""
    return {
        "chain_id": deployment["chain_id"],
        "rpc_url": anvil.rpc_url,
        "deploy_block": deployment["block_number"],
        "owner": deployment["owner"],
        "guardian": deployment["guardian"],
        "slashing_sink": deployment["slashing_sink"],
        "contracts": {
            name: deployment[name]
            for name in ("gateway", "reward_vault", "restaking_vault", "reward_token", "weth")
        },
    }


def endpoints(
    genesis: Genesis, deployment: dict[str, Any], devnet: ExocoreDevnet, anvil: AnvilNode, block_time_ms: int
) -> dict[str, Any]:
    """The manifest's description of both running chains."""
    return {
        "exocore": {
            "chain_id": genesis.chain_id,
            "exocore_chain": hex0x(genesis.exocore_chain),
            "rpc_url": devnet.rpc_url,
            "ws_url": devnet.ws_url,
            "grpc_target": devnet.grpc_target,
            "grpc_url": f"grpc+http://{devnet.grpc_target}",
            "block_time_ms": block_time_ms,
            "epoch_blocks": genesis.epoch_blocks,
            "lz_chain_id": DEVNET_LZ_CHAIN_ID,
            # Dev keys of the accounts funded at genesis (derived from the public devnet seed, like
            # anvil's dev accounts): clients sign Cosmos transactions with them.
            "accounts": {
                name: {
                    "address": account.address,
                    "secret_key": devnet_account_secret(genesis.seed, name).hex(),
                }
                for name, account in zip(DEVNET_ACCOUNT_NAMES, devnet_accounts(genesis.seed), strict=True)
            },
        },
        "l1": client_chain_endpoints(deployment, anvil),
        "reward_tokens": [
            {
                "token": deployment["reward_token"],
                "symbol": "EXOR",
                "funding": "MINT",
                "decimals": TOKEN_DECIMALS,
            },
            {"token": deployment["weth"], "symbol": "WETH", "funding": "VAULT", "decimals": TOKEN_DECIMALS},
        ],
        "assets": [
            {
                "asset_id": asset.asset_id,
                "token": asset.asset_id.split("_")[0],
                "symbol": symbol,
                "decimals": asset.decimals,
                "price_usd": asset.price_usd_e8 // USD_ONE,
            }
            for asset, symbol in zip(genesis.assets, ("WETH", "EXOR"), strict=False)
        ],
        "validators": [
            {
                "index": index,
                "power": validator.power,
                "bls_pubkey": hex0x(validator.bls_pubkey),
                "bls_secret_key": None if validator.bls_secret is None else hex0x(validator.bls_secret),
                "consensus_pubkey": hex0x(validator.consensus_pubkey),
            }
            for index, validator in enumerate(genesis.validators)
        ],
        "dev_accounts": [
            {"address": account.address, "private_key": hex0x(account.private_key)}
            for account in anvil.dev_accounts()
        ],
    }


class DevnetStack:
    """anvil + contracts + a fresh Exocore devnet (data under ``home``), all in this process.

    ``exocore_block_time_s`` None: the devnet makes a block only when driven (tests advance it);
    ``l1_block_time_s`` None: anvil automines one block per transaction.
    """

    def __init__(
        self,
        home: Path,
        *,
        validators: int = DEFAULT_STACK_VALIDATORS,
        exocore_block_time_s: float | None = 0.2,
        l1_block_time_s: float | None = None,
        epoch_blocks: int = DEFAULT_EPOCH_BLOCKS,
        chain_id: str = DEFAULT_CHAIN_ID,
        seed: str = DEFAULT_SEED,
        cumulative_every: int = 0,
        other_chain_ids: tuple[int, ...] = (),
    ) -> None:
        """``other_chain_ids``: client chains besides the first (anvil's 31337), one anvil each."""
        self.home = home
        self.other_chain_ids = other_chain_ids
        self.other_anvils: list[AnvilNode] = []
        self.cumulative_every = cumulative_every
        self.validators = validators
        self.exocore_block_time_s = exocore_block_time_s
        self.l1_block_time_s = l1_block_time_s
        self.epoch_blocks = epoch_blocks
        self.chain_id = chain_id
        self.seed = seed
        self.anvil: AnvilNode | None = None
        self.devnet: ExocoreDevnet | None = None
        self.follower: FollowerThread | None = None
        self.other_followers: list[FollowerThread] = []
        self.manifest: dict[str, Any] = {}

    def start(self) -> Self:
        self.home.mkdir(parents=True, exist_ok=True)
        anvil = AnvilNode(AnvilConfig(block_time_s=self.l1_block_time_s)).start()
        self.anvil = anvil
        try:
            for other_id in self.other_chain_ids:
                config = AnvilConfig(chain_id=other_id, block_time_s=self.l1_block_time_s)
                self.other_anvils.append(AnvilNode(config).start())
            genesis, deployment, others = deploy_for_devnet(
                anvil,
                other_chains=tuple(self.other_anvils),
                chain_id=self.chain_id,
                seed=self.seed,
                validators=self.validators,
                epoch_blocks=self.epoch_blocks,
                cumulative_every=self.cumulative_every,
            )
            genesis, store = open_chain(self.home / "devnet.sqlite", genesis)
            devnet = ExocoreDevnet(genesis, store, block_time_s=self.exocore_block_time_s)
            devnet.start()
            self.devnet = devnet
        except BaseException:
            self.stop()
            raise
        block_time_ms = int((self.exocore_block_time_s or 0) * 1000)
        self.manifest = {"seed": self.seed, **endpoints(genesis, deployment, devnet, anvil, block_time_ms)}
        if others:
            self.manifest["client_chains"] = [
                client_chain_endpoints(other, node)
                for other, node in zip(others, self.other_anvils, strict=True)
            ]
        self.manifest["exocore"]["operator_keys_dir"] = str(self.home / OPERATOR_KEYS_DIR)
        # L1 custody events become Exocore stake (the devnet's stand-in for upstream's inbound path).
        self.follower = follow_devnet_vault(
            anvil.rpc_url,
            deployment["restaking_vault"],
            from_block=int(deployment["follow_from_block"]),
            submit=devnet.node.submit,
            reward_vault=deployment["reward_vault"],
        )
        for other, node in zip(others, self.other_anvils, strict=True):
            self.other_followers.append(
                follow_devnet_vault(
                    node.rpc_url,
                    other["restaking_vault"],
                    from_block=int(other["follow_from_block"]),
                    submit=devnet.node.submit,
                    lz_chain_id=int(other["chain_id"]),
                    # Every chain's fee deposits fund its own FEES sources.
                    reward_vault=other["reward_vault"],
                    l1_chain_id=int(other["chain_id"]),
                )
            )
        return self

    def stop(self) -> None:
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

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def client_chain(self, chain: int) -> tuple[dict[str, Any], AnvilNode]:
        """Client chain ``chain`` (0: ``l1``, then ``client_chains`` in order): its manifest entry and
        its anvil."""
        if self.anvil is None:
            raise RuntimeError("the stack is not started")
        entries = [self.manifest["l1"], *self.manifest.get("client_chains", [])]
        return entries[chain], [self.anvil, *self.other_anvils][chain]

    def fund_avs_eth(self, avs: str, amount_wei: int, *, account_index: int = 0, chain: int = 0) -> None:
        """Deposit ETH (held as WETH) into the RewardVault of client chain ``chain`` for ``avs``: what
        an AVS does before its VAULT-funded rewards can be paid there."""
        entry, anvil = self.client_chain(chain)
        w3 = Web3(Web3.HTTPProvider(anvil.rpc_url))
        account = Account.from_key(anvil.dev_accounts()[account_index].private_key)
        vault = contract_at(w3, ContractName.REWARD_VAULT, entry["contracts"]["reward_vault"])
        call = vault.functions.depositETH(Web3.to_checksum_address(avs))
        send_transaction(
            w3, account, call.build_transaction(TxParams({"from": account.address, "value": Wei(amount_wei)}))
        )

    def deposit_fees_eth(self, avs: str, amount_wei: int, *, account_index: int = 0, chain: int = 0) -> None:
        """Deposit ``amount_wei`` of transaction fees, collected as ETH and wrapped to WETH, into
        ``avs``'s FEES source in the RewardVault of client chain ``chain`` (``depositFees``): what an
        AVS whose rewards come from its fees does before a FEES-funded distribution can be paid."""
        entry, anvil = self.client_chain(chain)
        w3 = Web3(Web3.HTTPProvider(anvil.rpc_url))
        account = Account.from_key(anvil.dev_accounts()[account_index].private_key)
        contracts = entry["contracts"]
        weth = contract_at(w3, ContractName.WRAPPED_ETHER, contracts["weth"])
        vault = contract_at(w3, ContractName.REWARD_VAULT, contracts["reward_vault"])
        sender = TxParams({"from": account.address})
        for call, value in (
            (weth.functions.deposit(), amount_wei),
            (weth.functions.approve(vault.address, amount_wei), 0),
            (vault.functions.depositFees(Web3.to_checksum_address(avs), weth.address, amount_wei), 0),
        ):
            send_transaction(w3, account, call.build_transaction(TxParams({**sender, "value": Wei(value)})))

    @property
    def gateway(self) -> str:
        return str(self.manifest["l1"]["contracts"]["gateway"])

    def relayer_settings(self, database_url: str, *, signer_index: int = 1, chain: int = 0) -> dict[str, Any]:
        """Config sections (as for ``ExorelayConfig.model_validate``) for a relayer on this stack,
        serving client chain ``chain`` (0: ``l1``, then ``client_chains`` in order)."""
        exocore = self.manifest["exocore"]
        l1 = [self.manifest["l1"], *self.manifest.get("client_chains", [])][chain]
        return {
            "exocore": {
                "chain_id": exocore["chain_id"],
                "rpc_urls": [exocore["rpc_url"]],
                "grpc_endpoints": [exocore["grpc_target"]],
                "poll_interval_s": 0.2,
            },
            "l1": {
                "chain_id": l1["chain_id"],
                "rpc_urls": [l1["rpc_url"]],
                "gateway_address": l1["contracts"]["gateway"],
                "confirmations": 1,
                "fee_bump_after_s": 5.0,
                "poll_interval_s": 0.2,
                "start_block": l1["deploy_block"],
                "keystore_password": None,
            },
            "database": {"url": database_url},
            "relayer": {"sweep_interval_s": 2.0, "metrics_port": 0, "retry_base_s": 0.5, "retry_max_s": 5.0},
        }
