"""Relay packets and the validator sets that sign them (pure; BLS signing is deterministic).

- Nonces: one strictly increasing sequence for every packet kind (the gateway consumes every nonce,
  VALSET_UPDATE included, in one bitmap), starting at ``FIRST_PACKET_NONCE``.
- Signing: each member of the *current* valset signs the packet digest with its BLS key when the
  packet is created; the signatures are stored per packet in valset order.
- Destinations: every packet is addressed to one client chain (its digest binds the chain id and
  gateway). VALSET_UPDATEs go to every client chain, so every gateway follows the signing set;
  distributions, slashes and withdrawal approvals go to the chain of the assets they concern (the
  devnet's LayerZero chain id of a client chain is its EVM chain id); anything else goes to the first
  chain. Nonces stay one sequence across chains.
- Valset rotation: validator power changes (``MsgSetValidatorPower``) edit the *target* set at once;
  at the next block's begin-block, if the target differs from the current set (keys, powers or
  order), a VALSET_UPDATE packet per client chain (``newValsetNonce = current + 1``) is created and
  signed by the *current* set, then the target becomes the current set. Later packets carry the new
  valset nonce.
- Fault knobs (per valset index, applied when a packet is signed): *silent* validators do not sign;
  *wrong* validators sign ``keccak256(WRONG_SIGNATURE_TAG ‖ digest)`` instead (a valid G2 point that
  fails verification for the packet); ``signature_delay_blocks`` hides the signatures of the *late*
  validators (all of them when ``late_validators`` is empty) until that many blocks after the
  packet's block.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from eth_utils.crypto import keccak

from devnet.chain.model import FaultKnobs, PacketRecord, SignatureSlot, ValidatorEntry, ValsetRecord
from devnet.chain.params import FIRST_PACKET_NONCE, GENESIS_VALSET_NONCE
from relayer.protocol import bls
from relayer.protocol.packets import ClientChain, Packet, Payload, ValsetUpdatePayload
from relayer.protocol.types import Address, Hash32, Power

WRONG_SIGNATURE_TAG: Final = b"EXORELAY_DEVNET_WRONG_SIGNATURE"


class RelayState:
    """Valsets, packets, their signatures and the fault knobs."""

    def __init__(
        self,
        *,
        exocore_chain: Hash32,
        l1_chain_id: int,
        gateway: Address,
        genesis_validators: Iterable[ValidatorEntry],
        initial_height: int,
        client_chains: Iterable[ClientChain] = (),
    ) -> None:
        self.exocore_chain = exocore_chain
        self.l1_chain_id = l1_chain_id
        self.gateway = gateway
        self.client_chains: tuple[ClientChain, ...] = (ClientChain(l1_chain_id, gateway), *client_chains)
        """Every chain packets go to, the first (``l1_chain_id`` / ``gateway``) first."""
        members = tuple(genesis_validators)
        self.validators: dict[bytes, ValidatorEntry] = {entry.consensus_pubkey: entry for entry in members}
        genesis = ValsetRecord(GENESIS_VALSET_NONCE, members, initial_height)
        self.valsets: dict[int, ValsetRecord] = {genesis.nonce: genesis}
        self.current_valset_nonce = genesis.nonce
        self.packets: dict[int, PacketRecord] = {}
        self.next_nonce = FIRST_PACKET_NONCE
        self.knobs = FaultKnobs()
        self._secrets: dict[bytes, bls.SecretKey] = {}

    @property
    def current_valset(self) -> ValsetRecord:
        return self.valsets[self.current_valset_nonce]

    def target_members(self) -> tuple[ValidatorEntry, ...]:
        return tuple(self.validators.values())

    def _secret(self, raw: bytes) -> bls.SecretKey:
        secret = self._secrets.get(raw)
        if secret is None:
            secret = self._secrets[raw] = bls.SecretKey(raw)
        return secret

    def _sign(self, valset: ValsetRecord, digest: Hash32, height: int) -> tuple[SignatureSlot, ...]:
        knobs = self.knobs
        slots = []
        for index, member in enumerate(valset.members):
            late = not knobs.late_validators or index in knobs.late_validators
            visible = height + knobs.signature_delay_blocks if late else height
            signature: bytes | None = None
            if member.bls_secret is not None and index not in knobs.silent_validators:
                message = digest
                if index in knobs.wrong_signature_validators:
                    message = Hash32(keccak(WRONG_SIGNATURE_TAG + digest))
                signature = bls.sign(self._secret(member.bls_secret), message).compressed
            slots.append(SignatureSlot(member.bls_pubkey, signature, visible))
        return tuple(slots)

    def chain_of(self, lz_chain_id: int) -> ClientChain:
        """The client chain of an asset id's chain; an asset of an unlisted chain is the first chain's
        (a one-chain devnet keeps every packet where it always went)."""
        for chain in self.client_chains:
            if chain.l1_chain_id == lz_chain_id:
                return chain
        return self.client_chains[0]

    def create_packet(self, payload: Payload, height: int, to: ClientChain | None = None) -> PacketRecord:
        """Create, sign (with the current set) and store the next packet, for ``to`` (default: the
        first client chain)."""
        valset = self.current_valset
        destination = to or self.client_chains[0]
        packet = Packet(
            exocore_chain=self.exocore_chain,
            l1_chain_id=destination.l1_chain_id,
            gateway=destination.gateway,
            valset_nonce=valset.nonce,
            nonce=self.next_nonce,
            payload=payload,
        )
        record = PacketRecord(packet, height, self._sign(valset, packet.digest, height))
        self.packets[packet.nonce] = record
        self.next_nonce += 1
        return record

    def target_differs(self) -> bool:
        current = [(m.bls_pubkey, m.power) for m in self.current_valset.members]
        return current != [(m.bls_pubkey, m.power) for m in self.validators.values()]

    def rotate(self, height: int) -> tuple[tuple[PacketRecord, ...], ValsetRecord] | None:
        """On a target change: the VALSET_UPDATE packets, one per client chain in order (signed by the
        outgoing set), and the new set."""
        if not self.target_differs():
            return None
        members = self.target_members()
        new_nonce = self.current_valset_nonce + 1
        payload = ValsetUpdatePayload(
            new_valset_nonce=new_nonce,
            pubkeys=tuple(bls.parse_public_key(m.bls_pubkey).to_eip2537() for m in members),
            powers=tuple(Power(m.power) for m in members),
        )
        records = tuple(self.create_packet(payload, height, chain) for chain in self.client_chains)
        valset = ValsetRecord(new_nonce, members, height)
        self.valsets[new_nonce] = valset
        self.current_valset_nonce = new_nonce
        return records, valset


def genesis_eip2537_keys(members: Iterable[ValidatorEntry]) -> tuple[bytes, ...]:
    """The genesis valset's keys in the form the gateway constructor takes."""
    return tuple(bls.parse_public_key(member.bls_pubkey).to_eip2537() for member in members)
