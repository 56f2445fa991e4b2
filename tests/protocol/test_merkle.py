"""Distribution Merkle trees vs @openzeppelin/merkle-tree (node) and an independent Python model."""

from __future__ import annotations

import json
import random
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from relayer.protocol import merkle
from relayer.protocol.errors import InvalidLengthError, InvalidValueError, MerkleError
from relayer.protocol.merkle import (
    DistributionLeaf,
    DistributionTree,
    MultiProof,
    leaf_hash,
    node_hash,
    process_multiproof,
    process_proof,
    verify_multiproof,
    verify_proof,
)
from relayer.protocol.types import UINT256_MAX, Address, Amount, Hash32
from tests.support.node_tools import node_binary

REPO_ROOT = Path(__file__).resolve().parents[2]
OZ_SCRIPT = Path(__file__).with_name("merkle_oz.mjs")
NODE_TIMEOUT_S = 120  # one node process checks every case; the 1025-leaf tree dominates


# ----------------------------------------------------------------------------------------------
# Independent model: eth_abi + eth_utils keccak (pycryptodome), recursive heap layout, written from
# the OZ description rather than from relayer.protocol.merkle.


def model_leaf_hash(index: int, staker: bytes, amount: int) -> bytes:
    return keccak(keccak(abi_encode(["uint256", "address", "uint256"], [index, staker, amount])))


def model_pair(a: bytes, b: bytes) -> bytes:
    low, high = sorted((a, b))
    return keccak(low + high)


def model_tree(leaves: Sequence[DistributionLeaf]) -> list[bytes]:
    """OZ makeMerkleTree, recursively: tree[i] = pair(tree[2i+1], tree[2i+2]), sorted leaves reversed."""
    hashes = sorted(model_leaf_hash(leaf.index, leaf.staker, leaf.amount) for leaf in leaves)
    size = 2 * len(hashes) - 1
    tree: dict[int, bytes] = {size - 1 - rank: h for rank, h in enumerate(hashes)}

    def node(i: int) -> bytes:
        if i not in tree:
            tree[i] = model_pair(node(2 * i + 1), node(2 * i + 2))
        return tree[i]

    node(0)
    return [tree[i] for i in range(size)]


def model_proof(tree: list[bytes], leaf: bytes) -> list[bytes]:
    i = tree.index(leaf, len(tree) // 2)
    path = []
    while i > 0:
        path.append(tree[i + 1] if i % 2 == 1 else tree[i - 1])
        i = (i - 1) // 2
    return path


def model_fold(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    acc = leaf
    for sibling in proof:
        acc = model_pair(acc, sibling)
    return acc


def random_leaves(rng: random.Random, count: int) -> list[DistributionLeaf]:
    indices = list(range(count))
    rng.shuffle(indices)
    stakers: set[bytes] = set()
    while len(stakers) < count:
        stakers.add(rng.randbytes(20))
    amount_cap = UINT256_MAX // max(count, 1)
    leaves = []
    for index, staker in zip(indices, sorted(stakers), strict=True):
        amount = rng.choice([0, 1, rng.randrange(10**18), rng.randrange(amount_cap + 1), amount_cap])
        leaves.append(DistributionLeaf(index, Address(staker), Amount(amount)))
    return leaves


def leaf_json(leaf: DistributionLeaf) -> list[str]:
    return [str(leaf.index), "0x" + leaf.staker.hex(), str(leaf.amount)]


def hx(value: bytes) -> str:
    return "0x" + value.hex()


# ----------------------------------------------------------------------------------------------
# Known answers (computed once with @openzeppelin/merkle-tree 1.0.8, written out literally)

THREE = [DistributionLeaf(i, Address(bytes([0x11 * (i + 1)]) * 20), Amount(100 * (i + 1))) for i in range(3)]
THREE_ROOT = "0x03178350ae01b2ca35f700a9bc22f40f1e1ef38830331ca046d113d4fa32b22d"
THREE_TREE = [
    THREE_ROOT,
    "0x53b2f289d7a21138d2ccd81dc1b35fc2812cf7888b64d39c5cf329ad4ef826ad",
    "0xb92d70b41ca69f2175f9b8882e7f3e96fd837db59ec09fa5de6876b4ec54b59b",
    "0x736b7406fc8f256286ca58856c91d4d030c428cc7464d87a13695f11a6269ffd",
    "0x5ae00b3d88c9247496b9e0d0be3893925dc37ced4cca1f813c8f4f54abcfc382",
]


def test_known_answer_three_leaves() -> None:
    tree = DistributionTree.build(THREE)
    assert hx(tree.root) == THREE_ROOT
    assert [hx(n) for n in tree.nodes] == THREE_TREE
    assert [hx(p) for p in tree.proof(0)] == [THREE_TREE[1]]
    assert [hx(p) for p in tree.proof(1)] == [THREE_TREE[4], THREE_TREE[2]]
    assert [hx(p) for p in tree.proof(THREE[2])] == [THREE_TREE[3], THREE_TREE[2]]
    multi = tree.multiproof([0, 2])
    assert multi.leaves == (THREE[2], THREE[0])  # OZ order: descending tree position
    assert [hx(p) for p in multi.proof] == [THREE_TREE[3]]
    assert multi.proof_flags == (False, True)
    assert multi.verify(tree.root)
    assert tree.total == 600 and len(tree) == 3


def test_leaf_hash_matches_abi_encoding() -> None:
    leaf = DistributionLeaf(7, Address(b"\xab" * 20), Amount(UINT256_MAX))
    expected = model_leaf_hash(7, b"\xab" * 20, UINT256_MAX)
    assert leaf.hash == leaf_hash(7, leaf.staker, UINT256_MAX) == expected
    assert leaf.encoded == abi_encode(["uint256", "address", "uint256"], [7, leaf.staker, UINT256_MAX])


def test_single_leaf_tree_root_is_leaf_hash() -> None:
    leaf = DistributionLeaf(0, Address(b"\x01" * 20), Amount(5))
    tree = DistributionTree.build([leaf])
    assert tree.root == leaf.hash
    assert tree.proof(0) == ()
    assert verify_proof(tree.root, leaf, ())
    multi = tree.multiproof([0])
    assert multi == MultiProof(leaves=(leaf,), proof=(), proof_flags=())
    assert multi.verify(tree.root)


def test_node_hash_is_commutative_sorted_pair() -> None:
    a, b = Hash32(b"\x01" * 32), Hash32(b"\x02" * 32)
    assert node_hash(a, b) == node_hash(b, a) == keccak(a + b)


# ----------------------------------------------------------------------------------------------
# Independent Python model, any environment


@pytest.mark.parametrize("count", [*range(1, 34), 64, 65, 127, 200, 257])
def test_matches_independent_model(count: int) -> None:
    rng = random.Random(count)
    leaves = random_leaves(rng, count)
    tree = DistributionTree.build(leaves)
    reference = model_tree(leaves)
    assert list(tree.nodes) == reference
    assert tree.total == sum(leaf.amount for leaf in leaves)
    for leaf, proof in tree.proofs():
        assert list(proof) == model_proof(reference, model_leaf_hash(leaf.index, leaf.staker, leaf.amount))
        assert model_fold(leaf.hash, proof) == tree.root
        assert tree.proof(leaf.index) == proof
    for _ in range(5):
        subset = rng.sample(range(count), rng.randint(1, count))
        multi = tree.multiproof(subset)
        assert sorted(leaf.index for leaf in multi.leaves) == sorted(subset)
        assert verify_multiproof(tree.root, multi.leaves, multi.proof, multi.proof_flags)


def test_proofs_cover_every_leaf_once() -> None:
    leaves = random_leaves(random.Random(5), 50)
    tree = DistributionTree.build(leaves)
    proven = dict(tree.proofs())
    assert sorted(leaf.index for leaf in proven) == list(range(50))
    assert all(tree.proof(leaf) == proof for leaf, proof in proven.items())
    assert tree.leaves == tuple(leaves)
    assert tree.leaf(17).index == 17


# ----------------------------------------------------------------------------------------------
# Cross-check against @openzeppelin/merkle-tree under node


def run_oz(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    completed = subprocess.run(
        [node_binary("@openzeppelin/merkle-tree", "the OpenZeppelin cross-check"), str(OZ_SCRIPT)],
        input=json.dumps({"cases": cases}),
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
        timeout=NODE_TIMEOUT_S,
    )
    assert completed.returncode == 0, completed.stderr
    result: list[dict[str, Any]] = json.loads(completed.stdout)["cases"]
    return result


def oz_case_sizes() -> list[int]:
    rng = random.Random(2024)
    # OZ's JS ABI encoder and its per-leaf proof checks make node the bottleneck (a 5000-leaf tree
    # alone took ~45 s on a busy two-core machine); every small shape, odd sizes up to 300 and one
    # large tree of 1025 leaves (one past a power of two: 11 levels, a lone node carried up to the
    # root) cover every shape the 5000-leaf tree did.
    return [*range(1, 33), *sorted(rng.sample(range(33, 300), 12)), 300, 1025]


def test_matches_openzeppelin_merkle_tree() -> None:
    rng = random.Random(1729)
    cases: list[dict[str, Any]] = []
    built: list[tuple[list[DistributionLeaf], DistributionTree, list[list[int]]]] = []
    for count in oz_case_sizes():
        leaves = random_leaves(rng, count)
        tree = DistributionTree.build(leaves)
        subset_total = 1 if count > 1000 else 6
        subsets = [[], list(range(count)), [rng.randrange(count)]]
        subsets += [rng.sample(range(count), rng.randint(1, count)) for _ in range(subset_total)]
        ours_multi = [tree.multiproof([leaves[p] for p in subset]) for subset in subsets]
        cases.append(
            {
                "values": [leaf_json(leaf) for leaf in leaves],
                "subsets": subsets,
                "ours": {
                    "root": hx(tree.root),
                    "proofs": [[hx(p) for p in tree.proof(leaf)] for leaf in leaves],
                    "multiproofs": [
                        {
                            "leaves": [leaf_json(leaf) for leaf in m.leaves],
                            "proof": [hx(p) for p in m.proof],
                            "proofFlags": list(m.proof_flags),
                        }
                        for m in ours_multi
                    ],
                },
            }
        )
        built.append((leaves, tree, subsets))

    results = run_oz(cases)
    assert len(results) == len(built)
    for (leaves, tree, subsets), oz in zip(built, results, strict=True):
        label = f"{len(leaves)} leaves"
        assert oz["root"] == hx(tree.root), label
        assert oz["tree"] == [hx(n) for n in tree.nodes], label
        assert all(oz["oursProofsVerify"]), label
        assert all(oz["oursMultiproofsVerify"]), label
        for leaf, oz_proof in zip(leaves, oz["proofs"], strict=True):
            assert [hx(p) for p in tree.proof(leaf)] == oz_proof, label
            ours_accepts = verify_proof(tree.root, leaf, [Hash32(bytes.fromhex(p[2:])) for p in oz_proof])
            assert ours_accepts, label
        for subset, oz_multi in zip(subsets, oz["multiproofs"], strict=True):
            ours = tree.multiproof([leaves[p] for p in subset])
            assert [leaf_json(leaf) for leaf in ours.leaves] == oz_multi["leaves"], label
            assert [hx(p) for p in ours.proof] == oz_multi["proof"], label
            assert list(ours.proof_flags) == oz_multi["proofFlags"], label
            oz_leaves = [
                DistributionLeaf(int(i), Address(bytes.fromhex(s[2:])), Amount(int(a)))
                for i, s, a in oz_multi["leaves"]
            ]
            oz_proof = [Hash32(bytes.fromhex(p[2:])) for p in oz_multi["proof"]]
            assert verify_multiproof(tree.root, oz_leaves, oz_proof, oz_multi["proofFlags"]), label


# ----------------------------------------------------------------------------------------------
# Rejections


def leaf(index: int, staker_byte: int, amount: int = 1) -> DistributionLeaf:
    return DistributionLeaf(index, Address(bytes([staker_byte]) * 20), Amount(amount))


def test_build_rejects_bad_leaf_sets() -> None:
    with pytest.raises(MerkleError, match="at least one leaf"):
        DistributionTree.build([])
    with pytest.raises(MerkleError, match="appears twice"):
        DistributionTree.build([leaf(0, 1), leaf(0, 2)])
    with pytest.raises(MerkleError, match="more than one leaf"):
        DistributionTree.build([leaf(0, 1), leaf(1, 1)])
    with pytest.raises(MerkleError, match="dense"):
        DistributionTree.build([leaf(0, 1), leaf(2, 2)])
    with pytest.raises(MerkleError, match="uint256"):
        DistributionTree.build([leaf(0, 1, UINT256_MAX), leaf(1, 2, 1)])
    with pytest.raises(InvalidValueError):
        DistributionTree.build([leaf(0, 1), "not a leaf"])  # type: ignore[list-item]


def test_leaf_validation() -> None:
    with pytest.raises(InvalidValueError):
        DistributionLeaf(-1, Address(b"\x01" * 20), Amount(1))
    with pytest.raises(InvalidValueError):
        DistributionLeaf(0, Address(b"\x01" * 20), Amount(UINT256_MAX + 1))
    with pytest.raises(InvalidLengthError):
        DistributionLeaf(0, Address(b"\x01" * 19), Amount(1))
    hex_staker = DistributionLeaf(0, "0x" + "AB" * 20, Amount(1))  # type: ignore[arg-type]
    assert hex_staker.staker == b"\xab" * 20


def test_proof_lookup_errors() -> None:
    tree = DistributionTree.build(THREE)
    with pytest.raises(MerkleError, match="no leaf with index 3"):
        tree.proof(3)
    with pytest.raises(MerkleError, match="not in this tree"):
        tree.proof(leaf(0, 0x11, 999))
    with pytest.raises(MerkleError, match="twice"):
        tree.multiproof([1, 1])
    with pytest.raises(InvalidValueError):
        tree.proof(True)


def test_empty_multiproof_is_the_root_like_oz() -> None:
    tree = DistributionTree.build(THREE)
    multi = tree.multiproof([])
    assert multi == MultiProof(leaves=(), proof=(tree.root,), proof_flags=())
    assert process_multiproof([], multi.proof, []) == tree.root


def test_tampered_proofs_fail() -> None:
    tree = DistributionTree.build(random_leaves(random.Random(9), 40))
    target = tree.leaf(3)
    proof = tree.proof(3)
    forged = DistributionLeaf(target.index, target.staker, Amount(target.amount + 1))
    assert not verify_proof(tree.root, forged, proof)
    assert not verify_proof(tree.root, target, proof[:-1])
    multi = tree.multiproof([1, 2, 30])
    swapped = (multi.leaves[1], multi.leaves[0], *multi.leaves[2:])
    assert not verify_multiproof(tree.root, swapped, multi.proof, multi.proof_flags)
    assert not verify_multiproof(tree.root, (*multi.leaves[:-1], forged), multi.proof, multi.proof_flags)


def test_process_multiproof_reverts_like_solidity() -> None:
    h = [Hash32(bytes([i]) * 32) for i in range(1, 6)]
    with pytest.raises(MerkleError, match="invalid multiproof"):  # leaves + proof != flags + 1
        process_multiproof(h[:2], [h[2]], [True])
    with pytest.raises(MerkleError, match="unused"):  # proofPos != proof.length
        process_multiproof(h[:2], [h[2]], [True, True])
    with pytest.raises(MerkleError, match="past the computed hashes"):  # hashes[] out of bounds
        process_multiproof([h[0]], [h[1], h[2], h[3]], [False, True, True])
    with pytest.raises(MerkleError, match="past the proof"):  # proof[] out of bounds
        process_multiproof(h[:3], [], [False, False])
    with pytest.raises(MerkleError, match="32 bytes"):
        process_multiproof([Hash32(b"\x00" * 31)], [], [])
    with pytest.raises(MerkleError, match="bool"):
        process_multiproof(h[:2], [], [1])  # type: ignore[list-item]
    # No flags: the single leaf (or the single proof element) is the root, as in Solidity.
    assert process_multiproof([h[0]], [], []) == h[0]
    assert process_multiproof([], [h[1]], []) == h[1]
    with pytest.raises(MerkleError):
        process_proof(h[0], [Hash32(b"\x01" * 33)])


@settings(max_examples=200, deadline=None)
@given(
    leaves=st.lists(st.binary(min_size=32, max_size=32), max_size=5),
    proof=st.lists(st.binary(min_size=32, max_size=32), max_size=5),
    flags=st.lists(st.booleans(), max_size=9),
)
def test_process_multiproof_only_raises_merkle_error(
    leaves: list[bytes], proof: list[bytes], flags: list[bool]
) -> None:
    try:
        result = process_multiproof([Hash32(x) for x in leaves], [Hash32(x) for x in proof], flags)
    except MerkleError:
        return
    assert len(result) == 32


def test_keccak_backends_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    assert merkle.KECCAK_BACKEND == "safe-pysha3"  # declared dependency: the fast path must be live
    leaves = random_leaves(random.Random(77), 100)
    fast = DistributionTree.build(leaves)
    monkeypatch.setattr(merkle, "_new_keccak", merkle._pycryptodome_factory)
    slow = DistributionTree.build(leaves)
    assert fast.nodes == slow.nodes
    assert node_hash(fast.nodes[1], fast.nodes[2]) == fast.root
