"""A test driver: drive a devnet like a real client, building, signing and sending exocore messages
over gRPC (as signed Cosmos transactions where the client has a funded key, see
:class:`ScenarioClient`). It signs claims and slash requests for every committee member itself, which
no deployment does: the demo (``exorelay demo``) goes through one ``exorelay operator`` process per
member and ``exorelay aggregator`` instead (:mod:`devnet.demo_avs`).

Two layers:

- Pure builders (no IO): deterministic dev identities derived from a seed (operator accounts — real
  secp256k1 accounts, bech32 ``exo1…`` derived from the key as cosmpy derives it —, AVS owner
  accounts, per-AVS operator BLS keys, staker addresses) and the messages: upstream's registration
  and opt-in (``exocore.operator.v1`` ``RegisterOperatorReq`` / ``OptIntoAVSReq`` with the Exocore
  key-registration proof of possession, ``exocore.avs.v1.RegisterAVSReq``), reward claims and slash
  requests aggregated over a chosen subset of a committee, equivocation evidence. Tests use them
  directly against a node.
- :class:`ScenarioClient`: the same messages sent to a running devnet through its gRPC Msg and Query
  services only, and :func:`run_scenario`, which sets up N operators, M stakers over two assets, AVSs
  with different rules, waits for the committees and submits claims signed by a chosen subset.

Signing as committee members (:meth:`ScenarioClient.claim`, :meth:`ScenarioClient.slash`,
:func:`run_scenario`'s claims) is a direct path for tests of the chain, indexer and relayer that run
without the AVS processes. ``exorelay demo`` never uses it: there each member signs in its own
``exorelay operator`` process and ``exorelay aggregator`` submits (:mod:`devnet.demo_avs`).

``python -m devnet.scenario [--manifest .exorelay/devnet.json]`` runs the standard scenario against the
devnet that ``exorelay devnet up`` started and prints what it did: a check of the chain with the
committees' signatures made here from every member's dev key, not the demo.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import grpc
from cosmpy.aerial.wallet import LocalWallet
from cosmpy.crypto.keypairs import PrivateKey
from cosmpy.protos.cosmos.bank.v1beta1 import tx_pb2 as bank_tx
from cosmpy.protos.cosmos.base.v1beta1 import coin_pb2
from eth_utils.crypto import keccak

from devnet.chain.msgs import delegation_msg
from devnet.chain.params import DEVNET_LZ_CHAIN_ID
from devnet.l1_stake import L1Stake, L1Staker
from devnet.operator_keys import OPERATOR_KEYS_DIR, operator_keystore
from relayer.errors import ProtocolError
from relayer.exocore.cosmos_tx import CosmosTxError, CosmosTxSender, msg_method_of, response_type_of
from relayer.exocore.proto.avs.v1 import query_pb2 as avs_query
from relayer.exocore.proto.avs.v1 import query_pb2_grpc as avs_grpc
from relayer.exocore.proto.avs.v1 import tx_pb2 as avs_tx
from relayer.exocore.proto.avs.v1 import types_pb2 as avs_pb
from relayer.exocore.proto.delegation.v1 import tx_pb2 as delegation_tx
from relayer.exocore.proto.devnet.v1 import tx_pb2 as tx
from relayer.exocore.proto.feedistribution.v1 import query_pb2 as fee_query
from relayer.exocore.proto.feedistribution.v1 import query_pb2_grpc as fee_grpc
from relayer.exocore.proto.operator.v1 import query_pb2 as operator_query
from relayer.exocore.proto.operator.v1 import query_pb2_grpc as operator_grpc
from relayer.exocore.proto.operator.v1 import tx_pb2 as operator_tx
from relayer.exocore.proto.relay.v1 import query_pb2_grpc as relay_grpc
from relayer.protocol import bls
from relayer.protocol.claims import (
    PROPORTION_DECIMALS,
    EquivocationEvidence,
    RewardClaim,
    SlashRequest,
    format_fixed,
    parse_fixed,
    task_response_digest,
)
from relayer.protocol.evidence import Attestation, SignedWrongResult, SquaringResponse
from relayer.protocol.ids import AssetId, ChainId, OperatorAddress
from relayer.protocol.kinds import PayoutMode
from relayer.protocol.quorum import SignerBitmap
from relayer.protocol.types import Address, Amount, Hash32

OPERATOR_PREFIX: Final = "exo"
DEFAULT_SCENARIO_SEED: Final = "scenario"
GRPC_TIMEOUT_S: Final = 30.0
"""Per-call deadline: a claim over 100k stakers executes within the call (seconds at most)."""
COMMITTEE_WAIT_S: Final = 60.0
"""How long run_scenario waits for the next epoch's committees (epochs are a few blocks long)."""
POLL_INTERVAL_S: Final = 0.1
L1_STAKE_WAIT_S: Final = 60.0
"""How long :meth:`ScenarioClient.delegate_many` waits for Exocore to apply the L1 delegations: the
follower reads the vault about every half second, one L1 block behind the head."""
SUBMITTER_ACCOUNT: Final = "relayer"
"""The manifest account whose key signs the scenario's transactions."""
SUBMIT_GAS_LIMIT: Final = 400_000
"""Gas limit of the scenario's transactions: above the devnet's cost of any exocore message with a
large signer bitmap (size gas is 10 per byte)."""
SUBMIT_GAS_PRICE_HUA: Final = 1
"""The devnet's minimum gas price (hua per gas)."""
KNOB_SERVICE: Final = tx.DESCRIPTOR.services_by_name["Msg"].full_name
"""``exocore.devnet.v1.Msg``: the simulator's knobs, never in a transaction. Every other service's
message (delegation reports, claims, slash requests, evidence) any funded account may sign."""
ACTOR_FUNDING_HUA: Final = 10**18
"""What the submitter sends an operator or AVS owner before its first transaction: 1 exo pays for
thousands of registration transactions at the devnet's minimum gas price."""
LEGACY_DEC_DECIMALS: Final = 18
"""Cosmos ``LegacyDec`` travels as its value times 10^18 (an integer string) in protobuf."""


class ScenarioError(ProtocolError):
    """The devnet refused a scenario transaction."""


def _material(seed: str, label: str) -> bytes:
    return hashlib.sha256(f"exorelay-scenario/{label}/{seed}".encode()).digest()


# ------------------------------------------------------------------------ dev identities


def operator_secret(seed: str, index: int) -> bytes:
    """The ``index``-th dev operator's secp256k1 account key (it signs the operator's transactions)."""
    return _material(seed, f"operator-key/{index}")


def account_of(secret: bytes) -> OperatorAddress:
    """The bech32 ``exo1…`` account of a secp256k1 key, as cosmpy derives it (ripemd160(sha256(key)))."""
    wallet = LocalWallet(PrivateKey(secret), prefix=OPERATOR_PREFIX)
    return OperatorAddress.parse(str(wallet.address()))


def operator_account(seed: str, index: int) -> OperatorAddress:
    """The ``index``-th dev operator account (bech32 ``exo1…`` of :func:`operator_secret`)."""
    return account_of(operator_secret(seed, index))


def operator_name(index: int) -> str:
    """The dev operator's display name (upstream ``operator_meta_info``)."""
    return f"operator-{index}"


def avs_owner_secret(avs_hex: str) -> bytes:
    """The secp256k1 key of the dev owner account of the AVS at ``avs_hex`` (it signs the registration)."""
    return hashlib.sha256(f"exorelay-scenario/avs-owner/{avs_hex.lower()}".encode()).digest()


def operator_reward_address(seed: str, index: int) -> Address:
    return Address(_material(seed, f"operator-reward/{index}")[:20])


def operator_bls_secret(seed: str, index: int, avs_hex: str) -> bls.SecretKey:
    """Operator ``index``'s BLS key for one AVS (upstream: one key per operator and AVS)."""
    return bls.secret_key_from_seed(_material(seed, f"operator-bls/{index}/{avs_hex.lower()}"))


def staker_address(seed: str, index: int) -> Address:
    return Address(_material(seed, f"staker/{index}")[:20])


def hex0x(data: bytes) -> str:
    return "0x" + data.hex()


# ------------------------------------------------------------------------ message builders


def legacy_dec(text: str) -> str:
    """A decimal string (e.g. "0.10") in ``LegacyDec``'s protobuf form ("100000000000000000")."""
    return str(parse_fixed(text, LEGACY_DEC_DECIMALS, "decimal"))


def register_operator_msg(
    account: OperatorAddress,
    reward_address: Address,
    commission: str,
    name: str = "",
    lz_chain_id: int = DEVNET_LZ_CHAIN_ID,
) -> operator_tx.RegisterOperatorReq:
    """Upstream ``RegisterOperatorReq``: signed by the operator; ``name`` is ``operator_meta_info``,
    ``reward_address`` its client-chain earning address, ``commission`` a decimal string."""
    info = operator_tx.OperatorInfo(earnings_addr=str(account), operator_meta_info=name)
    info.client_chain_earnings_addr.earning_info_list.add(
        lz_client_chain_id=lz_chain_id, client_chain_earning_addr=hex0x(reward_address)
    )
    rates = info.commission.commission_rates
    rates.rate = legacy_dec(commission)
    rates.max_rate = rates.max_change_rate = legacy_dec("1")
    return operator_tx.RegisterOperatorReq(from_address=str(account), info=info)


def opt_in_msg(
    chain_id: str, account: OperatorAddress, avs_hex: str, secret: bls.SecretKey
) -> operator_tx.OptIntoAVSReq:
    """Upstream ``OptIntoAVSReq`` with the BLS key and the Exocore key-registration proof of
    possession (upstream BLSMessageToSign)."""
    pop = bls.sign(secret, bls.exocore_pop_message(ChainId.parse(chain_id).without_revision, str(account)))
    return operator_tx.OptIntoAVSReq(
        from_address=str(account),
        avs_address=avs_hex.lower(),
        bls_pubkey=bls.public_key_of(secret).compressed,
        pop_signature=pop.compressed,
    )


def opt_out_msg(account: OperatorAddress, avs_hex: str) -> operator_tx.OptOutOfAVSReq:
    return operator_tx.OptOutOfAVSReq(from_address=str(account), avs_address=avs_hex.lower())


def set_price_msg(asset_id: str, price: str, decimals: int) -> tx.MsgSetPrice:
    return tx.MsgSetPrice(asset_id=asset_id, price=price, decimals=decimals)


def delegate_msg(
    staker: Address, asset_id: str, account: OperatorAddress, amount: int
) -> delegation_tx.MsgDelegation:
    return delegation_msg(staker=hex0x(staker), operator=str(account), asset_id=asset_id, amount=amount)


@dataclass(frozen=True)
class AvsRules:
    """What an AVS registers: accepted assets, election rules, thresholds and reward tokens."""

    address: str
    name: str
    asset_ids: tuple[str, ...]
    reward_tokens: tuple[tuple[str, int], ...]
    """(token address, funding: 1 MINT / 2 VAULT)."""
    committee_size: int = 4
    min_self_delegation_usd: str = "0"
    min_operator_stake_usd: str = "0"
    claim_threshold: tuple[int, int] = (2, 3)
    slash_threshold: tuple[int, int] = (2, 3)
    slash_proportion: str = "0.05"
    token_decimals: int = 18
    slash_verifiers: tuple[tuple[str, str], ...] = ()
    """(kind, proportion) of each slashing verifier the AVS registers (empty: the chain's default)."""
    payout_mode: PayoutMode = PayoutMode.PER_DISTRIBUTION

    @property
    def owner_secret(self) -> bytes:
        return avs_owner_secret(self.address)

    @property
    def owner(self) -> OperatorAddress:
        """The AVS owner account that signs the registration (listed in ``avs_owner_addresses``)."""
        return account_of(self.owner_secret)

    def msg(self) -> avs_tx.RegisterAVSReq:
        owner = str(self.owner)
        return avs_tx.RegisterAVSReq(
            from_address=owner,
            info=avs_pb.AVSInfo(
                name=self.name,
                avs_address=self.address.lower(),
                avs_owner_addresses=[owner],
                asset_ids=list(self.asset_ids),
                epoch_identifier="block",
                threshold_numerator=self.claim_threshold[0],
                threshold_denominator=self.claim_threshold[1],
                reward_tokens=[
                    avs_pb.RewardToken(token=token.lower(), funding=funding, decimals=self.token_decimals)  # type: ignore[arg-type]
                    for token, funding in self.reward_tokens
                ],
                min_self_delegation_usd=self.min_self_delegation_usd,
                min_operator_stake_usd=self.min_operator_stake_usd,
                committee_size=self.committee_size,
                slash_threshold_numerator=self.slash_threshold[0],
                slash_threshold_denominator=self.slash_threshold[1],
                slash_proportion=self.slash_proportion,
                slash_verifiers=[
                    avs_pb.SlashVerifier(kind=kind, slash_proportion=share)
                    for kind, share in self.slash_verifiers
                ],
                payout_mode=int(self.payout_mode),  # type: ignore[arg-type]
            ),
        )


@dataclass(frozen=True)
class CommitteeView:
    """The parts of a committee a signer needs: member keys in bitmap order."""

    avs: str
    epoch: int
    pubkeys: tuple[bytes, ...]
    powers: tuple[int, ...]
    operators: tuple[str, ...]

    @classmethod
    def from_proto(cls, committee: avs_pb.Committee) -> CommitteeView:
        return cls(
            committee.avs_address,
            int(committee.epoch),
            tuple(bytes(m.bls_pubkey) for m in committee.members),
            tuple(int(m.power) for m in committee.members),
            tuple(m.operator for m in committee.members),
        )


def aggregate_over(
    committee: CommitteeView,
    secrets: dict[bytes, bls.SecretKey],
    signer_indices: Iterable[int],
    digest: bytes,
) -> tuple[bytes, bytes]:
    """(signer bitmap, aggregate signature) of the chosen members over ``digest``."""
    indices = sorted(set(signer_indices))
    bitmap = SignerBitmap.from_indices(indices, len(committee.pubkeys))
    signatures = [bls.sign(secrets[committee.pubkeys[i]], digest) for i in indices]
    return bitmap.encode(), bls.aggregate_signatures(signatures).compressed


def reward_claim_msg(
    *,
    chain_id: str,
    committee: CommitteeView,
    secrets: dict[bytes, bls.SecretKey],
    signer_indices: Iterable[int],
    token: str,
    amount: int,
    tasks_root: bytes = bytes(32),
    funding: int = 0,
) -> avs_tx.MsgSubmitRewardClaim:
    claim = RewardClaim(
        ChainId.parse(chain_id).hash,
        Address(bytes.fromhex(committee.avs[2:])),
        committee.epoch,
        Address(bytes.fromhex(token.removeprefix("0x"))),
        Amount(amount),
        Hash32(tasks_root),
    )
    bitmap, signature = aggregate_over(committee, secrets, signer_indices, claim.claim_id)
    return avs_tx.MsgSubmitRewardClaim(
        avs_address=committee.avs,
        epoch=committee.epoch,
        token=token.lower(),
        funding=funding,  # type: ignore[arg-type]
        total_amount=str(amount),
        signer_bitmap=bitmap,
        aggregate_signature=signature,
        tasks_root=tasks_root,
    )


def slash_request_msg(
    *,
    chain_id: str,
    committee: CommitteeView,
    secrets: dict[bytes, bls.SecretKey],
    signer_indices: Iterable[int],
    operator: OperatorAddress,
    proportion: int,
    freeze: bool = True,
    evidence: bytes | None = None,
    evidence_hash: bytes | None = None,
) -> operator_tx.MsgSubmitSlashRequest:
    """A committee slash request carrying ``evidence`` (default: the committee's attestation
    ``ATTESTED_STATEMENT`` for the epoch) and committing to ``evidence_hash`` (default: its keccak)."""
    chain = ChainId.parse(chain_id).hash
    avs = Address(bytes.fromhex(committee.avs[2:]))
    if evidence is None:
        evidence = Attestation(chain, avs, operator.address, committee.epoch, ATTESTED_STATEMENT).encode()
    if evidence_hash is None:
        evidence_hash = bytes(keccak(evidence))
    request = SlashRequest(
        chain, avs, committee.epoch, operator.address, proportion, freeze, Hash32(evidence_hash)
    )
    bitmap, signature = aggregate_over(committee, secrets, signer_indices, request.slash_id)
    return operator_tx.MsgSubmitSlashRequest(
        avs_address=committee.avs,
        epoch=committee.epoch,
        operator=str(operator),
        slash_proportion=format_fixed(proportion, PROPORTION_DECIMALS),
        freeze=freeze,
        signer_bitmap=bitmap,
        aggregate_signature=signature,
        evidence_hash=evidence_hash,
        evidence=evidence,
    )


ATTESTED_STATEMENT: Final = b"devnet scenario: the committee found this operator at fault"
"""The statement of the attestation a scenario slash request carries by default."""


def wrong_result_msg(
    *,
    chain_id: str,
    avs_hex: str,
    operator: OperatorAddress,
    secret: bls.SecretKey,
    task_id: int,
    task_input: int,
    result: int,
) -> operator_tx.MsgSubmitWrongResultEvidence:
    """The operator's signed answer ``result`` to the squaring task ``task_input`` (a fault unless
    ``result == task_input ** 2``)."""
    response = SquaringResponse(task_id, task_input, result)
    signature = bls.sign(secret, task_response_digest(response.encode())).compressed
    evidence = SignedWrongResult(
        ChainId.parse(chain_id).hash,
        Address(bytes.fromhex(avs_hex[2:])),
        operator.address,
        response,
        signature,
    )
    return operator_tx.MsgSubmitWrongResultEvidence(evidence=evidence.encode())


def task_response(task_id: int, answer: int) -> bytes:
    """hello-world's ``abi.encode(TaskResponse{uint64 taskID, uint64 numberSquared})``."""
    return task_id.to_bytes(32, "big") + answer.to_bytes(32, "big")


def equivocation_msg(
    *,
    chain_id: str,
    avs_hex: str,
    operator: OperatorAddress,
    secret: bls.SecretKey,
    task_id: int,
    answers: tuple[int, int] = (1, 2),
) -> operator_tx.MsgSubmitEquivocationEvidence:
    """Two conflicting responses to one task, both signed by the operator's AVS key."""
    evidence = EquivocationEvidence(
        ChainId.parse(chain_id).hash,
        Address(bytes.fromhex(avs_hex[2:])),
        operator.address,
        task_id,
        task_response(task_id, answers[0]),
        task_response(task_id, answers[1]),
    )
    digest_a, digest_b = evidence.digests
    return operator_tx.MsgSubmitEquivocationEvidence(
        avs_address=avs_hex.lower(),
        operator=str(operator),
        task_id=task_id,
        response_a=evidence.response_a,
        signature_a=bls.sign(secret, digest_a).compressed,
        response_b=evidence.response_b,
        signature_b=bls.sign(secret, digest_b).compressed,
    )


def validator_msg(consensus_pubkey: bytes, secret: bls.SecretKey, power: int) -> tx.MsgSetValidatorPower:
    """Add (or re-weight) a validator the devnet signs for, with its IETF proof of possession."""
    return tx.MsgSetValidatorPower(
        consensus_pubkey=consensus_pubkey,
        bls_pubkey=bls.public_key_of(secret).compressed,
        power=str(power),
        pop_signature=bls.pop_prove(secret).compressed,
        bls_secret_key=secret.secret,
    )


# ------------------------------------------------------------------------ the gRPC client


class ScenarioClient:
    """Sends exocore messages and queries over one gRPC channel (as an external client would).

    With a ``submitter_key`` (a funded account's secp256k1 secret):

    - operator and AVS registration and opt-in/out are upstream's messages in Cosmos transactions
      signed by the operator (or AVS owner) itself, built and signed by cosmpy and sent through
      ``cosmos.tx.v1beta1.Service/BroadcastTx``; the submitter first sends each such account the hua
      its fees need (``MsgSend``), as anyone onboarding onto a chain would be funded;
    - with ``sign_reports`` (the devnet produces blocks on its own), the messages any account may
      send (delegation reports, reward claims, slash requests, equivocation evidence) go signed by the
      submitter too; otherwise they use the devnet Msg service, as do the devnet-only RPCs.

    :meth:`send_tx` returns once the transaction is committed; when the devnet does not produce blocks
    on its own (``produces_blocks`` false) it commits one with ``AdvanceBlocks``.
    """

    def __init__(
        self,
        target: str,
        chain_id: str,
        *,
        seed: str = DEFAULT_SCENARIO_SEED,
        submitter_key: bytes | None = None,
        keystore_dir: Path | None = None,
        produces_blocks: bool = True,
        sign_reports: bool | None = None,
        l1: L1Staker | None = None,
    ) -> None:
        self.chain_id = chain_id
        # With an L1 (a devnet stack's anvil), stakes are RestakingVault deposits that the devnet's
        # follower turns into Exocore stake; without one (a bare node in tests and benchmarks, no
        # vault to hold custody), they are devnet-only MsgDelegation transactions.
        self.l1 = l1
        # With a directory, each operator's per-AVS key lives in an EIP-2335 keystore there
        # (devnet.operator_keys): one it brought is used, else the seed's dev key is written there.
        self.keystore_dir = keystore_dir
        self.seed = seed
        self.produces_blocks = produces_blocks
        self.channel = grpc.insecure_channel(target)
        self.submitter_key = submitter_key
        # One signer per account (the submitter, each operator, each AVS owner), on this channel's
        # endpoint: the production transaction builder, as the aggregator uses it.
        self._target = target
        self._senders: dict[bytes, CosmosTxSender] = {}
        self.sign_reports = (
            submitter_key is not None and produces_blocks if sign_reports is None else sign_reports
        )
        self.avs = avs_grpc.QueryStub(self.channel)
        self.fee = fee_grpc.QueryStub(self.channel)
        self.relay = relay_grpc.QueryStub(self.channel)
        self.operators = operator_grpc.QueryStub(self.channel)
        # Operator BLS secrets by compressed public key (what the client signs with).
        self.secrets: dict[bytes, bls.SecretKey] = {}
        # Accounts this client already funded (one MsgSend each).
        self._funded: set[str] = set()

    def close(self) -> None:
        self.channel.close()
        for sender in self._senders.values():
            sender.close()

    def __enter__(self) -> ScenarioClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @classmethod
    def for_manifest(
        cls,
        exocore: Mapping[str, Any],
        *,
        seed: str = DEFAULT_SCENARIO_SEED,
        keystore_dir: Path | None = None,
        manifest_keystores: bool = True,
        sign_reports: bool | None = None,
        l1: Mapping[str, Any] | None = None,
    ) -> ScenarioClient:
        """A client of the devnet a manifest describes; it signs transactions with the manifest's
        ``relayer`` account (reports only when the devnet produces blocks by itself, unless
        ``sign_reports`` says otherwise), and keeps operators' keys as keystores in the manifest's
        ``operator_keys_dir`` (unless ``keystore_dir`` says otherwise, or ``manifest_keystores`` is
        false: then the seed's dev keys are used as they are). With the manifest's ``l1`` section it
        stakes through the L1 vault."""
        if keystore_dir is None and manifest_keystores and exocore.get("operator_keys_dir"):
            keystore_dir = Path(exocore["operator_keys_dir"])
        account = exocore.get("accounts", {}).get(SUBMITTER_ACCOUNT)
        key = bytes.fromhex(account["secret_key"]) if account else None
        return cls(
            exocore["grpc_target"],
            exocore["chain_id"],
            seed=seed,
            submitter_key=key,
            keystore_dir=keystore_dir,
            produces_blocks=bool(exocore.get("block_time_ms")),
            sign_reports=sign_reports,
            l1=None if l1 is None else L1Staker.for_manifest(dict(l1)),
        )

    def send(self, message: Any) -> Any:
        """Apply ``message``: a devnet knob through ``exocore.devnet.v1.Msg``; a module message in a
        transaction the submitter signs when reports are signed, else through the devnet's gRPC
        rendering of its module's ``Msg`` service."""
        method = msg_method_of(message)
        if method is None:
            raise ScenarioError(f"{type(message).DESCRIPTOR.full_name} is not a Msg service method")
        service = method.containing_service.full_name
        if self.sign_reports and service != KNOB_SERVICE:
            return self.send_tx(message)
        call = self.channel.unary_unary(
            f"/{service}/{method.name}",
            request_serializer=type(message).SerializeToString,
            response_deserializer=response_type_of(message).FromString,
        )
        return call(message, timeout=GRPC_TIMEOUT_S)

    def _sender(self, secret: bytes | None) -> CosmosTxSender:
        key = self.submitter_key if secret is None else secret
        if key is None:
            raise ScenarioError("this client has no submitter key to fund and sign transactions with")
        sender = self._senders.get(key)
        if sender is None:
            sender = CosmosTxSender(
                self._target,
                self.chain_id,
                key,
                gas_limit=SUBMIT_GAS_LIMIT,
                gas_price_hua=SUBMIT_GAS_PRICE_HUA,
                timeout_s=GRPC_TIMEOUT_S,
            )
            self._senders[key] = sender
        return sender

    def fund(self, account: OperatorAddress) -> None:
        """Send ``account`` :data:`ACTOR_FUNDING_HUA` from the submitter (once per client)."""
        submitter = self._sender(None)
        if str(account) in self._funded:
            return
        amount = coin_pb2.Coin(denom="hua", amount=str(ACTOR_FUNDING_HUA))
        self.send_tx(
            bank_tx.MsgSend(from_address=submitter.address, to_address=str(account), amount=[amount])
        )
        self._funded.add(str(account))

    def send_as(self, secret: bytes, message: Any) -> Any:
        """Fund the account of ``secret``, then send ``message`` in a transaction it signs."""
        self.fund(OperatorAddress.parse(self._sender(secret).address))
        return self.send_tx(message, secret)

    def send_tx(self, message: Any, secret: bytes | None = None) -> Any:
        """Sign ``message`` into a transaction (by the account of ``secret``, default the submitter;
        its address becomes the message's ``from_address``), broadcast it (SYNC), wait until it is
        committed and return the message's response from the transaction's ``TxMsgData``."""
        sender = self._sender(secret)
        try:
            number, sequence = sender.account()
            signed = sender.sign(message, account_number=number, sequence=sequence)
            checked = sender.broadcast(signed.tx_bytes)
            if not checked.accepted:
                raise ScenarioError(
                    f"transaction refused by CheckTx (code {checked.code}): {checked.raw_log}"
                )
            if not self.produces_blocks:
                self.advance(1)
            delivered = sender.wait_for_tx(signed.tx_hash)
        except CosmosTxError as exc:
            raise ScenarioError(str(exc)) from exc
        if not delivered.succeeded:
            raise ScenarioError(
                f"transaction {signed.tx_hash} failed (code {delivered.code}): {delivered.raw_log}"
            )
        return delivered.response(response_type_of(message))

    def committee(self, avs_hex: str, epoch: int = 0) -> CommitteeView:
        response = self.avs.QueryCommittee(
            avs_query.QueryCommitteeRequest(avs_address=avs_hex.lower(), epoch=epoch), timeout=GRPC_TIMEOUT_S
        )
        return CommitteeView.from_proto(response.committee)

    def wait_for_committee(
        self, avs_hex: str, epoch: int, timeout_s: float = COMMITTEE_WAIT_S
    ) -> CommitteeView:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self.committee(avs_hex, epoch)
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.NOT_FOUND or time.monotonic() > deadline:
                    raise
            time.sleep(POLL_INTERVAL_S)

    def register_operator(self, index: int, commission: str, name: str | None = None) -> OperatorAddress:
        """Register dev operator ``index`` (signed by its own key) under ``name`` (default
        :func:`operator_name`)."""
        account = operator_account(self.seed, index)
        msg = register_operator_msg(
            account,
            operator_reward_address(self.seed, index),
            commission,
            operator_name(index) if name is None else name,
        )
        self.send_as(operator_secret(self.seed, index), msg)
        return account

    def register_operators(self, count: int, commissions: Sequence[str]) -> list[OperatorAddress]:
        return [
            self.register_operator(index, commissions[index % len(commissions)]) for index in range(count)
        ]

    def register_avs(self, rules: AvsRules) -> None:
        """Register an AVS in a transaction its owner account signs."""
        self.send_as(rules.owner_secret, rules.msg())

    def opt_in(self, index: int, avs_hex: str) -> None:
        secret = operator_bls_secret(self.seed, index, avs_hex)
        if self.keystore_dir is not None:
            account = str(operator_account(self.seed, index))
            secret = operator_keystore(self.keystore_dir, account, avs_hex, secret).secret
        self.secrets[bls.public_key_of(secret).compressed] = secret
        msg = opt_in_msg(self.chain_id, operator_account(self.seed, index), avs_hex, secret)
        self.send_as(operator_secret(self.seed, index), msg)

    def opt_out(self, index: int, avs_hex: str) -> None:
        self.send_as(
            operator_secret(self.seed, index), opt_out_msg(operator_account(self.seed, index), avs_hex)
        )

    def claim(
        self,
        committee: CommitteeView,
        signer_indices: Iterable[int],
        token: str,
        amount: int,
        tasks_root: bytes = bytes(32),
    ) -> avs_tx.MsgSubmitRewardClaimResponse:
        msg = reward_claim_msg(
            chain_id=self.chain_id,
            committee=committee,
            secrets=self.secrets,
            signer_indices=signer_indices,
            token=token,
            amount=amount,
            tasks_root=tasks_root,
        )
        response: avs_tx.MsgSubmitRewardClaimResponse = self.send(msg)
        return response

    def slash(
        self,
        committee: CommitteeView,
        operator_index: int,
        proportion: int,
        *,
        freeze: bool = True,
    ) -> operator_tx.MsgSubmitSlashRequestResponse:
        """A slash request against committee member ``operator_index``, signed by every member."""
        operator = OperatorAddress.parse(committee.operators[operator_index])
        msg = slash_request_msg(
            chain_id=self.chain_id,
            committee=committee,
            secrets=self.secrets,
            signer_indices=range(len(committee.pubkeys)),
            operator=operator,
            proportion=proportion,
            freeze=freeze,
        )
        response: operator_tx.MsgSubmitSlashRequestResponse = self.send(msg)
        return response

    def delegate_many(self, stakes: Sequence[tuple[Address, str, OperatorAddress, int]]) -> None:
        """Stake ``(staker, asset id, operator, amount)`` each: through the L1 vault when the client
        has an L1 (returns once Exocore shows every one of them applied), else as devnet-only
        ``MsgDelegation`` transactions."""
        if self.l1 is None:
            for staker, asset, operator, amount in stakes:
                self.send(delegate_msg(staker, asset, operator, amount))
            return
        if not stakes:
            return
        last_request = self.l1.delegate(
            [
                L1Stake(staker, operator.address, AssetId.parse(asset).token, amount)
                for staker, asset, operator, amount in stakes
            ]
        )
        # Exocore applies each L1 request id once and a delegation always (staked or refunded), so
        # the count reaching the vault's last id means all of these are applied. (A withdrawal
        # request Exocore refused earlier would hold the count back: the scenario sends none.)
        deadline = time.monotonic() + L1_STAKE_WAIT_S
        while self.asset_custody(stakes[0][1]).l1_requests_applied < last_request:
            if time.monotonic() > deadline:
                raise ScenarioError(
                    f"Exocore did not apply L1 requests up to {last_request} in {L1_STAKE_WAIT_S} s"
                )
            time.sleep(POLL_INTERVAL_S)

    def asset_custody(self, asset_id: str) -> operator_query.QueryAssetCustodyResponse:
        """Exocore's totals of ``asset_id`` (delegated, unbonding, approved, L1 requests applied)."""
        response: operator_query.QueryAssetCustodyResponse = self.operators.QueryAssetCustody(
            operator_query.QueryAssetCustodyRequest(asset_id=asset_id), timeout=GRPC_TIMEOUT_S
        )
        return response

    def advance(self, count: int) -> int:
        return int(self.send(tx.MsgAdvanceBlocks(count=count)).height)

    def distribution_for(self, claim_id: bytes) -> Any:
        return self.fee.Distribution(
            fee_query.QueryDistributionRequest(claim_id=claim_id), timeout=GRPC_TIMEOUT_S
        ).distribution


@dataclass
class ScenarioReport:
    operators: list[str] = field(default_factory=list)
    stakers: int = 0
    avss: list[str] = field(default_factory=list)
    committees: dict[str, list[str]] = field(default_factory=dict)
    claims: list[dict[str, Any]] = field(default_factory=list)


def scenario_asset_ids(weth: str, second_token: str, lz_chain_id: int) -> tuple[str, str]:
    """The two restaked assets of the standard scenario (WETH and a second client-chain token)."""
    return (
        str(AssetId(Address(bytes.fromhex(weth.removeprefix("0x"))), lz_chain_id)),
        str(AssetId(Address(bytes.fromhex(second_token.removeprefix("0x"))), lz_chain_id)),
    )


def run_scenario(
    client: ScenarioClient,
    *,
    operators: int,
    stakers: int,
    weth: str,
    second_token: str,
    reward_token: str,
    lz_chain_id: int,
    epoch_blocks: int,
    signer_share: tuple[int, int] = (3, 4),
    payout_modes: tuple[PayoutMode, PayoutMode] = (PayoutMode.PER_DISTRIBUTION, PayoutMode.PER_DISTRIBUTION),
) -> ScenarioReport:
    """Standard scenario: N operators, M stakers over two assets, two AVSs with different rules, one
    claim per AVS signed by the first ``signer_share`` of its committee (by bitmap order).
    ``payout_modes``: AVS A's and AVS B's (cumulative needs a chain with ``cumulative_every``)."""
    report = ScenarioReport()
    weth_asset, second_asset = scenario_asset_ids(weth, second_token, lz_chain_id)
    client.send(set_price_msg(weth_asset, "3000", 18))
    client.send(set_price_msg(second_asset, "1.5", 18))
    accounts = client.register_operators(operators, ["0.10", "0.05", "0"])
    report.operators = [str(a) for a in accounts]
    avs_a = AvsRules(
        address=hex0x(keccak(b"scenario-avs-a")[:20]),
        name="oracle-avs",
        asset_ids=(weth_asset, second_asset),
        reward_tokens=((reward_token, 1),),
        committee_size=max(1, operators - 1),
        payout_mode=payout_modes[0],
    )
    avs_b = AvsRules(
        address=hex0x(keccak(b"scenario-avs-b")[:20]),
        name="bridge-avs",
        asset_ids=(weth_asset,),
        reward_tokens=((weth, 2),),
        committee_size=max(1, operators // 2),
        claim_threshold=(9, 10),
        min_operator_stake_usd="1000",
        payout_mode=payout_modes[1],
    )
    for rules in (avs_a, avs_b):
        client.register_avs(rules)
        report.avss.append(rules.address)
    for index in range(operators):
        for rules in (avs_a, avs_b):
            client.opt_in(index, rules.address)
    stakes = [
        (
            staker_address(client.seed, index),
            weth_asset if index % 2 == 0 else second_asset,
            accounts[index % operators],
            (index % 7 + 1) * 10**18,
        )
        for index in range(stakers)
    ]
    # Operators self-delegate so a minimum self-delegation rule would pass.
    stakes += [
        (account.address, weth_asset, account, (index + 1) * 10**17) for index, account in enumerate(accounts)
    ]
    client.delegate_many(stakes)
    height = client.advance(1)
    next_epoch = (height - 1) // epoch_blocks + 2
    client.advance(epoch_blocks)
    for rules in (avs_a, avs_b):
        committee = client.wait_for_committee(rules.address, next_epoch)
        report.committees[rules.address] = list(committee.operators)
        signers = range(max(1, len(committee.pubkeys) * signer_share[0] // signer_share[1] + 1))
        token = rules.reward_tokens[0][0]
        response = client.claim(committee, [i for i in signers if i < len(committee.pubkeys)], token, 10**21)
        report.claims.append(
            {"avs": rules.address, "claim_id": hex0x(response.claim_id), "height": response.height}
        )
    report.stakers = stakers
    client.advance(1)
    return report


def run_manifest_scenario(
    client: ScenarioClient,
    manifest: Mapping[str, Any],
    *,
    operators: int,
    stakers: int,
    signer_share: tuple[int, int] = (3, 4),
    payout_modes: tuple[PayoutMode, PayoutMode] = (PayoutMode.PER_DISTRIBUTION, PayoutMode.PER_DISTRIBUTION),
) -> ScenarioReport:
    """:func:`run_scenario` over a devnet manifest's deployed tokens and Exocore parameters (WETH and
    the mintable reward token as the two assets; the reward token pays AVS A). Every stake is a
    RestakingVault deposit on the manifest's L1 (the client gets an L1 staker if it has none)."""
    contracts, exocore = manifest["l1"]["contracts"], manifest["exocore"]
    if client.l1 is None:
        client.l1 = L1Staker.for_manifest(dict(manifest["l1"]))
    return run_scenario(
        client,
        operators=operators,
        stakers=stakers,
        weth=contracts["weth"],
        second_token=contracts["reward_token"],
        reward_token=contracts["reward_token"],
        lz_chain_id=int(exocore["lz_chain_id"]),
        epoch_blocks=int(exocore["epoch_blocks"]),
        signer_share=signer_share,
        payout_modes=payout_modes,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the standard scenario against a running devnet.")
    parser.add_argument("--manifest", type=Path, default=Path(".exorelay/devnet.json"))
    parser.add_argument("--operators", type=int, default=5)
    parser.add_argument("--stakers", type=int, default=20)
    args = parser.parse_args(argv)
    manifest = json.loads(args.manifest.read_text())
    exocore, l1 = manifest["exocore"], manifest["l1"]
    keystore_dir = Path(exocore.get("operator_keys_dir") or args.manifest.parent / OPERATOR_KEYS_DIR)
    with ScenarioClient.for_manifest(exocore, keystore_dir=keystore_dir, l1=l1) as client:
        report = run_scenario(
            client,
            operators=args.operators,
            stakers=args.stakers,
            weth=l1["contracts"]["weth"],
            second_token=l1["contracts"]["reward_token"],
            reward_token=l1["contracts"]["reward_token"],
            lz_chain_id=int(exocore["lz_chain_id"]),
            epoch_blocks=int(exocore["epoch_blocks"]),
        )
    json.dump(report.__dict__, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
