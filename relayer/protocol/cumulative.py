"""Cumulative reward trees: one OZ StandardMerkleTree per period over every earner's running total.

A cumulative leaf is ``(address earner, address token, uint256 cumulative)``: everything ever
distributed to ``earner`` in ``token`` on one client chain, over every AVS, up to and including the
period the tree belongs to. Its hash is
``keccak256(keccak256(abi.encode(earner, token, cumulative)))`` (OZ leafEncoding
``["address", "address", "uint256"]``); the layout, proofs and multiproofs are the ones of
:mod:`relayer.protocol.merkle` (same heap, same sorted-pair hashing), so OZ's ``MerkleProof`` on L1
accepts them unchanged.

Invariants a tree enforces when it is built: at least one leaf, one leaf per (earner, token),
non-zero earner and token, and every token's sum fits uint256. Between two periods the ledger that
feeds the trees only ever grows (:func:`check_monotone`): on L1 a claim pays ``cumulative - claimed``,
so a total that shrank would make a paid amount unclaimable rather than pay it twice, but a relayer
must refuse such a root before it delivers it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final

from relayer.protocol.errors import InvalidValueError, MerkleError
from relayer.protocol.merkle import (
    ADDRESS_PADDING,
    heap_layout,
    heap_multiproof,
    heap_proof,
    new_keccak,
    process_multiproof,
    process_proof,
)
from relayer.protocol.types import UINT32_MAX, UINT256_MAX, Address, Amount, Hash32, as_address, check_uint

CUMULATIVE_LEAF_ENCODING: Final = ("address", "address", "uint256")
"""OZ StandardMerkleTree ``leafEncoding`` of a cumulative leaf."""

MAX_CUMULATIVE_LEAVES: Final = UINT32_MAX
"""The CUMULATIVE_ROOT payload's ``leafCount`` is a uint32."""

EarnerToken = tuple[Address, Address]
"""The key of a cumulative leaf: (earner, token)."""


def cumulative_leaf_hash(earner: Address, token: Address, cumulative: int) -> Hash32:
    """``keccak256(bytes.concat(keccak256(abi.encode(earner, token, cumulative))))``."""
    encoded = ADDRESS_PADDING + earner + ADDRESS_PADDING + token + cumulative.to_bytes(32, "big")
    return Hash32(new_keccak(new_keccak(encoded).digest()).digest())


@dataclass(frozen=True, slots=True)
class CumulativeLeaf:
    """``cumulative`` base units of ``token`` earned by ``earner`` since the first period."""

    earner: Address
    token: Address
    cumulative: Amount

    def __post_init__(self) -> None:
        object.__setattr__(self, "earner", as_address(self.earner))
        object.__setattr__(self, "token", as_address(self.token))
        check_uint(self.cumulative, 256, "cumulative amount")
        if not any(self.earner) or not any(self.token):
            raise InvalidValueError("a cumulative leaf's earner and token must not be the zero address")

    @property
    def key(self) -> EarnerToken:
        return (self.earner, self.token)

    @property
    def encoded(self) -> bytes:
        """``abi.encode(address earner, address token, uint256 cumulative)``."""
        return (
            ADDRESS_PADDING + self.earner + ADDRESS_PADDING + self.token + self.cumulative.to_bytes(32, "big")
        )

    @property
    def hash(self) -> Hash32:
        return cumulative_leaf_hash(self.earner, self.token, self.cumulative)


@dataclass(frozen=True, slots=True)
class CumulativeMultiProof:
    """OZ multiproof over cumulative leaves, leaves in OZ's order (what ``multiProofVerify`` wants)."""

    leaves: tuple[CumulativeLeaf, ...]
    proof: tuple[Hash32, ...]
    proof_flags: tuple[bool, ...]

    def verify(self, root: Hash32) -> bool:
        return process_multiproof([leaf.hash for leaf in self.leaves], self.proof, self.proof_flags) == root


class CumulativeTree:
    """An immutable StandardMerkleTree over one period's cumulative leaves; build with :meth:`build`."""

    __slots__ = ("_input_by_key", "_leaf_by_rank", "_leaves", "_nodes", "_rank_of_input", "_totals")

    def __init__(
        self,
        *,
        leaves: tuple[CumulativeLeaf, ...],
        nodes: list[Hash32],
        input_by_key: dict[EarnerToken, int],
        rank_of_input: list[int],
        leaf_by_rank: list[CumulativeLeaf],
        totals: dict[Address, Amount],
    ) -> None:
        """Internal: use :meth:`build`. A leaf's heap position is derived on lookup (input position
        -> hash rank -> ``2n - 2 - rank``) rather than kept in a second dict of every key."""
        self._leaves = leaves
        self._nodes = nodes
        self._input_by_key = input_by_key
        self._rank_of_input = rank_of_input
        self._leaf_by_rank = leaf_by_rank
        self._totals = totals

    @classmethod
    def build(cls, leaves: Iterable[CumulativeLeaf]) -> CumulativeTree:
        """Hash, sort and lay out ``leaves``; :class:`MerkleError` for no leaf, a repeated
        (earner, token) or a token whose total exceeds uint256."""
        leaf_tuple = tuple(leaves)
        count = len(leaf_tuple)
        if count == 0:
            raise MerkleError("a cumulative tree needs at least one leaf")
        if count > MAX_CUMULATIVE_LEAVES:
            raise MerkleError(f"{count} leaves exceed the uint32 leafCount limit")
        hash_of = new_keccak
        padding = ADDRESS_PADDING
        hashes: list[bytes] = [b""] * count
        input_position_by_key: dict[EarnerToken, int] = {}
        setdefault = input_position_by_key.setdefault
        totals: dict[Address, int] = {}
        # Leaves usually come grouped by token: sum a run of one token locally, flush on a change.
        run_token: Address | None = None
        run_total = 0
        for input_position, leaf in enumerate(leaf_tuple):
            if not isinstance(leaf, CumulativeLeaf):
                raise InvalidValueError(f"leaf #{input_position} is a {type(leaf).__name__}")
            earner, token, cumulative = leaf.earner, leaf.token, leaf.cumulative
            if setdefault((earner, token), input_position) != input_position:
                raise MerkleError(f"earner 0x{earner.hex()} has two leaves for token 0x{token.hex()}")
            if token != run_token:
                if run_token is not None:
                    totals[run_token] = totals.get(run_token, 0) + run_total
                run_token, run_total = token, 0
            run_total += cumulative
            hashes[input_position] = hash_of(
                hash_of(padding + earner + padding + token + cumulative.to_bytes(32, "big")).digest()
            ).digest()
        if run_token is not None:
            totals[run_token] = totals.get(run_token, 0) + run_total
        for token, total in totals.items():
            if total > UINT256_MAX:
                raise MerkleError(
                    f"token 0x{token.hex()}: the sum of cumulative amounts does not fit uint256"
                )
        nodes, order = heap_layout(hashes)
        del hashes
        rank_of_input = [0] * count
        for rank, input_position in enumerate(order):
            rank_of_input[input_position] = rank
        leaf_by_rank = [leaf_tuple[input_position] for input_position in order]
        return cls(
            leaves=leaf_tuple,
            nodes=nodes,
            input_by_key=input_position_by_key,
            rank_of_input=rank_of_input,
            leaf_by_rank=leaf_by_rank,
            totals={t: Amount(v) for t, v in totals.items()},
        )

    @property
    def root(self) -> Hash32:
        return self._nodes[0]

    @property
    def leaves(self) -> tuple[CumulativeLeaf, ...]:
        """Leaves in the order given to :meth:`build` (OZ's ``values`` order)."""
        return self._leaves

    @property
    def nodes(self) -> tuple[Hash32, ...]:
        """All ``2n - 1`` nodes in OZ heap order (``StandardMerkleTree.dump().tree``); copies."""
        return tuple(self._nodes)

    @property
    def totals(self) -> Mapping[Address, Amount]:
        """Per token, the sum of every earner's cumulative amount."""
        return dict(self._totals)

    def __len__(self) -> int:
        return len(self._leaves)

    def __contains__(self, key: object) -> bool:
        return key in self._input_by_key

    def leaf(self, earner: Address, token: Address) -> CumulativeLeaf:
        return self._leaf_at(self._position(earner, token))

    def proof(self, earner: Address, token: Address) -> tuple[Hash32, ...]:
        """OZ ``getProof`` of the (earner, token) leaf."""
        return heap_proof(self._nodes, self._position(earner, token))

    def multiproof(self, keys: Iterable[EarnerToken]) -> CumulativeMultiProof:
        """OZ ``getMultiProof`` for several (earner, token) leaves (order irrelevant, no repeats)."""
        positions = sorted((self._position(earner, token) for earner, token in keys), reverse=True)
        proof, flags = heap_multiproof(self._nodes, positions)
        return CumulativeMultiProof(
            leaves=tuple(self._leaf_at(position) for position in positions), proof=proof, proof_flags=flags
        )

    def proofs(self) -> Iterator[tuple[CumulativeLeaf, tuple[Hash32, ...]]]:
        """Every leaf with its proof, in depth-first tree order (one sibling tuple per node)."""
        nodes = self._nodes
        leaf_by_rank = self._leaf_by_rank
        size = len(nodes)
        stack: list[tuple[int, tuple[Hash32, ...]]] = [(0, ())]
        while stack:
            position, proof = stack.pop()
            left = 2 * position + 1
            if left >= size:
                yield leaf_by_rank[size - 1 - position], proof
            else:
                stack.append((left + 1, (nodes[left], *proof)))
                stack.append((left, (nodes[left + 1], *proof)))

    def _position(self, earner: Address, token: Address) -> int:
        try:
            input_position = self._input_by_key[(as_address(earner), as_address(token))]
        except KeyError:
            raise MerkleError(
                f"no leaf for earner 0x{bytes(earner).hex()} and token 0x{bytes(token).hex()}"
            ) from None
        return len(self._nodes) - 1 - self._rank_of_input[input_position]

    def _leaf_at(self, position: int) -> CumulativeLeaf:
        return self._leaf_by_rank[len(self._nodes) - 1 - position]


def verify_cumulative_proof(root: Hash32, leaf: CumulativeLeaf, proof: Iterable[Hash32]) -> bool:
    """OZ ``MerkleProof.verify`` for a cumulative leaf."""
    return process_proof(leaf.hash, tuple(proof)) == root


def check_monotone(previous: Iterable[CumulativeLeaf], current: CumulativeTree) -> None:
    """Raise :class:`MerkleError` unless every (earner, token) of ``previous`` is in ``current``
    with a cumulative amount at least as large: a newer root never takes back an earned amount."""
    for leaf in previous:
        if leaf.key not in current:
            raise MerkleError(
                f"earner 0x{leaf.earner.hex()} token 0x{leaf.token.hex()} dropped from the newer root"
            )
        now = current.leaf(leaf.earner, leaf.token).cumulative
        if now < leaf.cumulative:
            raise MerkleError(
                f"earner 0x{leaf.earner.hex()} token 0x{leaf.token.hex()}: "
                f"cumulative {now} < previous {leaf.cumulative}"
            )
