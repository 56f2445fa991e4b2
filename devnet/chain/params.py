"""Genesis and fixed parameters of the simulated Exocore chain.

Every amount the state machine handles is an integer: token amounts in base units, USD values with
``USD_DECIMALS`` decimals ("USD e8"), rates and proportions with 18 decimals (``RATE_ONE``, like
Cosmos ``sdk.Dec``). Nothing is ever a float, so the same transactions give the same state on every
machine.

The devnet is deterministic given its seed: validator BLS keys and consensus keys are derived from
it (:func:`devnet_validators`), so a devnet restarted with the same seed and genesis replays to the
same state.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Final

from devnet.chain.cosmos_tx import account_address, bech32_account, secp256k1_public_key
from devnet.defaults import DEFAULT_EPOCH_BLOCKS, DEFAULT_VALIDATORS
from relayer.errors import ConfigError
from relayer.protocol import bls
from relayer.protocol.attestation import check_proofs_of_possession
from relayer.protocol.claims import PROPORTION_ONE
from relayer.protocol.errors import SignatureError
from relayer.protocol.ids import AssetId, ChainId
from relayer.protocol.packets import ClientChain
from relayer.protocol.types import Address, Hash32, as_address

USD_DECIMALS: Final = 8
"""Oracle prices and voting powers are USD with 8 decimals (Chainlink's USD feed precision)."""
USD_ONE: Final = 10**USD_DECIMALS

RATE_ONE: Final = PROPORTION_ONE
"""Commission rates, community tax and slash proportions: 18-decimal fixed point (1.0 = 10**18)."""

MAX_TOKEN_DECIMALS: Final = 36
"""Largest token ``decimals`` accepted; exact USD weights scale amounts by 10**(36 - decimals)."""

DEFAULT_CHAIN_ID: Final = "exocoredevnet_233-1"
DEFAULT_COMMUNITY_TAX: Final = 3 * 10**16
"""0.03: feedistribution ``community_tax`` of the Imuachain testnet genesis."""
DEFAULT_UNBONDING_EPOCHS: Final = 2
"""Epochs an undelegation stays slashable before it completes (dogfood ``epochs_until_unbonded``)."""
DEFAULT_VALIDATOR_POWER: Final = 100
"""Relay validator power at genesis; equal powers keep quorum arithmetic easy to follow."""

MAX_VALIDATORS: Final = 190
"""The gateway's MAX_VALIDATORS (EIP-170 bound of its valset data contract)."""
MAX_COMMITTEE_SIZE: Final = 1024
"""Upper bound of an AVS committee; bitmaps and aggregate verification stay cheap below it."""
MAX_VALIDATOR_POWER: Final = 2**62
"""CometBFT voting powers are int64 and their sum must stay below MaxTotalVotingPower (2**60·8)."""
MAX_CLAIM_AMOUNT: Final = 2**128 - 1
"""The gateway stores a distribution's total in 128 bits (``AmountTooLarge`` above)."""

GENESIS_VALSET_NONCE: Final = 1
FIRST_PACKET_NONCE: Final = 1

DEVNET_LZ_CHAIN_ID: Final = 31337
"""LayerZero-style client-chain id the devnet uses for its L1 (anvil's chain id: there is no real
LayerZero endpoint on a local chain, and a matching number is easy to recognise)."""

_SEED_DOMAIN: Final = b"exorelay-devnet/"


class GenesisError(ConfigError):
    """The genesis parameters are inconsistent."""


def seed_material(seed: str, label: str) -> bytes:
    """32 bytes derived from the devnet seed for one purpose (``label``)."""
    return hashlib.sha256(_SEED_DOMAIN + label.encode() + b"/" + seed.encode()).digest()


@dataclass(frozen=True, slots=True)
class GenesisValidator:
    """A relay/consensus validator. ``bls_secret`` is kept only for validators the devnet simulates;
    ``pop`` is the key's IETF proof of possession (``PopProve``, 96 bytes compressed G2), required: a
    genesis whose validator cannot prove its key is refused (a rogue key would let one holder sign
    for the whole set)."""

    consensus_pubkey: bytes
    bls_pubkey: bytes
    power: int
    bls_secret: bytes | None = None
    pop: bytes = b""

    def to_json(self) -> dict[str, Any]:
        return {
            "consensus_pubkey": self.consensus_pubkey.hex(),
            "bls_pubkey": self.bls_pubkey.hex(),
            "power": self.power,
            "bls_secret": None if self.bls_secret is None else self.bls_secret.hex(),
            "pop": self.pop.hex(),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> GenesisValidator:
        secret = raw.get("bls_secret")
        return cls(
            bytes.fromhex(raw["consensus_pubkey"]),
            bytes.fromhex(raw["bls_pubkey"]),
            int(raw["power"]),
            None if secret is None else bytes.fromhex(secret),
            bytes.fromhex(raw.get("pop", "")),
        )


@dataclass(frozen=True, slots=True)
class GenesisAsset:
    """A restakable client-chain token with its oracle price (USD e8 per whole token)."""

    asset_id: str
    decimals: int
    price_usd_e8: int

    def to_json(self) -> dict[str, Any]:
        return {"asset_id": self.asset_id, "decimals": self.decimals, "price_usd_e8": self.price_usd_e8}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> GenesisAsset:
        return cls(str(raw["asset_id"]), int(raw["decimals"]), int(raw["price_usd_e8"]))


@dataclass(frozen=True, slots=True)
class GenesisAccount:
    """A bank account funded at genesis: bech32 ``exo1…`` address and its ``hua`` balance."""

    address: str
    balance: int

    def to_json(self) -> dict[str, Any]:
        return {"address": self.address, "balance": str(self.balance)}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> GenesisAccount:
        return cls(str(raw["address"]), int(raw["balance"]))


DEFAULT_ACCOUNT_BALANCE_HUA: Final = 10**6 * 10**18
"""1,000,000 exo per funded devnet account: fees at the devnet's gas price never exhaust it."""
DEVNET_ACCOUNT_NAMES: Final = ("faucet", "avs-owner", "operator-1", "operator-2", "operator-3", "relayer")
"""Actors the default devnet genesis funds (keys derived from the seed, see :func:`devnet_account_secret`)."""


def devnet_account_secret(seed: str, name: str) -> bytes:
    """The 32-byte secp256k1 secret of devnet account ``name`` (valid: reduced into [1, n-1])."""
    order = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    value = int.from_bytes(seed_material(seed, f"account/{name}"), "big") % (order - 1) + 1
    return value.to_bytes(32, "big")


def devnet_accounts(
    seed: str, names: tuple[str, ...] = DEVNET_ACCOUNT_NAMES, balance: int = DEFAULT_ACCOUNT_BALANCE_HUA
) -> tuple[GenesisAccount, ...]:
    """Genesis allocations for ``names``' seed-derived keys."""
    return tuple(
        GenesisAccount(
            bech32_account(account_address(secp256k1_public_key(devnet_account_secret(seed, name)))), balance
        )
        for name in names
    )


def devnet_validators(
    seed: str, count: int = DEFAULT_VALIDATORS, power: int = DEFAULT_VALIDATOR_POWER
) -> tuple[GenesisValidator, ...]:
    """``count`` validators whose BLS and consensus keys are derived from ``seed``."""
    validators = []
    for index in range(count):
        secret = bls.secret_key_from_seed(seed_material(seed, f"validator-bls/{index}"))
        validators.append(
            GenesisValidator(
                consensus_pubkey=seed_material(seed, f"validator-consensus/{index}"),
                bls_pubkey=bls.public_key_of(secret).compressed,
                power=power,
                bls_secret=secret.secret,
                pop=bls.pop_prove(secret).compressed,
            )
        )
    return tuple(validators)


@dataclass(frozen=True)
class Genesis:
    """Everything the chain starts from; together with the committed transactions it fixes the state."""

    chain_id: str
    seed: str
    l1_chain_id: int
    gateway: Address
    validators: tuple[GenesisValidator, ...]
    genesis_time_ns: int
    epoch_blocks: int = DEFAULT_EPOCH_BLOCKS
    community_tax: int = DEFAULT_COMMUNITY_TAX
    unbonding_epochs: int = DEFAULT_UNBONDING_EPOCHS
    assets: tuple[GenesisAsset, ...] = field(default_factory=tuple)
    accounts: tuple[GenesisAccount, ...] = field(default_factory=tuple)
    cumulative_every: int = 0
    """Distributions per cumulative period: every that many REWARD_DISTRIBUTIONs the chain also
    signs a CUMULATIVE_ROOT of every earner's running total (0: off, per-distribution only)."""
    l1_custody: bool = False
    """Stake enters only through the L1 RestakingVault: a ``MsgDelegation`` without ``l1_request_id``
    is refused (it would be stake with no custody behind it). Off for a bare node with no vault to
    follow (unit tests and benchmarks that stake directly on Exocore)."""
    client_chains: tuple[ClientChain, ...] = ()
    """Client chains besides ``l1_chain_id`` / ``gateway`` (the first): each gets its own copy of
    every VALSET_UPDATE, so its gateway keeps the signing set; other packets go to the first."""

    def __post_init__(self) -> None:
        ChainId.parse(self.chain_id)
        if self.cumulative_every < 0:
            raise GenesisError("cumulative_every must be >= 0")
        object.__setattr__(self, "gateway", as_address(self.gateway))
        if not 1 <= len(self.validators) <= MAX_VALIDATORS:
            raise GenesisError(f"genesis needs 1..{MAX_VALIDATORS} validators, got {len(self.validators)}")
        if self.epoch_blocks < 1:
            raise GenesisError("epoch_blocks must be >= 1")
        if not 0 <= self.community_tax <= RATE_ONE:
            raise GenesisError("community_tax must be in [0, 1]")
        if self.unbonding_epochs < 0:
            raise GenesisError("unbonding_epochs must be >= 0")
        try:
            check_proofs_of_possession(
                [v.bls_pubkey for v in self.validators], [v.pop for v in self.validators]
            )
        except SignatureError as exc:
            raise GenesisError(f"genesis validator set refused: {exc}") from exc
        for asset in self.assets:
            AssetId.parse(asset.asset_id)
        for account in self.accounts:
            if account.balance < 0:
                raise GenesisError(f"genesis account {account.address} has a negative balance")
        if len({account.address for account in self.accounts}) != len(self.accounts):
            raise GenesisError("a genesis account is listed twice")
        chain_ids = [self.l1_chain_id, *(chain.l1_chain_id for chain in self.client_chains)]
        if len(set(chain_ids)) != len(chain_ids):
            raise GenesisError(f"a client chain is listed twice: {chain_ids}")

    @property
    def exocore_chain(self) -> Hash32:
        return ChainId.parse(self.chain_id).hash

    @property
    def chain_id_without_revision(self) -> str:
        return ChainId.parse(self.chain_id).without_revision

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "seed": self.seed,
            "l1_chain_id": self.l1_chain_id,
            "gateway": "0x" + self.gateway.hex(),
            "validators": [validator.to_json() for validator in self.validators],
            "genesis_time_ns": self.genesis_time_ns,
            "epoch_blocks": self.epoch_blocks,
            "community_tax": str(self.community_tax),
            "unbonding_epochs": self.unbonding_epochs,
            "assets": [asset.to_json() for asset in self.assets],
            "accounts": [account.to_json() for account in self.accounts],
            # Only when on: genesis files of chains without cumulative roots stay byte-identical.
            **({"cumulative_every": self.cumulative_every} if self.cumulative_every else {}),
            # Only when set: genesis files of chains without custody keep their bytes (and hash).
            **({"l1_custody": True} if self.l1_custody else {}),
            # Only when set: one-chain genesis files keep their bytes (and hash).
            **(
                {
                    "client_chains": [
                        {"l1_chain_id": c.l1_chain_id, "gateway": "0x" + bytes(c.gateway).hex()}
                        for c in self.client_chains
                    ]
                }
                if self.client_chains
                else {}
            ),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Genesis:
        return cls(
            chain_id=raw["chain_id"],
            seed=raw["seed"],
            l1_chain_id=int(raw["l1_chain_id"]),
            gateway=as_address(raw["gateway"]),
            validators=tuple(GenesisValidator.from_json(v) for v in raw["validators"]),
            genesis_time_ns=int(raw["genesis_time_ns"]),
            epoch_blocks=int(raw["epoch_blocks"]),
            community_tax=int(raw["community_tax"]),
            unbonding_epochs=int(raw["unbonding_epochs"]),
            assets=tuple(GenesisAsset.from_json(a) for a in raw["assets"]),
            # Absent in genesis files written before the devnet had bank accounts.
            accounts=tuple(GenesisAccount.from_json(a) for a in raw.get("accounts", [])),
            cumulative_every=int(raw.get("cumulative_every", 0)),
            client_chains=tuple(
                ClientChain(int(chain["l1_chain_id"]), as_address(chain["gateway"]))
                for chain in raw.get("client_chains", [])
            ),
            l1_custody=bool(raw.get("l1_custody", False)),
        )

    @classmethod
    def loads(cls, text: str) -> Genesis:
        return cls.from_json(json.loads(text))
