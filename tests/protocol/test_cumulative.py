"""Cumulative reward trees and the CUMULATIVE_ROOT payload: OZ StandardMerkleTree compatibility
(checked against @openzeppelin/merkle-tree under node), construction rules, the monotone rule
between periods and the payload's strict codec."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from relayer.protocol.cumulative import (
    CumulativeLeaf,
    CumulativeTree,
    check_monotone,
    cumulative_leaf_hash,
    verify_cumulative_proof,
)
from relayer.protocol.errors import EncodingError, InvalidLengthError, InvalidValueError, MerkleError
from relayer.protocol.kinds import PACKET_KIND_CODES, PacketKind
from relayer.protocol.packets import (
    CumulativeFunding,
    CumulativeRootPayload,
    FundingMode,
    Packet,
    decode_payload,
    encode_payload,
)
from relayer.protocol.types import Address, Amount, Hash32
from tests.support.node_tools import node_binary

REPO_ROOT = Path(__file__).resolve().parents[2]
OZ_SCRIPT = Path(__file__).with_name("cumulative_oz.mjs")
NODE_TIMEOUT_S = 120

TOKEN_A = Address(b"\xaa" * 20)
TOKEN_B = Address(b"\xbb" * 20)


def earner(i: int) -> Address:
    return Address(keccak(b"earner" + i.to_bytes(8, "big"))[12:])


def random_leaves(rng: random.Random, earners: int) -> list[CumulativeLeaf]:
    leaves = [CumulativeLeaf(earner(i), TOKEN_A, Amount(rng.randrange(1, 10**24))) for i in range(earners)]
    leaves += [
        CumulativeLeaf(earner(i), TOKEN_B, Amount(rng.randrange(0, 10**18))) for i in range(0, earners, 3)
    ]
    rng.shuffle(leaves)
    return leaves


def hx(value: bytes) -> str:
    return "0x" + value.hex()


def test_leaf_hash_is_the_double_keccak_of_the_abi_encoding() -> None:
    leaf = CumulativeLeaf(earner(1), TOKEN_A, Amount(12345))
    encoded = abi_encode(["address", "address", "uint256"], [earner(1), TOKEN_A, 12345])
    assert leaf.encoded == encoded
    assert leaf.hash == cumulative_leaf_hash(earner(1), TOKEN_A, 12345) == keccak(keccak(encoded))


@pytest.mark.parametrize("earners", [1, 2, 7, 64, 301])
def test_matches_openzeppelin_standard_merkle_tree(earners: int) -> None:
    rng = random.Random(earners)
    leaves = random_leaves(rng, earners)
    tree = CumulativeTree.build(leaves)
    subset = sorted(rng.sample(range(len(leaves)), min(len(leaves), 5)))
    completed = subprocess.run(
        [node_binary("@openzeppelin/merkle-tree", "the OpenZeppelin cross-check"), str(OZ_SCRIPT)],
        input=json.dumps(
            {
                "values": [[hx(x.earner), hx(x.token), str(x.cumulative)] for x in leaves],
                "subset": subset,
            }
        ),
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
        timeout=NODE_TIMEOUT_S,
    )
    assert completed.returncode == 0, completed.stderr
    oz: dict[str, Any] = json.loads(completed.stdout)
    assert oz["root"] == hx(tree.root)
    assert oz["tree"] == [hx(node) for node in tree.nodes]
    for leaf, proof in zip(leaves, oz["proofs"], strict=True):
        assert [hx(p) for p in tree.proof(leaf.earner, leaf.token)] == proof
        assert verify_cumulative_proof(tree.root, leaf, tree.proof(leaf.earner, leaf.token))
    multi = tree.multiproof(leaves[p].key for p in subset)
    assert [[hx(x.earner), hx(x.token), str(x.cumulative)] for x in multi.leaves] == oz["multiproof"][
        "leaves"
    ]
    assert [hx(p) for p in multi.proof] == oz["multiproof"]["proof"]
    assert list(multi.proof_flags) == oz["multiproof"]["proofFlags"]
    assert multi.verify(tree.root)


def test_proofs_walk_covers_every_leaf_with_its_proof() -> None:
    leaves = random_leaves(random.Random(5), 40)
    tree = CumulativeTree.build(leaves)
    walked = dict((leaf.key, proof) for leaf, proof in tree.proofs())
    assert set(walked) == {leaf.key for leaf in leaves}
    for leaf in leaves:
        assert walked[leaf.key] == tree.proof(leaf.earner, leaf.token)


def test_totals_are_per_token() -> None:
    leaves = [
        CumulativeLeaf(earner(1), TOKEN_A, Amount(5)),
        CumulativeLeaf(earner(2), TOKEN_A, Amount(7)),
        CumulativeLeaf(earner(1), TOKEN_B, Amount(11)),
    ]
    assert CumulativeTree.build(leaves).totals == {TOKEN_A: 12, TOKEN_B: 11}


def test_build_rules() -> None:
    with pytest.raises(MerkleError, match="at least one"):
        CumulativeTree.build([])
    with pytest.raises(MerkleError, match="two leaves"):
        CumulativeTree.build(
            [CumulativeLeaf(earner(1), TOKEN_A, Amount(1)), CumulativeLeaf(earner(1), TOKEN_A, Amount(2))]
        )
    with pytest.raises(MerkleError, match="uint256"):
        CumulativeTree.build(
            [
                CumulativeLeaf(earner(1), TOKEN_A, Amount(2**256 - 1)),
                CumulativeLeaf(earner(2), TOKEN_A, Amount(1)),
            ]
        )
    with pytest.raises(InvalidValueError, match="zero address"):
        CumulativeLeaf(Address(bytes(20)), TOKEN_A, Amount(1))
    with pytest.raises(InvalidValueError):
        CumulativeLeaf(earner(1), TOKEN_A, Amount(-1))
    tree = CumulativeTree.build([CumulativeLeaf(earner(1), TOKEN_A, Amount(1))])
    assert tree.root == cumulative_leaf_hash(earner(1), TOKEN_A, 1)
    with pytest.raises(MerkleError, match="no leaf"):
        tree.proof(earner(2), TOKEN_A)
    with pytest.raises(MerkleError, match="twice"):
        tree.multiproof([(earner(1), TOKEN_A), (earner(1), TOKEN_A)])


def test_a_newer_tree_never_takes_back_an_earned_amount() -> None:
    old = [CumulativeLeaf(earner(1), TOKEN_A, Amount(10)), CumulativeLeaf(earner(2), TOKEN_A, Amount(4))]
    grown = CumulativeTree.build(
        [
            CumulativeLeaf(earner(1), TOKEN_A, Amount(10)),
            CumulativeLeaf(earner(2), TOKEN_A, Amount(9)),
            CumulativeLeaf(earner(3), TOKEN_A, Amount(1)),
        ]
    )
    check_monotone(old, grown)
    shrunk = CumulativeTree.build(
        [CumulativeLeaf(earner(1), TOKEN_A, Amount(9)), CumulativeLeaf(earner(2), TOKEN_A, Amount(9))]
    )
    with pytest.raises(MerkleError, match="cumulative 9 < previous 10"):
        check_monotone(old, shrunk)
    dropped = CumulativeTree.build([CumulativeLeaf(earner(1), TOKEN_A, Amount(10))])
    with pytest.raises(MerkleError, match="dropped"):
        check_monotone(old, dropped)


# ----------------------------------------------------------------------------------------------
# CUMULATIVE_ROOT payload

AVS_1 = Address(b"\x01" * 20)
AVS_2 = Address(b"\x02" * 20)


def payload(**changes: Any) -> CumulativeRootPayload:
    fields: dict[str, Any] = {
        "period": 3,
        "root": Hash32(b"\x42" * 32),
        "leaf_count": 5,
        "entries": (
            CumulativeFunding(AVS_1, TOKEN_A, FundingMode.MINT, Amount(100)),
            CumulativeFunding(AVS_2, TOKEN_A, FundingMode.MINT, Amount(50)),
            CumulativeFunding(AVS_2, TOKEN_B, FundingMode.VAULT, Amount(7)),
        ),
    }
    fields.update(changes)
    return CumulativeRootPayload(**fields)


def test_payload_round_trips_strictly_and_is_kind_5() -> None:
    value = payload()
    data = encode_payload(value)
    assert value.kind is PacketKind.CUMULATIVE_ROOT
    assert int(value.kind) == 5
    assert data == abi_encode(
        ["uint64", "bytes32", "uint32", "address[]", "address[]", "uint8[]", "uint256[]"],
        [3, b"\x42" * 32, 5, [AVS_1, AVS_2, AVS_2], [TOKEN_A, TOKEN_A, TOKEN_B], [1, 1, 2], [100, 50, 7]],
    )
    assert decode_payload(5, data) == value
    with pytest.raises(EncodingError, match="trailing"):
        decode_payload(5, data + bytes(32))
    with pytest.raises(EncodingError):
        decode_payload(5, data[:-1])
    assert value.funded_per_token() == {TOKEN_A: 150, TOKEN_B: 7}
    packet = Packet(
        exocore_chain=Hash32(b"\x01" * 32),
        l1_chain_id=31337,
        gateway=Address(b"\x09" * 20),
        valset_nonce=1,
        nonce=9,
        payload=value,
    )
    assert (
        Packet.from_payload_bytes(
            exocore_chain=packet.exocore_chain,
            l1_chain_id=31337,
            gateway=packet.gateway,
            valset_nonce=1,
            nonce=9,
            kind=5,
            payload_bytes=packet.payload_bytes,
        ).digest
        == packet.digest
    )
    # Delivered by the relayer like every packet kind.
    assert 5 in PACKET_KIND_CODES


def test_payload_rules() -> None:
    with pytest.raises(InvalidValueError, match="start at 1"):
        payload(period=0)
    with pytest.raises(InvalidValueError, match="root"):
        payload(root=Hash32(bytes(32)))
    with pytest.raises(InvalidValueError, match="leaf"):
        payload(leaf_count=0)
    with pytest.raises(InvalidLengthError):
        payload(entries=())
    entry = CumulativeFunding(AVS_1, TOKEN_A, FundingMode.MINT, Amount(1))
    with pytest.raises(InvalidValueError, match="twice"):
        payload(entries=(entry, entry))
    with pytest.raises(InvalidValueError, match="two funding modes"):
        payload(entries=(entry, CumulativeFunding(AVS_2, TOKEN_A, FundingMode.VAULT, Amount(1))))
    with pytest.raises(InvalidValueError, match="zero address"):
        payload(entries=(CumulativeFunding(Address(bytes(20)), TOKEN_A, FundingMode.MINT, Amount(1)),))
    # FEES is a reward source of per-distribution payouts only: the vault's cumulative ledger
    # draws from deposits or mints, so a root naming it is refused before it is signed.
    with pytest.raises(InvalidValueError, match=r"1 \(MINT\) or 2 \(VAULT\), got 3"):
        payload(entries=(CumulativeFunding(AVS_1, TOKEN_A, FundingMode.FEES, Amount(1)),))
    bad_mode = abi_encode(
        ["uint64", "bytes32", "uint32", "address[]", "address[]", "uint8[]", "uint256[]"],
        [3, b"\x42" * 32, 5, [AVS_1], [TOKEN_A], [3], [1]],
    )
    with pytest.raises(InvalidValueError, match="funding"):
        decode_payload(5, bad_mode)
    ragged = abi_encode(
        ["uint64", "bytes32", "uint32", "address[]", "address[]", "uint8[]", "uint256[]"],
        [3, b"\x42" * 32, 5, [AVS_1, AVS_2], [TOKEN_A], [1], [1]],
    )
    with pytest.raises(InvalidLengthError, match="length"):
        decode_payload(5, ragged)
