"""What the exocore query services need from the chain state: the state machine implements it.

Every method reads the committed state (after the latest block). Lists are returned whole and in
the stated order; the servicers filter and paginate them (Cosmos ``PageRequest`` semantics), so
the implementation stays a plain read of its own state. Return ``None`` for "does not exist";
raise :class:`~devnet.grpc.errors.ChainRequestError` subclasses for anything else the caller did wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from relayer.exocore.proto.avs.v1 import types_pb2 as avs
from relayer.exocore.proto.feedistribution.v1 import types_pb2 as feedistribution
from relayer.exocore.proto.operator.v1 import query_pb2 as operator_query
from relayer.exocore.proto.operator.v1 import tx_pb2 as operator_tx
from relayer.exocore.proto.operator.v1 import types_pb2 as operator
from relayer.exocore.proto.relay.v1 import types_pb2 as relay


class ChainQueries(Protocol):
    # -- exocore.avs.v1 --

    def avs_info(self, avs_address: str) -> avs.AVSInfo | None:
        """The AVS registered at ``avs_address`` (0x lower-case hex)."""
        ...

    def avs_infos(self) -> Sequence[avs.AVSInfo]:
        """Every registered AVS, ordered by ``avs_address``."""
        ...

    def committee(self, avs_address: str, epoch: int) -> avs.Committee | None:
        """The committee of ``avs_address`` for ``epoch``; epoch 0 means the AVS's current epoch."""
        ...

    def reward_claim(self, claim_id: bytes) -> avs.RewardClaim | None: ...

    def reward_claims(self) -> Sequence[avs.RewardClaim]:
        """Every reward claim, in submission order (append-only)."""
        ...

    # -- exocore.feedistribution.v1 --

    def distribution(self, nonce: int) -> feedistribution.Distribution | None: ...

    def distribution_for_claim(self, claim_id: bytes) -> feedistribution.Distribution | None: ...

    def distributions(self) -> Sequence[feedistribution.Distribution]:
        """Every distribution, in nonce order."""
        ...

    def distribution_leaves(self, nonce: int) -> Sequence[feedistribution.DistributionLeaf]:
        """The leaves of distribution ``nonce`` (or of the WITHDRAWAL_APPROVAL packet ``nonce``: one
        leaf encoding for both) in index order (called only if it exists)."""
        ...

    def has_withdrawal_approval(self, nonce: int) -> bool:
        """Whether packet ``nonce`` is a WITHDRAWAL_APPROVAL (its leaves are served as a distribution's)."""
        ...

    def cumulative_leaves(
        self, period: int, l1_chain_id: int = 0
    ) -> Sequence[feedistribution.CumulativeLeaf] | None:
        """Client chain ``l1_chain_id``'s (0: the first's) closed cumulative period's leaves
        (tree-input order); None if no such period."""
        ...

    # -- exocore.operator.v1 --

    def operator_info(self, account: str) -> operator_tx.OperatorInfo | None:
        """The registration of operator ``account`` (canonical bech32), upstream's ``OperatorInfo``."""
        ...

    def operator_accounts(self) -> Sequence[str]:
        """Every registered operator account, ordered by account string."""
        ...

    def slash_info(self, slash_id: bytes) -> operator.OperatorSlashInfo | None: ...

    def slash_infos(self) -> Sequence[operator.OperatorSlashInfo]:
        """Every slash, in submission order (append-only)."""
        ...

    def freezing_slash(self, operator_account: str, avs_address: str) -> operator.OperatorSlashInfo | None:
        """The executed slash that froze ``operator_account`` for ``avs_address``, if it is frozen."""
        ...

    def asset_custody(self, asset_id: str) -> operator_query.QueryAssetCustodyResponse:
        """Exocore's totals of ``asset_id`` (a parsed, canonical asset id)."""
        ...

    # -- exocore.relay.v1 --

    def packet(self, nonce: int) -> relay.Packet | None: ...

    def packets(self) -> Sequence[relay.Packet]:
        """Every relay packet, in nonce order."""
        ...

    def packet_signatures(self, nonce: int) -> Sequence[relay.ValidatorSignature]:
        """One entry per member of the packet's signing valset, in set order (called only if it exists)."""
        ...

    def valset(self, valset_nonce: int) -> relay.Valset | None: ...

    def current_valset(self) -> relay.Valset | None:
        """The set that signs new packets; ``None`` before genesis."""
        ...

    def relay_params(self) -> relay.Params: ...
