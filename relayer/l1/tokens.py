"""Read-only views of the reward tokens and the RewardVault: what a token is called, and whether the
contracts that pay it are allowed to.

A payout in a MINT-funded token is the gateway calling ``mint``: the token must grant the gateway
``MINTER_ROLE``. A payout in a VAULT-funded token is the RewardVault transferring from the AVS's
deposit: the vault must be credited for the AVS and hold the tokens it credited. Both facts are read
here from L1 (``eth_call`` at ``latest``); nothing in this module writes.

Selectors come from the committed artifacts (``RewardToken`` for the ERC-20 and AccessControl
views, ``RewardVault`` for deposits), as for the gateway.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Final

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils.crypto import keccak

from relayer.l1.artifacts import ContractName, load_artifact
from relayer.l1.client import L1Client
from relayer.l1.errors import MalformedResponseError
from relayer.l1.gateway import AbiFunction
from relayer.protocol.types import address_hex, as_address
from relayer.protocol.units import MAX_DECIMALS, TokenUnit

MINTER_ROLE: Final = keccak(b"MINTER_ROLE")
"""``RewardToken.MINTER_ROLE``: the role ``mint`` requires (OpenZeppelin AccessControl)."""

ABI_WORD_BYTES: Final = 32

MAX_SYMBOL_CHARS: Final = 32
"""A symbol longer than this is not one a person reads; it is cut (some tokens return junk)."""


@cache
def _functions(name: ContractName) -> Mapping[str, AbiFunction]:
    return {str(e["name"]): AbiFunction.of(e) for e in load_artifact(name).entries("function")}


def _token(name: str) -> AbiFunction:
    return _functions(ContractName.REWARD_TOKEN)[name]


def _vault(name: str) -> AbiFunction:
    return _functions(ContractName.REWARD_VAULT)[name]


def _decode_symbol(data: bytes) -> str:
    """ERC-20 ``symbol()`` as ``string``, or as ``bytes32`` (older tokens, e.g. MKR)."""
    try:
        (text,) = abi_decode(("string",), data)
        symbol = str(text)
    except (DecodingError, OverflowError, UnicodeDecodeError):
        if len(data) != ABI_WORD_BYTES:
            raise MalformedResponseError(f"symbol(): cannot decode 0x{data.hex()}") from None
        symbol = data.rstrip(b"\0").decode("utf-8", errors="replace")
    symbol = "".join(ch for ch in symbol if ch.isprintable()).strip()
    return symbol[:MAX_SYMBOL_CHARS]


EthCall = Callable[[str, bytes], bytes]
"""``eth_call(to, data)`` at ``latest``: return data, raising on a revert or a transport error."""


def client_call(client: L1Client) -> EthCall:
    return lambda to, data: client.eth_call(to=to, data=data)


@dataclass(frozen=True, slots=True)
class TokenReader:
    """One ERC-20 on L1, read through ``call`` (an :class:`L1Client`'s, or an ingestion source's)."""

    call: EthCall
    address: str

    def _call(self, function: AbiFunction, *args: object) -> bytes:
        return self.call(address_hex(as_address(self.address)), function.encode(*args))

    def unit(self) -> TokenUnit:
        """``symbol()`` and ``decimals()`` (a token without them is a malformed response)."""
        symbol = _decode_symbol(self._call(_token("symbol")))
        (decimals,) = _token("decimals").decode_output(self._call(_token("decimals")))
        if not 0 <= int(decimals) <= MAX_DECIMALS:
            raise MalformedResponseError(f"decimals() of {self.address} is {decimals}")
        return TokenUnit(symbol=symbol or self.address, decimals=int(decimals))

    def balance_of(self, owner: str) -> int:
        function = _token("balanceOf")
        return int(function.decode_output(self._call(function, bytes(as_address(owner))))[0])

    def has_role(self, role: bytes, account: str) -> bool:
        function = _token("hasRole")
        return bool(function.decode_output(self._call(function, role, bytes(as_address(account))))[0])


def vault_deposit(call: EthCall, vault: str, avs: str, token: str, view: str = "balanceOf") -> int:
    """What the RewardVault at ``vault`` credits ``avs`` in ``token``: its reward deposits
    (``balanceOf(avs, token)``, the VAULT source) or, with ``view="feeBalanceOf"``, its transaction
    fees (the FEES source)."""
    function = _vault(view)
    data = call(
        address_hex(as_address(vault)), function.encode(bytes(as_address(avs)), bytes(as_address(token)))
    )
    return int(function.decode_output(data)[0])
