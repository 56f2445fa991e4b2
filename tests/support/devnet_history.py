"""A devnet chain with some history, built by the state machine from real messages (no sockets): what
the gRPC wire tests query through the servers production runs (``DevnetGrpcServer`` over the node).

The history: three AVSs (``alpha``, ``beta``, ``gamma``); operators 0..3 opted into ``alpha`` and
``beta`` with stakers behind them, committees elected; validator 1 silent (its packet signatures
stay unsigned); three claims verified and distributed (two of ``alpha``, one of ``beta``) and one
rejected (one signer of four: no quorum); a slash of operator 0 for ``alpha`` executed with freeze
and one of operator 1 for ``beta`` rejected (no quorum). Every block is committed.

Invariant: the expectations of the tests that use it are read from the node's own views (the state
the servers serve), so a change in how the devnet sizes distributions does not silently change what
a test checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from devnet import scenario as sc
from relayer.exocore.proto.devnet.v1 import tx_pb2 as devnet_tx
from relayer.exocore.proto.operator.v1 import tx_pb2 as operator_tx
from tests.support.devnet_world import CHAIN_ID, ETHER, SEED, WETH, World

OPERATORS = 4
STAKERS = 12
SILENT_VALIDATOR = 1
"""Valset index whose packet signatures never appear (a fault knob): PacketSignatures shows it unsigned."""
AVS_NAMES = ("alpha", "beta", "gamma")


@dataclass
class History:
    world: World
    avs: dict[str, str]
    """AVS name -> address."""
    distributed: list[bytes] = field(default_factory=list)
    """Claim ids verified and distributed, in submission order."""
    rejected_claim: bytes = b""
    executed_slash: bytes = b""
    rejected_slash: bytes = b""

    @property
    def alpha(self) -> str:
        return self.avs["alpha"]

    @property
    def beta(self) -> str:
        return self.avs["beta"]


def build_history() -> History:
    world = World.create()
    world.price(WETH, "3000")
    for index in range(OPERATORS):
        world.operator(index)
    avs = {name: world.avs(name) for name in AVS_NAMES}
    for index in range(OPERATORS):
        world.opt_in(index, avs["alpha"])
        world.opt_in(index, avs["beta"])
    for index in range(STAKERS):
        world.delegate(sc.staker_address(SEED, index), index % OPERATORS, WETH, (index + 1) * ETHER)
    world.node.set_fault_knobs(
        devnet_tx.MsgSetFaultKnobs(knobs=devnet_tx.FaultKnobs(silent_validators=[SILENT_VALIDATOR]))
    )
    world.next_epoch()
    history = History(world, avs)
    alpha, beta = world.committee(avs["alpha"]), world.committee(avs["beta"])
    everyone = range(OPERATORS)
    for committee, amount in ((alpha, 10**21), (beta, 3 * 10**20), (alpha, 2 * 10**21)):
        history.distributed.append(bytes(world.claim(committee, everyone, amount=amount).claim_id))
    history.rejected_claim = bytes(world.claim(alpha, [0], amount=7 * ETHER).claim_id)
    history.executed_slash = bytes(
        world.node.submit_slash_request(_slash(world, alpha, everyone, 0)).slash_id
    )
    history.rejected_slash = bytes(world.node.submit_slash_request(_slash(world, beta, [0], 1)).slash_id)
    world.node.produce_block()
    return history


def _slash(
    world: World, committee: sc.CommitteeView, signers: range | list[int], operator: int
) -> operator_tx.MsgSubmitSlashRequest:
    return sc.slash_request_msg(
        chain_id=CHAIN_ID,
        committee=committee,
        secrets=world.secrets,
        signer_indices=signers,
        operator=sc.operator_account(SEED, operator),
        proportion=10**16,
    )
