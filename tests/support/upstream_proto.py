"""Upstream Exocore message layouts, written out independently of ``proto/`` (names, types and field
numbers of ``exocore.avs.v1.AVSInfo``, ``exocore.operator.v1.OperatorInfo`` / ``OperatorSlashInfo`` and
``exocore.delegation.v1.MsgDelegation`` / ``MsgUndelegation`` as upstream defines them), to decode what
the devnet serves and check it is upstream's wire format.

Only upstream's fields are declared: exorelay's additions (field numbers 50 and above) stay unknown
fields when devnet bytes are parsed with these classes.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, unknown_fields

_T = descriptor_pb2.FieldDescriptorProto
_STRING, _UINT64, _MESSAGE = _T.TYPE_STRING, _T.TYPE_UINT64, _T.TYPE_MESSAGE
_INT64, _UINT32, _BOOL = _T.TYPE_INT64, _T.TYPE_UINT32, _T.TYPE_BOOL
_OPTIONAL, _REPEATED = _T.LABEL_OPTIONAL, _T.LABEL_REPEATED
_PACKAGE = "upstream.check"

AVS_INFO_FIELDS: tuple[tuple[str, int, int, int], ...] = (
    # (name, number, type, label) of upstream x/avs AVSInfo
    ("name", 1, _STRING, _OPTIONAL),
    ("avs_address", 2, _STRING, _OPTIONAL),
    ("min_stake_amount", 3, _UINT64, _OPTIONAL),
    ("task_address", 4, _STRING, _OPTIONAL),
    ("slash_address", 5, _STRING, _OPTIONAL),
    ("reward_address", 6, _STRING, _OPTIONAL),
    ("avs_owner_addresses", 7, _STRING, _REPEATED),
    ("asset_ids", 8, _STRING, _REPEATED),
    ("avs_unbonding_period", 9, _UINT64, _OPTIONAL),
    ("min_self_delegation", 10, _UINT64, _OPTIONAL),
    ("epoch_identifier", 11, _STRING, _OPTIONAL),
    ("min_opt_in_operators", 12, _UINT64, _OPTIONAL),
    ("min_total_stake_amount", 13, _UINT64, _OPTIONAL),
    ("starting_epoch", 14, _UINT64, _OPTIONAL),
    ("chain_id", 15, _STRING, _OPTIONAL),
    ("whitelist_addresses", 19, _STRING, _REPEATED),
)


def _message(
    name: str, fields: tuple[tuple[str, int, int, int] | tuple[str, int, int, int, str], ...]
) -> Any:
    proto = descriptor_pb2.DescriptorProto(name=name)
    for spec in fields:
        field = proto.field.add(name=spec[0], number=spec[1], type=spec[2], label=spec[3])
        if len(spec) == 5:
            field.type_name = f".{_PACKAGE}.{spec[4]}"
    return proto


def _build() -> dict[str, Any]:
    file = descriptor_pb2.FileDescriptorProto(name="upstream_check.proto", package=_PACKAGE, syntax="proto3")
    file.message_type.extend(
        [
            _message("AVSInfo", AVS_INFO_FIELDS),
            _message("QueryAVSInfoResponse", (("info", 1, _MESSAGE, _OPTIONAL, "AVSInfo"),)),
            _message(
                "ClientChainEarningAddrInfo",
                (
                    ("lz_client_chain_id", 1, _UINT64, _OPTIONAL),
                    ("client_chain_earning_addr", 2, _STRING, _OPTIONAL),
                ),
            ),
            _message(
                "ClientChainEarningAddrList",
                (("earning_info_list", 1, _MESSAGE, _REPEATED, "ClientChainEarningAddrInfo"),),
            ),
            _message(
                "CommissionRates",
                (
                    ("rate", 1, _STRING, _OPTIONAL),
                    ("max_rate", 2, _STRING, _OPTIONAL),
                    ("max_change_rate", 3, _STRING, _OPTIONAL),
                ),
            ),
            _message("Commission", (("commission_rates", 1, _MESSAGE, _OPTIONAL, "CommissionRates"),)),
            _message(
                "OperatorInfo",
                (
                    ("earnings_addr", 1, _STRING, _OPTIONAL),
                    ("approve_addr", 2, _STRING, _OPTIONAL),
                    ("operator_meta_info", 3, _STRING, _OPTIONAL),
                    ("client_chain_earnings_addr", 4, _MESSAGE, _OPTIONAL, "ClientChainEarningAddrList"),
                    ("commission", 5, _MESSAGE, _OPTIONAL, "Commission"),
                ),
            ),
            # Imuachain x/operator OperatorSlashInfo; `execution_info` (7) is left out (its nested
            # layout is not part of what the devnet serves).
            _message(
                "OperatorSlashInfo",
                (
                    ("slash_contract", 1, _STRING, _OPTIONAL),
                    ("submitted_height", 2, _INT64, _OPTIONAL),
                    ("event_height", 3, _INT64, _OPTIONAL),
                    ("is_vetoed", 4, _BOOL, _OPTIONAL),
                    ("slash_proportion", 5, _STRING, _OPTIONAL),
                    ("slash_type", 6, _UINT32, _OPTIONAL),
                    ("veto_reason", 8, _STRING, _OPTIONAL),
                ),
            ),
            # x/delegation's messages.
            _message("ValueField", (("amount", 1, _STRING, _OPTIONAL),)),
            _message(
                "KeyValue", (("key", 1, _STRING, _OPTIONAL), ("value", 2, _MESSAGE, _OPTIONAL, "ValueField"))
            ),
            _message(
                "DelegationIncOrDecInfo",
                (
                    ("from_address", 1, _STRING, _OPTIONAL),
                    ("per_operator_amounts", 2, _MESSAGE, _REPEATED, "KeyValue"),
                ),
            ),
            _message(
                "MsgDelegation",
                (
                    ("asset_id", 1, _STRING, _OPTIONAL),
                    ("base_info", 2, _MESSAGE, _OPTIONAL, "DelegationIncOrDecInfo"),
                ),
            ),
            _message(
                "MsgUndelegation",
                (
                    ("asset_id", 1, _STRING, _OPTIONAL),
                    ("base_info", 2, _MESSAGE, _OPTIONAL, "DelegationIncOrDecInfo"),
                    ("instant_unbonding", 3, _BOOL, _OPTIONAL),
                ),
            ),
        ]
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {
        m.name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{m.name}"))
        for m in file.message_type
    }


UPSTREAM: dict[str, Any] = _build()
"""Message classes by upstream name: ``AVSInfo``, ``QueryAVSInfoResponse``, ``OperatorInfo`` …"""


def unknown_field_numbers(message: Any) -> set[int]:
    """Field numbers present on the wire that the upstream layout does not declare (top level of
    ``message``)."""
    found = unknown_fields.UnknownFieldSet(message)
    return {found[index].field_number for index in range(len(found))}
