"""Slashing protection: an operator never signs two different digests in one signing slot.

The idea is Ethereum validator clients' (EIP-3076); the unit here is the **signing slot** of a
reward claim or slash request (``relayer.protocol.claims``: ``signing_slot`` = (domain, Exocore
chain, AVS, epoch, token or slashed operator)). Rules, per BLS public key:

- one digest per slot, ever. Signing the digest already recorded for the slot again is allowed
  (BLS signatures are deterministic: it is the same signature, so re-posting after a crash or to a
  second aggregator is safe); any other digest in that slot is refused.
- the check and the record are ONE database transaction (:meth:`SlashingProtection.authorize`),
  committed before the signature is computed, let alone leaves the process. Two threads or
  processes racing over one slot with different digests: the database's primary key on
  ``(pubkey, slot)`` lets exactly one insert win; the loser reads the winner's digest and is
  refused. A crash after the commit and before the post loses nothing: the next poll signs the same
  digest again.
- the database belongs to one Exocore chain (``exocoreChain``, the hash of the chain id without its
  revision, which every digest binds): opening it for another chain is refused.

The database is the operator's own (SQLite file or PostgreSQL), not the relayer's lifecycle
database: the schema is small, created here (``metadata.create_all``), versioned in the
``operator_protection_meta`` table. It also records what the operator refused to sign (typed
reason) and what each aggregator answered to each post, for the operator's own audit.

Interchange (``exorelay operator protection export|import``, :func:`export_interchange`,
:meth:`SlashingProtection.import_interchange`): a versioned JSON document, documented in
docs/protocol.md "Operator slashing protection"; import merges (the union), refuses a file of another
chain and refuses, as a whole and loudly, any slot present with two different digests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from avs.operator.errors import InterchangeError, ProtectionError
from relayer.protocol.ids import ChainId
from relayer.protocol.types import Hash32
from storage.sqltypes import Uint256, UtcDateTime

SCHEMA_VERSION: Final = "1"
INTERCHANGE_FORMAT_VERSION: Final = "1"
PUBKEY_BYTES: Final = 48
HASH_BYTES: Final = 32
ADDRESS_BYTES: Final = 20
UINT64_MAX: Final = 2**64 - 1

metadata = MetaData()

protection_meta = Table(
    "operator_protection_meta",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("value", String(128), nullable=False),
)

signed_slot = Table(
    "operator_signed_slot",
    metadata,
    # 0x-hex, lower case: the same spelling as the interchange file and the aggregator's API.
    Column("pubkey", String(2 + 2 * PUBKEY_BYTES), primary_key=True),
    Column("slot", String(2 + 2 * HASH_BYTES), primary_key=True),
    Column("digest", String(2 + 2 * HASH_BYTES), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("avs", String(2 + 2 * ADDRESS_BYTES), nullable=False),
    Column("epoch", Uint256(), nullable=False),
    Column("signed_at", UtcDateTime(), nullable=False),
    Column("origin", String(8), nullable=False),
)

refusal = Table(
    "operator_refusal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("digest", String(2 + 2 * HASH_BYTES), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("avs", String(2 + 2 * ADDRESS_BYTES), nullable=False),
    Column("epoch", Uint256(), nullable=False),
    Column("reason", String(48), nullable=False),
    Column("detail", Text, nullable=False),
    Column("refused_at", UtcDateTime(), nullable=False),
)

post_result = Table(
    "operator_post",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("digest", String(2 + 2 * HASH_BYTES), nullable=False, index=True),
    Column("aggregator", String(256), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("code", String(48), nullable=True),
    Column("posted_at", UtcDateTime(), nullable=False),
)


class Origin(StrEnum):
    LOCAL = "local"
    IMPORT = "import"


class Decision(StrEnum):
    """What :meth:`SlashingProtection.authorize` decided (committed before it returns)."""

    SIGN_NEW = "sign_new"
    """The slot was empty: the digest is now recorded for it."""
    SIGN_AGAIN = "sign_again"
    """The same digest was already recorded for the slot: signing it again is the same signature."""
    REFUSE = "refuse"
    """Another digest is recorded for the slot: signing would be a conflicting signature."""


class PostOutcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REFUSED = "refused"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SlotRecord:
    """One signed slot: ``pubkey`` signed ``digest`` (a ``kind`` request of ``avs`` for ``epoch``)."""

    pubkey: bytes
    slot: Hash32
    digest: Hash32
    kind: str
    avs: bytes
    epoch: int

    def __post_init__(self) -> None:
        _exact(self.pubkey, PUBKEY_BYTES, "pubkey")
        _exact(self.slot, HASH_BYTES, "slot")
        _exact(self.digest, HASH_BYTES, "digest")
        _exact(self.avs, ADDRESS_BYTES, "avs")
        if self.kind not in ("reward_claim", "slash_request"):
            raise ValueError(f"kind must be reward_claim or slash_request, got {self.kind!r}")
        if (
            isinstance(self.epoch, bool)
            or not isinstance(self.epoch, int)
            or not 0 <= self.epoch <= UINT64_MAX
        ):
            raise ValueError(f"epoch must be a uint64, got {self.epoch!r}")


@dataclass(frozen=True, slots=True)
class Authorization:
    decision: Decision
    recorded_digest: Hash32
    """The digest the slot holds after the transaction (ours, or the conflicting one)."""

    @property
    def may_sign(self) -> bool:
        return self.decision is not Decision.REFUSE


@dataclass(frozen=True, slots=True)
class ImportReport:
    added: int
    already_present: int


def _exact(value: object, length: int, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != length:
        raise ValueError(f"{what} must be {length} bytes")


def _hex(data: bytes) -> str:
    return "0x" + bytes(data).hex()


def _now() -> datetime:
    return datetime.now(UTC)


class SlashingProtection:
    """The protection database of one operator on one Exocore chain (thread-safe: every call is its
    own transaction on a pooled connection)."""

    def __init__(self, engine: Engine, *, chain_id: str, clock: Callable[[], datetime] = _now) -> None:
        self.engine = engine
        self.chain_id = chain_id
        self.exocore_chain = ChainId.parse(chain_id).hash
        self._clock = clock
        metadata.create_all(engine)
        self._claim_chain()

    def _claim_chain(self) -> None:
        wanted = {"schema_version": SCHEMA_VERSION, "exocore_chain": _hex(self.exocore_chain)}
        with self.engine.begin() as conn:
            rows = {
                r.key: r.value for r in conn.execute(select(protection_meta.c.key, protection_meta.c.value))
            }
            for key, value in wanted.items():
                if key not in rows:
                    self._insert_ignore(conn, protection_meta, {"key": key, "value": value}, ["key"])
            rows = {
                r.key: r.value for r in conn.execute(select(protection_meta.c.key, protection_meta.c.value))
            }
        if rows["schema_version"] != SCHEMA_VERSION:
            raise ProtectionError(
                f"protection database schema version {rows['schema_version']!r}; this exorelay reads "
                f"{SCHEMA_VERSION!r}"
            )
        if rows["exocore_chain"] != wanted["exocore_chain"]:
            raise ProtectionError(
                f"protection database belongs to Exocore chain {rows['exocore_chain']}, not {self.chain_id} "
                f"({wanted['exocore_chain']}): refusing to use it"
            )

    # -- signing --

    def authorize(self, record: SlotRecord) -> Authorization:
        """Check and record ``record`` in one transaction; sign only if the answer ``may_sign``."""
        with self.engine.begin() as conn:
            inserted = self._insert_ignore(
                conn, signed_slot, self._row(record, Origin.LOCAL), ["pubkey", "slot"]
            )
            stored = conn.execute(
                select(signed_slot.c.digest).where(
                    and_(signed_slot.c.pubkey == _hex(record.pubkey), signed_slot.c.slot == _hex(record.slot))
                )
            ).one()
        recorded = Hash32(bytes.fromhex(stored.digest[2:]))
        if recorded != record.digest:
            return Authorization(Decision.REFUSE, recorded)
        return Authorization(Decision.SIGN_NEW if inserted else Decision.SIGN_AGAIN, recorded)

    def _row(self, record: SlotRecord, origin: Origin) -> dict[str, Any]:
        return {
            "pubkey": _hex(record.pubkey),
            "slot": _hex(record.slot),
            "digest": _hex(record.digest),
            "kind": record.kind,
            "avs": _hex(record.avs),
            "epoch": record.epoch,
            "signed_at": self._clock(),
            "origin": origin.value,
        }

    @staticmethod
    def _insert_ignore(conn: Connection, table: Table, row: Mapping[str, Any], keys: list[str]) -> bool:
        """INSERT ... ON CONFLICT DO NOTHING; True if the row was inserted. Told by RETURNING, not
        by the driver's rowcount (psycopg reports 1 for a conflict skipped by DO NOTHING)."""
        dialect = conn.dialect.name
        if dialect == "postgresql":
            statement: Any = (
                postgresql.insert(table).values(**row).on_conflict_do_nothing(index_elements=keys)
            )
        elif dialect == "sqlite":
            statement = sqlite.insert(table).values(**row).on_conflict_do_nothing(index_elements=keys)
        else:  # pragma: no cover - create_db_engine accepts only these two
            raise ProtectionError(f"unsupported database dialect {dialect!r}")
        return conn.execute(statement.returning(table.c[keys[0]])).first() is not None

    def signed_slots(self, pubkey: bytes | None = None) -> list[SlotRecord]:
        query = select(signed_slot).order_by(signed_slot.c.pubkey, signed_slot.c.slot)
        if pubkey is not None:
            query = query.where(signed_slot.c.pubkey == _hex(pubkey))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            SlotRecord(
                bytes.fromhex(r.pubkey[2:]),
                Hash32(bytes.fromhex(r.slot[2:])),
                Hash32(bytes.fromhex(r.digest[2:])),
                r.kind,
                bytes.fromhex(r.avs[2:]),
                int(r.epoch),
            )
            for r in rows
        ]

    # -- audit --

    def record_refusal(
        self, *, digest: bytes, kind: str, avs: bytes, epoch: int, reason: str, detail: str
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                refusal.insert().values(
                    digest=_hex(digest),
                    kind=kind,
                    avs=_hex(avs),
                    epoch=epoch,
                    reason=reason,
                    detail=detail[:2000],
                    refused_at=self._clock(),
                )
            )

    def refusals(self, digest: bytes | None = None) -> list[tuple[str, str]]:
        """``(digest hex, reason)`` of recorded refusals, oldest first."""
        query = select(refusal.c.digest, refusal.c.reason).order_by(refusal.c.id)
        if digest is not None:
            query = query.where(refusal.c.digest == _hex(digest))
        with self.engine.connect() as conn:
            return [(r.digest, r.reason) for r in conn.execute(query)]

    def record_post(self, *, digest: bytes, aggregator: str, outcome: PostOutcome, code: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                post_result.insert().values(
                    digest=_hex(digest),
                    aggregator=aggregator,
                    outcome=outcome.value,
                    code=code,
                    posted_at=self._clock(),
                )
            )

    def posts(self, digest: bytes) -> list[tuple[str, str, str | None]]:
        """``(aggregator, outcome, code)`` of every post of ``digest``, oldest first."""
        query = (
            select(post_result.c.aggregator, post_result.c.outcome, post_result.c.code)
            .where(post_result.c.digest == _hex(digest))
            .order_by(post_result.c.id)
        )
        with self.engine.connect() as conn:
            return [(r.aggregator, r.outcome, r.code) for r in conn.execute(query)]

    def settled(self, digest: bytes, aggregator: str) -> bool:
        """Whether ``aggregator`` already gave a final answer for ``digest`` (accepted, duplicate or a
        refusal): the service does not post it there again."""
        query = select(post_result.c.id).where(
            and_(
                post_result.c.digest == _hex(digest),
                post_result.c.aggregator == aggregator,
                post_result.c.outcome != PostOutcome.FAILED.value,
            )
        )
        with self.engine.connect() as conn:
            return conn.execute(query.limit(1)).first() is not None

    # -- interchange --

    def export_interchange(self) -> dict[str, Any]:
        """Every signed slot as an interchange document (see the module docstring)."""
        by_key: dict[bytes, list[dict[str, str]]] = {}
        for record in self.signed_slots():
            by_key.setdefault(record.pubkey, []).append(
                {
                    "slot": _hex(record.slot),
                    "digest": _hex(record.digest),
                    "kind": record.kind,
                    "avs": _hex(record.avs),
                    "epoch": str(record.epoch),
                }
            )
        return {
            "metadata": {
                "interchange_format_version": INTERCHANGE_FORMAT_VERSION,
                "exocore_chain_id": self.chain_id,
                "exocore_chain": _hex(self.exocore_chain),
            },
            "data": [{"pubkey": _hex(key), "signed_slots": slots} for key, slots in sorted(by_key.items())],
        }

    def import_interchange(self, document: object) -> ImportReport:
        """Merge ``document`` (parsed JSON) into the database in one transaction: the union of both.
        Refused whole (:class:`InterchangeError`, nothing written) if it is malformed, of another
        chain, or puts a second digest into a slot (in itself or against the database)."""
        records = parse_interchange(document, exocore_chain=self.exocore_chain)
        added = already = 0
        with self.engine.begin() as conn:
            for record in records:
                existing = conn.execute(
                    select(signed_slot.c.digest).where(
                        and_(
                            signed_slot.c.pubkey == _hex(record.pubkey),
                            signed_slot.c.slot == _hex(record.slot),
                        )
                    )
                ).scalar_one_or_none()
                if existing is None:
                    self._insert_ignore(
                        conn, signed_slot, self._row(record, Origin.IMPORT), ["pubkey", "slot"]
                    )
                    added += 1
                elif existing != _hex(record.digest):
                    raise InterchangeError(
                        f"conflict: key {_hex(record.pubkey)} slot {_hex(record.slot)} is recorded with "
                        f"digest {existing} here and {_hex(record.digest)} in the file; nothing imported"
                    )
                else:
                    already += 1
        return ImportReport(added, already)


def parse_interchange(document: object, *, exocore_chain: bytes) -> list[SlotRecord]:
    """The records of an interchange document of ``exocore_chain``, validated; no two digests for one
    (pubkey, slot) inside the document."""
    if not isinstance(document, Mapping):
        raise InterchangeError("an interchange document is a JSON object")
    meta = document.get("metadata")
    if not isinstance(meta, Mapping):
        raise InterchangeError("missing 'metadata' object")
    version = meta.get("interchange_format_version")
    if version != INTERCHANGE_FORMAT_VERSION:
        raise InterchangeError(
            f"interchange_format_version {version!r}; this exorelay reads {INTERCHANGE_FORMAT_VERSION!r}"
        )
    chain = meta.get("exocore_chain")
    if chain != _hex(exocore_chain):
        raise InterchangeError(
            f"the file is for Exocore chain {meta.get('exocore_chain_id')!r} ({chain}), this database for "
            f"{_hex(exocore_chain)}: refusing it"
        )
    data = document.get("data")
    if not isinstance(data, list):
        raise InterchangeError("'data' must be a list")
    records: dict[tuple[bytes, bytes], SlotRecord] = {}
    for index, entry in enumerate(data):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("signed_slots"), list):
            raise InterchangeError(f"data[{index}] must be an object with 'pubkey' and 'signed_slots'")
        pubkey = _field_hex(entry.get("pubkey"), PUBKEY_BYTES, f"data[{index}].pubkey")
        for position, slot in enumerate(entry["signed_slots"]):
            where = f"data[{index}].signed_slots[{position}]"
            record = _slot_record(pubkey, slot, where)
            previous = records.get((pubkey, record.slot))
            if previous is not None and previous.digest != record.digest:
                raise InterchangeError(
                    f"conflict inside the file: key {_hex(pubkey)} slot {_hex(record.slot)} has digests "
                    f"{_hex(previous.digest)} and {_hex(record.digest)}; nothing imported"
                )
            records[(pubkey, record.slot)] = record
    return list(records.values())


def _slot_record(pubkey: bytes, slot: object, where: str) -> SlotRecord:
    if not isinstance(slot, Mapping):
        raise InterchangeError(f"{where} must be an object")
    epoch_text = slot.get("epoch")
    if (
        not isinstance(epoch_text, str)
        or not epoch_text.isdigit()
        or (len(epoch_text) > 1 and epoch_text[0] == "0")
    ):
        raise InterchangeError(f"{where}.epoch must be a decimal string")
    try:
        return SlotRecord(
            pubkey,
            Hash32(_field_hex(slot.get("slot"), HASH_BYTES, f"{where}.slot")),
            Hash32(_field_hex(slot.get("digest"), HASH_BYTES, f"{where}.digest")),
            str(slot.get("kind")),
            _field_hex(slot.get("avs"), ADDRESS_BYTES, f"{where}.avs"),
            int(epoch_text),
        )
    except ValueError as exc:
        if isinstance(exc, InterchangeError):
            raise
        raise InterchangeError(f"{where}: {exc}") from exc


def _field_hex(value: object, length: int, what: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x") or value != value.lower():
        raise InterchangeError(f"{what} must be 0x-prefixed lower-case hex")
    try:
        raw = bytes.fromhex(value[2:])
    except ValueError as exc:
        raise InterchangeError(f"{what} is not hex") from exc
    if len(raw) != length:
        raise InterchangeError(f"{what} must be {length} bytes, got {len(raw)}")
    return raw


def dumps_interchange(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def records_by_digest(records: Iterable[SlotRecord]) -> dict[bytes, SlotRecord]:
    return {record.digest: record for record in records}
