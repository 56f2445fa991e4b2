"""Exocore identifiers and BIP-173 bech32 (official test vectors plus upstream address examples)."""

from __future__ import annotations

import bech32 as reference_bech32  # sipa's reference implementation, shipped as a cosmpy dependency
import pytest
from eth_utils.crypto import keccak
from hypothesis import given
from hypothesis import strategies as st

from relayer.protocol.bech32 import (
    bech32_decode,
    bech32_encode,
    convert_bits,
    decode_bytes,
    encode_bytes,
)
from relayer.protocol.errors import IdentifierError
from relayer.protocol.ids import (
    AssetId,
    ChainId,
    OperatorAddress,
    StakerId,
    asset_id,
    exocore_chain_hash,
    staker_id,
)
from relayer.protocol.types import Address

# ----------------------------------------------------------------------------------------------
# BIP-173 test vectors (bitcoin/bips bip-0173.mediawiki "Test vectors")

BIP173_VALID = [
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "11" + "q" * 82 + "c8247j",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
]

BIP173_INVALID = [
    "\x20" + "1nwldj5",  # HRP character out of range
    "\x7f" + "1axkwrx",  # HRP character out of range
    "\x80" + "1eym55h",  # HRP character out of range
    "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",  # too long
    "pzry9x0s0muk",  # no separator character
    "1pzry9x0s0muk",  # empty HRP
    "x1b4n0q5v",  # invalid data character
    "li1dgmt3",  # too short checksum
    "de1lg7wt" + "\xff",  # invalid character in checksum
    "A1G7SGD8",  # checksum calculated with uppercase form of HRP
    "10a06t8",  # empty HRP
    "1qzzfhee",  # empty HRP
]

# A BIP-350 (bech32m) vector: valid bech32m, so it must FAIL as BIP-173 bech32.
BECH32M_ONLY = "A1LQFN3A"


@pytest.mark.parametrize("text", BIP173_VALID)
def test_bip173_valid(text: str) -> None:
    decoded = bech32_decode(text)
    assert bech32_encode(decoded.hrp, decoded.data) == text.lower()


@pytest.mark.parametrize("text", BIP173_INVALID)
def test_bip173_invalid(text: str) -> None:
    with pytest.raises(IdentifierError):
        bech32_decode(text)


def test_not_bech32m() -> None:
    with pytest.raises(IdentifierError, match="checksum"):
        bech32_decode(BECH32M_ONLY)


def test_bip173_abcdef_payload() -> None:
    decoded = bech32_decode("abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw")
    assert decoded.hrp == "abcdef"
    assert decoded.data == tuple(range(32))


def test_mixed_case_rejected() -> None:
    with pytest.raises(IdentifierError, match="mixes"):
        bech32_decode("a12UEL5L")
    with pytest.raises(IdentifierError, match="mixes"):
        bech32_encode("Ab", [])


def test_convert_bits_strict_padding() -> None:
    assert convert_bits(b"\xff", 8, 5, pad=True) == (31, 28)
    with pytest.raises(IdentifierError, match="padding"):
        convert_bits([31, 29], 5, 8, pad=False)  # non-zero padding bits
    with pytest.raises(IdentifierError, match="padding"):
        convert_bits([31, 28, 0], 5, 8, pad=False)  # a whole extra 5-bit group of padding
    with pytest.raises(IdentifierError):
        convert_bits([32], 5, 8, pad=False)


@given(hrp=st.sampled_from(["exo", "im", "cosmos", "a"]), payload=st.binary(max_size=40))
def test_matches_reference_implementation(hrp: str, payload: bytes) -> None:
    ours = encode_bytes(hrp, payload)
    words = reference_bech32.convertbits(payload, 8, 5)
    assert words is not None
    theirs = reference_bech32.bech32_encode(hrp, words)
    assert ours == theirs
    assert decode_bytes(ours) == (hrp, payload)
    assert decode_bytes(ours.upper()) == (hrp, payload)


# ----------------------------------------------------------------------------------------------
# Operator addresses: upstream's dev account 0x3e108c05…ddEdf (local_node.sh, imuad debug addr)

DEV_ADDRESS = Address(bytes.fromhex("3e108c058e8066da635321dc3018294ca82ddedf"))
DEV_EXO = "exo18cggcpvwspnd5c6ny8wrqxpffj5zmhklprtnph"
DEV_IM = "im18cggcpvwspnd5c6ny8wrqxpffj5zmhkl3agtrj"


def test_operator_address_known_answers() -> None:
    exo = OperatorAddress.parse(DEV_EXO)
    assert exo.prefix == "exo" and exo.address == DEV_ADDRESS
    assert str(exo) == DEV_EXO
    assert str(exo.with_prefix("im")) == DEV_IM
    assert OperatorAddress.parse(DEV_IM).address == DEV_ADDRESS
    assert str(OperatorAddress("im", DEV_ADDRESS)) == DEV_IM
    assert OperatorAddress.parse(DEV_EXO.upper()) == exo


def test_operator_address_rejections() -> None:
    with pytest.raises(IdentifierError, match="checksum"):
        OperatorAddress.parse(DEV_EXO[:-1] + ("q" if DEV_EXO[-1] != "q" else "p"))
    with pytest.raises(IdentifierError, match="mixes"):
        OperatorAddress.parse("Exo18cggcpvwspnd5c6ny8wrqxpffj5zmhklprtnph")
    with pytest.raises(IdentifierError, match="prefix"):
        OperatorAddress.parse(encode_bytes("cosmos", DEV_ADDRESS))
    with pytest.raises(IdentifierError, match="prefix"):
        OperatorAddress.parse(encode_bytes("imvaloper", DEV_ADDRESS))
    with pytest.raises(IdentifierError, match="prefix"):
        OperatorAddress.parse(DEV_EXO, allowed_prefixes={"im"})
    with pytest.raises(IdentifierError, match="32 bytes"):
        OperatorAddress.parse(encode_bytes("exo", bytes(32)))
    with pytest.raises(IdentifierError):
        OperatorAddress("exo", Address(bytes(19)))
    with pytest.raises(IdentifierError):
        OperatorAddress("cosmos", DEV_ADDRESS)
    with pytest.raises(IdentifierError):
        OperatorAddress.parse("")


# ----------------------------------------------------------------------------------------------
# stakerID / assetID (x/assets/types/general.go; examples from the testnet genesis)


def test_pair_id_known_answers() -> None:
    eth = AssetId.parse("0x" + "ee" * 20 + "_0x9d19")
    assert eth.token == b"\xee" * 20 and eth.lz_chain_id == 40217
    assert str(eth) == "0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee_0x9d19"
    assert asset_id(Address(bytes(20)), 0) == "0x0000000000000000000000000000000000000000_0x0"
    sepolia_staker = StakerId(DEV_ADDRESS, 40161)
    assert str(sepolia_staker) == "0x3e108c058e8066da635321dc3018294ca82ddedf_0x9ce1"
    assert staker_id(DEV_ADDRESS, 40161) == str(sepolia_staker)
    assert StakerId.parse(str(sepolia_staker)) == sepolia_staker
    assert StakerId.parse("0x" + "ab" * 20 + "_0xffffffffffffffff").lz_chain_id == 2**64 - 1


@pytest.mark.parametrize(
    "text",
    [
        "0x" + "EE" * 20 + "_0x9d19",  # upper-case address hex is not canonical
        "0x" + "ee" * 20 + "_0x9D19",  # upper-case chain hex
        "0x" + "ee" * 20 + "_0x09d19",  # leading zero
        "0x" + "ee" * 20 + "_0x00",
        "0x" + "ee" * 20 + "_9d19",  # missing 0x
        "ee" * 20 + "_0x9d19",
        "0x" + "ee" * 19 + "_0x9d19",  # 19-byte address
        "0x" + "ee" * 20 + "_0x",
        "0x" + "ee" * 20 + "0x9d19",
        "0x" + "ee" * 20 + "_0x9d19 ",
        "0x" + "ee" * 20 + "_0x10000000000000000",  # > uint64
        "",
    ],
)
def test_pair_id_rejections(text: str) -> None:
    with pytest.raises(IdentifierError):
        StakerId.parse(text)
    with pytest.raises(IdentifierError):
        AssetId.parse(text)


def test_pair_id_construction_rejections() -> None:
    with pytest.raises(IdentifierError):
        StakerId(DEV_ADDRESS, -1)
    with pytest.raises(IdentifierError):
        AssetId(Address(bytes(21)), 1)


# ----------------------------------------------------------------------------------------------
# Chain ids


def test_chain_id_parse() -> None:
    chain = ChainId.parse("exocoredevnet_233-1")
    assert (chain.name, chain.evm_chain_id, chain.revision) == ("exocoredevnet", 233, 1)
    assert chain.without_revision == "exocoredevnet_233"
    assert str(chain) == "exocoredevnet_233-1"
    assert chain.hash == keccak(b"exocoredevnet_233")
    assert chain.hash.hex() == "20b53dd7035b5eebaf5e8f2a04d8ce9609821ff69ceb681455fde90ce9a3dc6f"
    bare = ChainId.parse("imuachain_234")
    assert bare.revision is None and str(bare) == "imuachain_234" and bare.without_revision == "imuachain_234"
    assert ChainId.parse("imuachaintestnet_233-8").hash == ChainId.parse("imuachaintestnet_233").hash
    assert exocore_chain_hash("exocoretestnet_233-7") == keccak(b"exocoretestnet_233")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "exocore",
        "exocore_",
        "exocore_233-",
        "exocore_233-0",  # revisions start at 1 (Ethermint)
        "exocore_0233-1",
        "exocore_0-1",
        "Exocore_233-1",
        "exo-core_233-1",
        "exocore_233_1",
        "exocore_233-1-2",
        "_233-1",
        "exocore_233-1 ",
        "a" * 44 + "_233-1",  # longer than 48 characters
        "exocore_\uff12\uff13\uff13-1",  # full-width (non-ASCII) digits
    ],
)
def test_chain_id_rejections(text: str) -> None:
    with pytest.raises(IdentifierError):
        ChainId.parse(text)


def test_chain_id_construction() -> None:
    assert str(ChainId("exocoredevnet", 233, 1)) == "exocoredevnet_233-1"
    with pytest.raises(IdentifierError):
        ChainId("exocoredevnet", 0, 1)
    with pytest.raises(IdentifierError):
        ChainId("exocoredevnet", 233, 0)
    with pytest.raises(IdentifierError):
        ChainId("Exocore", 233)
