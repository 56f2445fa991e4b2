"""Stake through the L1 RestakingVault on an anvil devnet, as the scenario's stakers would.

Each stake is a real ``RestakingVault.delegate`` sent from the staker's own address: anvil
impersonates the address (the scenario's stakers are derived addresses without keys), gives it ETH
for gas, and the staker wraps WETH from that ETH or receives reward tokens minted by the token's
admin (under a minter role the admin grants itself for the batch and renounces right after, so the
gateway stays the only standing minter). The devnet's follower (:mod:`devnet.l1_follower`) turns the
vault's ``Delegated`` events into Exocore stake once their block has a block on top; :meth:`delegate`
mines that block.

Invariants: principal enters custody only through ``delegate`` (nothing is deposited for anyone
else); every transaction must succeed (a reverted one raises :class:`L1StakeError`); a staker's
transactions are mined in nonce order (mints first, in their own blocks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from eth_typing import ChecksumAddress, Hash32
from web3 import Web3
from web3.types import TxParams, Wei

from relayer.errors import TxError
from relayer.l1.artifacts import ContractName, load_artifact
from relayer.protocol.types import Address

GAS_ALLOWANCE_WEI: Final = 10**18
"""ETH given to a staker for its approve/delegate gas on top of what it wraps: 1 ETH covers thousands
of transactions at anvil's default base fee."""
STAKE_TX_GAS: Final = 200_000
"""Gas limit of each staking transaction: above a first deposit, approve or vault delegation
(~100k with cold storage), so no estimate is needed."""
RECEIPT_TIMEOUT_S: Final = 60.0
"""How long to wait for one transaction's receipt (anvil automines: immediate)."""


class L1StakeError(TxError):
    """A staking transaction on the devnet's L1 reverted."""


@dataclass(frozen=True, slots=True)
class L1Stake:
    """One delegation: ``staker`` deposits ``amount`` of ``token`` and delegates it to ``operator``."""

    staker: Address
    operator: Address
    token: Address
    amount: int


def _checksum(address: Address | str) -> ChecksumAddress:
    text = address if isinstance(address, str) else "0x" + address.hex()
    return Web3.to_checksum_address(text)


class L1Staker:
    """Sends stakes to the vault of one devnet deployment (WETH and the mintable reward token)."""

    def __init__(self, rpc_url: str, *, vault: str, weth: str, reward_token: str, token_admin: str) -> None:
        self.w3 = Web3(Web3.HTTPProvider(rpc_url))
        self.vault = self._contract(ContractName.RESTAKING_VAULT, vault)
        self.weth = self._contract(ContractName.WRAPPED_ETHER, weth)
        self.reward_token = self._contract(ContractName.REWARD_TOKEN, reward_token)
        self.token_admin = _checksum(token_admin)

    @classmethod
    def for_manifest(cls, l1: dict[str, Any]) -> L1Staker:
        """The staker of the deployment a devnet manifest's ``l1`` section describes."""
        contracts = l1["contracts"]
        return cls(
            l1["rpc_url"],
            vault=contracts["restaking_vault"],
            weth=contracts["weth"],
            reward_token=contracts["reward_token"],
            token_admin=l1["owner"],
        )

    def _contract(self, name: ContractName, address: str) -> Any:
        return self.w3.eth.contract(address=_checksum(address), abi=load_artifact(name).abi)

    def _send(self, call: Any, sender: ChecksumAddress, value: int = 0) -> bytes:
        """Send without waiting (explicit gas: an estimate would run before the sender's earlier
        transactions are mined)."""
        params: TxParams = {"from": sender, "gas": STAKE_TX_GAS}
        if value:
            params["value"] = Wei(value)
        return bytes(call.transact(params))

    def _wait(self, tx_hashes: Sequence[bytes]) -> None:
        for tx_hash in tx_hashes:
            receipt = self.w3.eth.wait_for_transaction_receipt(Hash32(tx_hash), timeout=RECEIPT_TIMEOUT_S)
            if receipt["status"] != 1:
                raise L1StakeError(f"L1 staking transaction 0x{tx_hash.hex()} reverted")

    def _impersonated(self, address: ChecksumAddress, eth_wei: int) -> None:
        self.w3.provider.make_request("anvil_impersonateAccount", [address])  # type: ignore[arg-type]
        balance = self.w3.eth.get_balance(address)
        self.w3.provider.make_request("anvil_setBalance", [address, hex(balance + eth_wei)])  # type: ignore[arg-type]

    def _release(self, address: ChecksumAddress) -> None:
        self.w3.provider.make_request("anvil_stopImpersonatingAccount", [address])  # type: ignore[arg-type]

    def delegate(self, stakes: Sequence[L1Stake]) -> int:
        """Send every stake in order, then mine the block that confirms the last one; returns the
        vault's last request id (what Exocore has applied once the follower caught up)."""
        weth = _checksum(self.weth.address)
        reward = _checksum(self.reward_token.address)
        minted = [s for s in stakes if _checksum(s.token) == reward]
        if minted:
            self._mint(minted)
        sent: list[bytes] = []
        for stake in stakes:
            staker, token = _checksum(stake.staker), _checksum(stake.token)
            if token not in (weth, reward):
                raise L1StakeError(f"the devnet stakes WETH or the reward token, not {token}")
            wrapped = stake.amount if token == weth else 0
            self._impersonated(staker, GAS_ALLOWANCE_WEI + wrapped)
            try:
                erc20 = self.weth if token == weth else self.reward_token
                if wrapped:
                    sent.append(self._send(self.weth.functions.deposit(), staker, wrapped))
                sent.append(self._send(erc20.functions.approve(self.vault.address, stake.amount), staker))
                call = self.vault.functions.delegate(_checksum(stake.operator), token, stake.amount)
                sent.append(self._send(call, staker))
            finally:
                self._release(staker)
        self._wait(sent)
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        return int(self.vault.functions.nextRequestId().call()) - 1

    def _mint(self, stakes: Sequence[L1Stake]) -> None:
        admin = self.token_admin
        minter = self.reward_token.functions.MINTER_ROLE().call()
        self._impersonated(admin, 0)
        try:
            sent = [self._send(self.reward_token.functions.grantRole(minter, admin), admin)]
            for stake in stakes:
                sent.append(
                    self._send(self.reward_token.functions.mint(_checksum(stake.staker), stake.amount), admin)
                )
            sent.append(self._send(self.reward_token.functions.renounceRole(minter, admin), admin))
        finally:
            self._release(admin)
        self._wait(sent)

    def total_principal(self, token: Address | str) -> int:
        """The vault's custody of ``token`` (``totalPrincipal``)."""
        return int(self.vault.functions.totalPrincipal(_checksum(token)).call())
