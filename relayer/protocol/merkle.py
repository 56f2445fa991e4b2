"""Reward distribution Merkle trees, bit-compatible with OpenZeppelin's StandardMerkleTree.

Leaves are ``(uint256 index, address staker, uint256 amount)``; a leaf hash is
``keccak256(keccak256(abi.encode(index, staker, amount)))``, inner nodes hash the *sorted* pair of
children, and leaves are sorted by hash before the tree is laid out. The layout is OZ's heap array
(``@openzeppelin/merkle-tree`` 1.0.8 ``makeMerkleTree``): ``2n - 1`` nodes, root at 0, children of
``i`` at ``2i + 1`` / ``2i + 2``, the sorted leaves stored in reverse at the end. Proofs and
multiproofs are exactly what OZ's ``getProof`` / ``getMultiProof`` return, and
:func:`process_multiproof` replicates Solidity ``MerkleProof.processMultiProof`` (OZ 5.x) step for
step, so a proof accepted here is accepted on L1 and vice versa.

Distribution rules on top of OZ: at least one leaf, indices are exactly ``0 .. n-1`` (in any input
order; the gateway pays each index once and may bound it by ``leafCount``), one leaf per staker,
and the sum of amounts fits uint256.
"""

from __future__ import annotations

import importlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Final, Protocol, cast

from Crypto.Hash import keccak as pycryptodome_keccak

from relayer.protocol.errors import InvalidValueError, MerkleError
from relayer.protocol.types import (
    UINT32_MAX,
    UINT256_MAX,
    Address,
    Amount,
    Hash32,
    as_address,
    check_uint,
)

MAX_LEAVES: Final = UINT32_MAX
"""A distribution's ``leafCount`` is a uint32 in the REWARD_DISTRIBUTION payload."""

LEAF_ENCODING: Final = ("uint256", "address", "uint256")
"""OZ StandardMerkleTree ``leafEncoding`` of a distribution leaf."""

_ZERO_HASH: Final = bytes(32)
_ADDRESS_PADDING: Final = bytes(12)  # abi.encode left-pads a 20-byte address to a 32-byte word.
_KECCAK_OF_EMPTY: Final = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")


class _HashObject(Protocol):
    def digest(self) -> bytes: ...


_HashFactory = Callable[[bytes], _HashObject]


def _pycryptodome_factory(data: bytes) -> _HashObject:
    return pycryptodome_keccak.new(data=data, digest_bits=256)


def _select_keccak_factory() -> _HashFactory:
    """Prefer safe-pysha3's C ``keccak_256`` (~0.75 µs per 64-byte hash vs ~3.7 µs for pycryptodome's
    Python-wrapped one; tree building is almost all hashing). It is checked against a known answer
    because an unrelated distribution could also install a top-level ``sha3`` module."""
    try:
        module = importlib.import_module("sha3")
        factory: _HashFactory = module.keccak_256
        if factory(b"").digest() == _KECCAK_OF_EMPTY:
            return factory
    except (ImportError, AttributeError, TypeError):
        pass
    return _pycryptodome_factory


_new_keccak: Final = _select_keccak_factory()
new_keccak: Final = _new_keccak
"""The keccak256 hash-object factory tree building uses (the fastest one installed), for the other
StandardMerkleTree leaf encodings of the protocol (:mod:`relayer.protocol.cumulative`)."""
ADDRESS_PADDING: Final = _ADDRESS_PADDING
"""The 12 zero bytes ``abi.encode`` puts before a 20-byte address."""
KECCAK_BACKEND: Final = "pycryptodome" if _new_keccak is _pycryptodome_factory else "safe-pysha3"
"""Which keccak implementation tree building uses (reported by bench/merkle_tree.py)."""


def _keccak(data: bytes) -> bytes:
    return _new_keccak(data).digest()


def node_hash(a: bytes, b: bytes) -> Hash32:
    """OZ ``Hashes.commutativeKeccak256``: keccak256 of the two 32-byte nodes in ascending order."""
    return Hash32(_keccak(a + b) if a < b else _keccak(b + a))


def leaf_hash(index: int, staker: Address, amount: int) -> Hash32:
    """``keccak256(bytes.concat(keccak256(abi.encode(index, staker, amount))))``."""
    encoded = index.to_bytes(32, "big") + _ADDRESS_PADDING + staker + amount.to_bytes(32, "big")
    return Hash32(_keccak(_keccak(encoded)))


@dataclass(frozen=True, slots=True)
class DistributionLeaf:
    """One payout: ``amount`` base units of the distribution's token to ``staker``, paid once by ``index``."""

    index: int
    staker: Address
    amount: Amount

    def __post_init__(self) -> None:
        check_uint(self.index, 256, "leaf index")
        object.__setattr__(self, "staker", as_address(self.staker))
        check_uint(self.amount, 256, "leaf amount")

    @property
    def encoded(self) -> bytes:
        """``abi.encode(uint256 index, address staker, uint256 amount)``."""
        index_word = self.index.to_bytes(32, "big")
        return index_word + _ADDRESS_PADDING + self.staker + self.amount.to_bytes(32, "big")

    @property
    def hash(self) -> Hash32:
        return leaf_hash(self.index, self.staker, self.amount)


@dataclass(frozen=True, slots=True)
class MultiProof:
    """OZ multiproof: ``leaves`` in the order OZ returns and ``multiProofVerify`` expects them
    (ascending leaf hash, i.e. descending tree position), the sibling ``proof`` and ``proof_flags``."""

    leaves: tuple[DistributionLeaf, ...]
    proof: tuple[Hash32, ...]
    proof_flags: tuple[bool, ...]

    @property
    def leaf_hashes(self) -> tuple[Hash32, ...]:
        return tuple(leaf.hash for leaf in self.leaves)

    def verify(self, root: Hash32) -> bool:
        return verify_multiproof(root, self.leaves, self.proof, self.proof_flags)


def _sibling(position: int) -> int:
    # OZ siblingIndex: i - (-1) ** (i % 2), i.e. i + 1 for odd i and i - 1 for even i.
    return ((position - 1) ^ 1) + 1


def heap_layout(hashes: Sequence[bytes]) -> tuple[list[Hash32], list[int]]:
    """OZ ``makeMerkleTree`` over leaf hashes given in input order: returns the ``2n - 1`` heap
    nodes and ``order`` (input positions by ascending leaf hash; sorted leaf ``r`` sits at tree
    position ``2n - 2 - r``). Shared by every StandardMerkleTree of the protocol, whatever its leaf
    encoding; ``hashes`` must be non-empty 32-byte values."""
    count = len(hashes)
    if count == 0:
        raise MerkleError("a Merkle tree needs at least one leaf")
    new_keccak = _new_keccak
    # OZ sorts leaf hashes ascending, then stores sorted leaf r at tree position size - 1 - r.
    order = sorted(range(count), key=hashes.__getitem__)
    nodes: list[bytes] = [b""] * (count - 1)
    nodes.extend(hashes[input_position] for input_position in reversed(order))
    for position in range(count - 2, -1, -1):
        left = nodes[2 * position + 1]
        right = nodes[2 * position + 2]
        nodes[position] = (
            new_keccak(left + right).digest() if left < right else new_keccak(right + left).digest()
        )
    return cast(list[Hash32], nodes), order


def heap_proof(nodes: Sequence[Hash32], position: int) -> tuple[Hash32, ...]:
    """OZ ``getProof`` of the leaf at heap ``position``: its siblings up to the root."""
    siblings: list[Hash32] = []
    while position > 0:
        siblings.append(nodes[((position - 1) ^ 1) + 1])
        position = (position - 1) >> 1
    return tuple(siblings)


def heap_multiproof(
    nodes: Sequence[Hash32], positions: Sequence[int]
) -> tuple[tuple[Hash32, ...], tuple[bool, ...]]:
    """OZ ``getMultiProof`` for leaves at heap ``positions`` given in descending order (OZ's leaf
    order); a repeated position is a :class:`MerkleError`, none yields OZ's ``proof = [root]``."""
    for previous, current in pairwise(positions):
        if previous <= current:
            raise MerkleError("cannot prove the same leaf twice in one multiproof")
    queue = deque(positions)
    proof: list[Hash32] = []
    flags: list[bool] = []
    while queue and queue[0] > 0:
        position = queue.popleft()
        sibling = _sibling(position)
        if queue and queue[0] == sibling:
            flags.append(True)
            queue.popleft()
        else:
            flags.append(False)
            proof.append(nodes[sibling])
        queue.append((position - 1) >> 1)
    if not positions:
        proof.append(nodes[0])
    return tuple(proof), tuple(flags)


class DistributionTree:
    """An immutable StandardMerkleTree over a distribution's leaves; build with :meth:`build`.

    Nodes are kept in one flat list in OZ's heap order; proofs reference those node objects rather
    than copying them, so deriving every proof of a large tree costs no extra node storage.
    """

    __slots__ = ("_leaf_by_rank", "_leaves", "_nodes", "_position_by_index", "_total")

    _leaves: tuple[DistributionLeaf, ...]
    _nodes: list[Hash32]
    _position_by_index: list[int]
    _leaf_by_rank: list[DistributionLeaf]
    _total: Amount

    def __init__(
        self,
        leaves: tuple[DistributionLeaf, ...],
        nodes: list[Hash32],
        position_by_index: list[int],
        leaf_by_rank: list[DistributionLeaf],
        total: Amount,
    ) -> None:
        """Internal: use :meth:`build`, which validates leaves and computes the nodes."""
        self._leaves = leaves
        self._nodes = nodes
        self._position_by_index = position_by_index
        self._leaf_by_rank = leaf_by_rank
        self._total = total

    @classmethod
    def build(cls, leaves: Iterable[DistributionLeaf]) -> DistributionTree:
        """Hash, sort and lay out ``leaves``; raises :class:`MerkleError` for an empty input,
        indices that are not exactly ``0 .. n-1``, a repeated staker, or a total above uint256."""
        leaf_tuple = tuple(leaves)
        count = len(leaf_tuple)
        if count == 0:
            raise MerkleError("a distribution tree needs at least one leaf")
        if count > MAX_LEAVES:
            raise MerkleError(f"{count} leaves exceed the uint32 leafCount limit")
        new_keccak = _new_keccak
        padding = _ADDRESS_PADDING
        input_position_by_index = [-1] * count
        stakers: set[bytes] = set()
        hashes: list[bytes] = [b""] * count
        total = 0
        for input_position, leaf in enumerate(leaf_tuple):
            if not isinstance(leaf, DistributionLeaf):
                raise InvalidValueError(f"leaf #{input_position} is a {type(leaf).__name__}")
            index = leaf.index
            if index >= count:
                raise MerkleError(f"leaf index {index} is outside 0..{count - 1} (indices must be dense)")
            if input_position_by_index[index] >= 0:
                raise MerkleError(f"leaf index {index} appears twice")
            input_position_by_index[index] = input_position
            staker = leaf.staker
            stakers.add(staker)
            if len(stakers) != input_position + 1:
                raise MerkleError(f"staker 0x{staker.hex()} has more than one leaf")
            amount = leaf.amount
            total += amount
            encoded = index.to_bytes(32, "big") + padding + staker + amount.to_bytes(32, "big")
            hashes[input_position] = new_keccak(new_keccak(encoded).digest()).digest()
        del stakers
        if total > UINT256_MAX:
            raise MerkleError("the sum of leaf amounts does not fit uint256")

        nodes, order = heap_layout(hashes)
        del hashes
        size = 2 * count - 1
        tree_position_of_input = [0] * count
        for rank, input_position in enumerate(order):
            tree_position_of_input[input_position] = size - 1 - rank
        position_by_index = [tree_position_of_input[p] for p in input_position_by_index]
        leaf_by_rank = [leaf_tuple[input_position] for input_position in order]
        return cls(leaf_tuple, nodes, position_by_index, leaf_by_rank, Amount(total))

    @property
    def root(self) -> Hash32:
        return self._nodes[0]

    @property
    def total(self) -> Amount:
        """Sum of all leaf amounts (the payload's ``total``)."""
        return self._total

    @property
    def leaves(self) -> tuple[DistributionLeaf, ...]:
        """Leaves in the order given to :meth:`build` (OZ's ``values`` order)."""
        return self._leaves

    def __len__(self) -> int:
        return len(self._leaves)

    def leaf(self, index: int) -> DistributionLeaf:
        """The leaf with distribution index ``index``."""
        return self._leaf_at(self._position_of(index))

    @property
    def nodes(self) -> tuple[Hash32, ...]:
        """All ``2n - 1`` nodes in OZ heap order (``StandardMerkleTree.dump().tree``); copies."""
        return tuple(self._nodes)

    def tree_position(self, index: int) -> int:
        """Heap position of the leaf with distribution index ``index`` (OZ ``treeIndex``)."""
        return self._position_of(index)

    def proof(self, leaf: int | DistributionLeaf) -> tuple[Hash32, ...]:
        """OZ ``getProof`` for the leaf with distribution index ``leaf`` (or that exact leaf)."""
        return heap_proof(self._nodes, self._position_of_leaf(leaf))

    def proofs(self) -> Iterator[tuple[DistributionLeaf, tuple[Hash32, ...]]]:
        """Every leaf with its proof, in depth-first tree order (not index order).

        Walks the tree once, extending the parent's proof by one sibling per node, so the cost is
        one tuple build per node instead of a root walk per leaf (~4x faster for large trees), and
        only the current root-to-leaf path of proofs is alive at any time.
        """
        nodes = self._nodes
        leaf_by_rank = self._leaf_by_rank
        size = len(nodes)
        stack: list[tuple[int, tuple[Hash32, ...]]] = [(0, ())]
        pop = stack.pop
        push = stack.append
        while stack:
            position, proof = pop()
            left = 2 * position + 1
            if left >= size:
                yield leaf_by_rank[size - 1 - position], proof
            else:
                push((left + 1, (nodes[left], *proof)))
                push((left, (nodes[left + 1], *proof)))

    def multiproof(self, leaves: Iterable[int | DistributionLeaf]) -> MultiProof:
        """OZ ``getMultiProof`` for a set of leaves (distribution indices or leaves; order irrelevant).

        The returned leaves come in OZ's order (descending tree position). Repeated leaves are a
        :class:`MerkleError`; an empty selection yields OZ's ``proof = [root]``.
        """
        positions = sorted((self._position_of_leaf(leaf) for leaf in leaves), reverse=True)
        proof, flags = heap_multiproof(self._nodes, positions)
        return MultiProof(
            leaves=tuple(self._leaf_at(position) for position in positions),
            proof=proof,
            proof_flags=flags,
        )

    def _position_of(self, index: int) -> int:
        if isinstance(index, bool) or not isinstance(index, int):
            raise InvalidValueError(f"leaf index must be an int, got {type(index).__name__}")
        if not 0 <= index < len(self._position_by_index):
            raise MerkleError(f"no leaf with index {index} (tree has {len(self._position_by_index)})")
        return self._position_by_index[index]

    def _position_of_leaf(self, leaf: int | DistributionLeaf) -> int:
        if isinstance(leaf, DistributionLeaf):
            position = self._position_of(leaf.index)
            if self._leaf_at(position) != leaf:
                raise MerkleError(f"leaf {leaf} is not in this tree")
            return position
        return self._position_of(leaf)

    def _leaf_at(self, position: int) -> DistributionLeaf:
        return self._leaf_by_rank[len(self._nodes) - 1 - position]


def _check_node(node: bytes, what: str) -> None:
    if not isinstance(node, bytes) or len(node) != 32:
        raise MerkleError(f"{what} must be 32 bytes")


def process_proof(leaf: Hash32, proof: Sequence[Hash32]) -> Hash32:
    """OZ ``MerkleProof.processProof``: fold the proof into the leaf with the commutative hash."""
    _check_node(leaf, "leaf hash")
    computed = bytes(leaf)
    for position, sibling in enumerate(proof):
        _check_node(sibling, f"proof element #{position}")
        computed = node_hash(computed, sibling)
    return Hash32(computed)


def verify_proof(root: Hash32, leaf: DistributionLeaf, proof: Sequence[Hash32]) -> bool:
    """OZ ``MerkleProof.verify(proof, root, leafHash)`` for a distribution leaf."""
    _check_node(root, "root")
    return process_proof(leaf.hash, proof) == root


def process_multiproof(
    leaf_hashes: Sequence[Hash32], proof: Sequence[Hash32], proof_flags: Sequence[bool]
) -> Hash32:
    """Solidity ``MerkleProof.processMultiProof`` (OZ 5.x), replicated exactly.

    Where Solidity reverts (``MerkleProofInvalidMultiproof`` or an out-of-bounds array read) this
    raises :class:`MerkleError`. Like Solidity, a read of a not-yet-computed hash slot yields zero
    (such a run always ends in one of those reverts: it consumes more hashes than it produces).
    """
    for position, node in enumerate(leaf_hashes):
        _check_node(node, f"leaf hash #{position}")
    for position, node in enumerate(proof):
        _check_node(node, f"proof element #{position}")
    for position, flag in enumerate(proof_flags):
        if not isinstance(flag, bool):
            raise MerkleError(f"proof flag #{position} must be a bool")
    leaves_length = len(leaf_hashes)
    flags_length = len(proof_flags)
    if leaves_length + len(proof) != flags_length + 1:
        raise MerkleError(
            f"invalid multiproof: {leaves_length} leaves + {len(proof)} proof elements "
            f"!= {flags_length} flags + 1"
        )
    hashes = [_ZERO_HASH] * flags_length
    leaf_position = hash_position = proof_position = 0
    for step, flag in enumerate(proof_flags):
        if leaf_position < leaves_length:
            a = leaf_hashes[leaf_position]
            leaf_position += 1
        else:
            if hash_position >= flags_length:
                raise MerkleError("invalid multiproof: reads past the computed hashes")
            a = Hash32(hashes[hash_position])
            hash_position += 1
        if flag:
            if leaf_position < leaves_length:
                b = leaf_hashes[leaf_position]
                leaf_position += 1
            else:
                if hash_position >= flags_length:
                    raise MerkleError("invalid multiproof: reads past the computed hashes")
                b = Hash32(hashes[hash_position])
                hash_position += 1
        else:
            if proof_position >= len(proof):
                raise MerkleError("invalid multiproof: reads past the proof")
            b = proof[proof_position]
            proof_position += 1
        hashes[step] = node_hash(a, b)
    if flags_length > 0:
        if proof_position != len(proof):
            raise MerkleError("invalid multiproof: proof elements left unused")
        return Hash32(hashes[flags_length - 1])
    if leaves_length > 0:
        return leaf_hashes[0]
    return proof[0]


def verify_multiproof(
    root: Hash32,
    leaves: Sequence[DistributionLeaf],
    proof: Sequence[Hash32],
    proof_flags: Sequence[bool],
) -> bool:
    """OZ ``MerkleProof.multiProofVerify`` for distribution leaves given in multiproof order.

    Returns whether the rebuilt root equals ``root``; a malformed multiproof (where Solidity would
    revert) raises :class:`MerkleError`.
    """
    _check_node(root, "root")
    return process_multiproof([leaf.hash for leaf in leaves], proof, proof_flags) == root
