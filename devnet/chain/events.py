"""ABCI events the devnet chain emits: names and attribute keys (the relayer and indexer decode these).

Value formats: addresses, ids, hashes and keys are ``0x``-prefixed lower-case hex; amounts, powers,
nonces, epochs and heights are decimal integer strings; operators are bech32 (``exo1…``); rates and
proportions are decimal strings (``"0.05"``); lists are comma-separated in order. Upstream events
(``allocate_rewards_to_operator``, ``operator_asset_slashed``, ``undelegation_slashed``,
``freeze_operator``, ``avs_created``) keep upstream's attribute keys; exorelay events name the AVS
``avs``.

Where they appear: committee elections, validator-set updates and the packets they create are in
``begin_block_events``; everything caused by a transaction is in that transaction's result events.
"""

from __future__ import annotations

from typing import Final

from devnet.chain.blockstore import Event
from relayer.protocol.claims import PROPORTION_DECIMALS, format_fixed

MESSAGE: Final = "message"
OPERATOR_REGISTERED: Final = "operator_registered"
AVS_CREATED: Final = "avs_created"
OPERATOR_OPTED_IN: Final = "operator_opted_in"
OPERATOR_OPTED_OUT: Final = "operator_opted_out"
DELEGATION: Final = "delegation"
UNDELEGATION_STARTED: Final = "undelegation_started"
UNDELEGATION_COMPLETED: Final = "undelegation_completed"
PRICE_UPDATED: Final = "price_updated"
COMMITTEE_ELECTED: Final = "committee_elected"
REWARD_CLAIM_SUBMITTED: Final = "reward_claim_submitted"
REWARD_CLAIM_VERIFIED: Final = "reward_claim_verified"
REWARD_CLAIM_REJECTED: Final = "reward_claim_rejected"
ALLOCATE_REWARDS_TO_OPERATOR: Final = "allocate_rewards_to_operator"
REWARD_DISTRIBUTION_FINALIZED: Final = "reward_distribution_finalized"
REWARD_DISTRIBUTION_ACCRUED: Final = "reward_distribution_accrued"
FEE_DEPOSIT_RECORDED: Final = "fee_deposit_recorded"
SLASH_REQUEST_SUBMITTED: Final = "slash_request_submitted"
SLASH_REQUEST_REJECTED: Final = "slash_request_rejected"
SLASH_EXECUTED: Final = "slash_executed"
OPERATOR_ASSET_SLASHED: Final = "operator_asset_slashed"
UNDELEGATION_SLASHED: Final = "undelegation_slashed"
FREEZE_OPERATOR: Final = "freeze_operator"
RELAY_PACKET_CREATED: Final = "relay_packet_created"
VALSET_UPDATED: Final = "valset_updated"
VALIDATOR_POWER_SET: Final = "validator_power_set"
FAULT_KNOBS_SET: Final = "fault_knobs_set"
L1_DELEGATION_REFUNDED: Final = "l1_delegation_refunded"
WITHDRAWAL_APPROVED: Final = "withdrawal_approved"

MODULE: Final = "devnet"


def hex0x(data: bytes) -> str:
    return "0x" + data.hex()


def rate_text(value: int) -> str:
    """An 18-decimal fixed-point rate as a decimal string."""
    return format_fixed(value, PROPORTION_DECIMALS)


def joined(values: list[str] | tuple[str, ...]) -> str:
    return ",".join(values)


def event(event_type: str, *pairs: tuple[str, str | int]) -> Event:
    """An event whose integer values are rendered as decimal strings."""
    return Event.of(event_type, *((key, str(value)) for key, value in pairs))


def message(type_url: str) -> Event:
    """The ``message`` event every Cosmos transaction starts with."""
    return event(MESSAGE, ("action", type_url), ("module", MODULE))
