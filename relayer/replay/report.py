"""The replay report: what the relayer did with the recorded history, read back from the database and L1.

Deterministic by construction: it holds outcomes, states, amounts, roots and gas, never transaction
hashes, block numbers of the fork, timestamps or attempt counts (those depend on timing). Two
replays of the same fixture on the same fork give the same report; :func:`diff_reports` shows where
two reports differ.

Every figure comes from a store, none from the replay driver: packet outcomes from the relayer's
``relay_job`` rows, lifecycles from the indexer's ``transition`` history, roots both from the indexer
and from the gateway's ``distribution(id)`` view, payouts both from the indexer's ``payout`` rows and
from the gateway's ``RewardPaid`` logs, gas from the receipts the transaction manager recorded.
"""

from __future__ import annotations

import difflib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, Final

from sqlalchemy import Engine, select
from web3 import Web3

from relayer.l1.artifacts import ContractName, load_artifact
from relayer.l1.gateway import GatewayClient
from relayer.protocol.packets import PacketKind
from storage.job_tables import JobStage, payout_job_table, relay_job_table
from storage.jobs import parked_payouts
from storage.l1_tables import tx_intent_table
from storage.lifecycle import EdgeKind
from storage.models import (
    claim_table,
    cursor_table,
    distribution_table,
    packet_table,
    payout_table,
    slash_table,
    transition_table,
)

REPORT_VERSION: Final = 1
"""Bumped when a field changes meaning (an expectation file of another version then differs)."""
LOG_BLOCK_RANGE: Final = 10_000
"""Blocks per eth_getLogs call when counting RewardPaid (public nodes cap ranges near this)."""

Report = dict[str, Any]

_FINAL_STAGES: Final = frozenset({JobStage.DELIVERED.value, JobStage.REFUSED.value, JobStage.EXCLUDED.value})
"""Packet outcomes; a job in any other stage when the replay settled is reported as ``waiting``."""


def _hex(value: Any) -> str | None:
    return None if value is None else str(value).lower()


def _kind(kind: int) -> str:
    try:
        return PacketKind(kind).name
    except ValueError:
        return f"UNKNOWN({kind})"


def _lifecycles(engine: Engine, kind: str) -> dict[str, list[str]]:
    """Entity id -> the states its forward transitions reached, in order (retries and reorg
    reversals are timing, not outcome; a replay on a fork has no reorgs)."""
    t = transition_table
    paths: dict[str, list[str]] = defaultdict(list)
    with engine.begin() as conn:
        rows = conn.execute(
            select(t.c.entity_id, t.c.to_state)
            .where(t.c.entity_kind == kind, t.c.edge == EdgeKind.FORWARD.value)
            .order_by(t.c.id)
        )
        for entity_id, to_state in rows:
            if to_state is not None:
                paths[str(entity_id)].append(str(to_state))
    return dict(paths)


def _packets(engine: Engine) -> list[dict[str, Any]]:
    j, p = relay_job_table, packet_table
    lifecycles = _lifecycles(engine, "packet")
    with engine.begin() as conn:
        indexed = {int(row.nonce): row for row in conn.execute(select(p))}
        jobs = list(conn.execute(select(j).order_by(j.c.packet_nonce)))
    out = []
    for row in jobs:
        nonce = int(row.packet_nonce)
        stage = str(row.stage)
        waiting = stage != JobStage.DELIVERED.value
        index = indexed.get(nonce)
        out.append(
            {
                "nonce": nonce,
                "kind": _kind(int(row.kind)),
                "valset_nonce": int(row.valset_nonce),
                "outcome": stage if stage in _FINAL_STAGES else "waiting",
                "stage": stage,
                "reason": row.retry_reason if waiting else None,
                "detail": row.retry_detail if waiting else None,
                "signer_bitmap": row.signer_bitmap,
                "signed_power": None if row.signed_power is None else str(row.signed_power),
                "total_power": None if row.total_power is None else str(row.total_power),
                "subject": None if index is None else index.subject_id,
                "indexer_state": None if index is None else index.state,
                "lifecycle": lifecycles.get(str(nonce), []),
            }
        )
    return out


def _reward_paid(w3: Web3, gateway: str, from_block: int) -> dict[str, tuple[int, int]]:
    """distribution id -> (RewardPaid events, amount) on L1 since ``from_block``."""
    contract = w3.eth.contract(
        address=Web3.to_checksum_address(gateway), abi=load_artifact(ContractName.EXOCORE_GATEWAY).abi_list()
    )
    head = int(w3.eth.block_number)
    totals: dict[str, tuple[int, int]] = {}
    start = from_block
    while start <= head:
        end = min(head, start + LOG_BLOCK_RANGE - 1)
        for log in contract.events.RewardPaid.get_logs(from_block=start, to_block=end):
            key = "0x" + bytes(log.args.distributionId).hex()
            count, amount = totals.get(key, (0, 0))
            totals[key] = (count + 1, amount + int(log.args.amount))
        start = end + 1
    return totals


def _distributions(
    engine: Engine, gateway: GatewayClient, paid_on_l1: Mapping[str, tuple[int, int]]
) -> list[Any]:
    d, pj = distribution_table, payout_job_table
    with engine.begin() as conn:
        rows = list(conn.execute(select(d).order_by(d.c.nonce)))
        jobs = {str(row.distribution_id): row for row in conn.execute(select(pj))}
    out = []
    for row in rows:
        distribution_id = str(row.distribution_id)
        on_l1 = gateway.distribution(bytes.fromhex(distribution_id.removeprefix("0x")))
        job = jobs.get(distribution_id)
        events, amount = paid_on_l1.get(distribution_id, (0, 0))
        out.append(
            {
                "nonce": int(row.nonce),
                "distribution_id": distribution_id,
                "claim_id": row.claim_id,
                "avs": row.avs_address,
                "epoch": int(row.epoch),
                "token": row.token,
                "funding": row.funding,
                "total": str(row.total),
                "leaf_count": row.leaf_count,
                "merkle_root": row.merkle_root,
                "l1_root": None if on_l1 is None else "0x" + bytes(on_l1.root).hex(),
                "l1_paid": None if on_l1 is None else str(on_l1.paid),
                "l1_reward_paid_events": events,
                "l1_reward_paid_amount": str(amount),
                "payout_stage": None if job is None else job.stage,
                "payout_wait": None if job is None or job.stage == "paid" else job.retry_reason,
            }
        )
    return out


def _payouts(engine: Engine) -> dict[str, Any]:
    p = payout_table
    by_state: Counter[str] = Counter()
    by_token: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with engine.begin() as conn:
        for state, token, amount in conn.execute(select(p.c.state, p.c.token, p.c.amount)):
            by_state[str(state)] += 1
            if state == "finalized":
                entry = by_token[str(token)]
                entry[0] += 1
                entry[1] += int(amount)
    return {
        "leaves": sum(by_state.values()),
        "paid": by_state.get("finalized", 0),
        "by_state": dict(sorted(by_state.items())),
        "paid_by_token": {
            token: {"count": c, "amount": str(a)} for token, (c, a) in sorted(by_token.items())
        },
    }


def _claims(engine: Engine) -> list[dict[str, Any]]:
    c = claim_table
    lifecycles = _lifecycles(engine, "claim")
    with engine.begin() as conn:
        rows = list(conn.execute(select(c).order_by(c.c.claim_id)))
    return [
        {
            "claim_id": row.claim_id,
            "avs": row.avs_address,
            "epoch": int(row.epoch),
            "token": row.token,
            "total": str(row.total_amount),
            "state": row.state,
            "reason": row.reason_code,
            "lifecycle": lifecycles.get(str(row.claim_id), []),
        }
        for row in rows
    ]


def _slashes(engine: Engine) -> list[dict[str, Any]]:
    s = slash_table
    lifecycles = _lifecycles(engine, "slash")
    with engine.begin() as conn:
        rows = list(conn.execute(select(s).order_by(s.c.slash_id)))
    return [
        {
            "slash_id": row.slash_id,
            "avs": row.avs_address,
            "operator": row.operator,
            "evidence": row.evidence_kind,
            "proportion": row.slash_proportion,
            "packet_nonce": row.packet_nonce,
            "state": row.state,
            "reason": row.reason_code,
            "lifecycle": lifecycles.get(str(row.slash_id), []),
        }
        for row in rows
    ]


def _gas(engine: Engine) -> dict[str, Any]:
    i = tx_intent_table
    by_purpose: dict[str, dict[str, Any]] = {}
    with engine.begin() as conn:
        rows = list(conn.execute(select(i.c.purpose, i.c.state, i.c.gas_used)))
    for purpose, state, gas_used in rows:
        entry = by_purpose.setdefault(str(purpose), {"transactions": 0, "gas_used": 0, "states": Counter()})
        entry["states"][str(state)] += 1
        if gas_used is not None:
            entry["transactions"] += 1
            entry["gas_used"] += int(gas_used)
    for entry in by_purpose.values():
        entry["states"] = dict(sorted(entry["states"].items()))
    return {
        "total_gas_used": sum(int(e["gas_used"]) for e in by_purpose.values()),
        "by_purpose": dict(sorted(by_purpose.items())),
    }


def _refusals(engine: Engine, packets: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"what": f"packet {p['nonce']} ({p['kind']})", "reason": p["reason"], "detail": p["detail"]}
        for p in packets
        if p["outcome"] == JobStage.REFUSED.value
    ]
    i = tx_intent_table
    with engine.begin() as conn:
        failed = list(
            conn.execute(
                select(i.c.purpose, i.c.packet_nonce, i.c.distribution_id, i.c.leaf_indices, i.c.reason_code)
                .where(i.c.state == "failed")
                .order_by(i.c.purpose, i.c.packet_nonce, i.c.distribution_id)
            )
        )
    for purpose, nonce, distribution_id, leaves, reason_code in failed:
        subject = f"packet {nonce}" if nonce is not None else f"distribution {distribution_id}"
        if leaves:
            subject += f" leaves {min(leaves)}..{max(leaves)}"
        out.append({"what": f"L1 {purpose} transaction for {subject}", "reason": reason_code, "detail": None})
    return sorted(out, key=lambda entry: (str(entry["what"]), str(entry["reason"])))


def _blocked_by(engine: Engine) -> list[dict[str, Any]]:
    """Payout jobs parked on a cause L1 keeps (typed reason, amounts): why a replay ended ``blocked``."""
    with engine.begin() as conn:
        parked = parked_payouts(conn)
    return [{"item": p.item, "reason": p.retry_reason, "detail": p.retry_detail} for p in parked]


def _halts(engine: Engine) -> list[dict[str, Any]]:
    """Ingestion streams the indexer halted (an invariant violation): nothing after them was indexed."""
    c = cursor_table
    with engine.begin() as conn:
        rows = conn.execute(
            select(c.c.stream, c.c.halt_reason).where(c.c.halted.is_(True)).order_by(c.c.stream)
        )
        return [{"stream": str(stream), "reason": reason} for stream, reason in rows]


def build_report(
    *,
    engine: Engine,
    gateway: GatewayClient,
    l1_url: str,
    fixture_info: Mapping[str, Any],
    l1_info: Mapping[str, Any],
    outcome: str,
    exocore_height: int | None,
    from_l1_block: int,
) -> Report:
    packets = _packets(engine)
    paid_on_l1 = _reward_paid(Web3(Web3.HTTPProvider(l1_url)), gateway.address, from_l1_block)
    return {
        "report_version": REPORT_VERSION,
        "fixture": dict(fixture_info),
        "l1": dict(l1_info),
        "outcome": outcome,
        "exocore_height_indexed": exocore_height,
        "packets": packets,
        "distributions": _distributions(engine, gateway, paid_on_l1),
        "payouts": _payouts(engine),
        "claims": _claims(engine),
        "slashes": _slashes(engine),
        "gas": _gas(engine),
        "refusals": _refusals(engine, packets),
        "indexer_halts": _halts(engine),
        "blocked_by": _blocked_by(engine),
    }


# --- rendering and comparison --------------------------------------------------------------------------


def report_json(report: Report) -> str:
    """The stable text form (sorted keys, two-space indent): what ``--report`` writes and diffs use."""
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


def diff_reports(expected: Report, actual: Report, *, expected_name: str = "expected") -> list[str]:
    """Unified diff of the two reports' stable text forms (empty when they are equal)."""
    return list(
        difflib.unified_diff(
            report_json(expected).splitlines(),
            report_json(actual).splitlines(),
            fromfile=expected_name,
            tofile="replay",
            lineterm="",
        )
    )


def render_text(report: Report) -> str:
    """A terminal summary of the report (the JSON form holds everything)."""
    lines = []
    fixture, l1 = report["fixture"], report["l1"]
    lines.append(
        f"replay of {fixture['chain_id']} heights {fixture['from_height']}..{fixture['to_height']} "
        f"(sha256 {str(fixture['sha256'])[:16]}...) on L1 chain {l1['chain_id']} "
        f"forked at block {l1['fork_block']}"
    )
    lines.append(f"outcome: {report['outcome']} (Exocore indexed up to {report['exocore_height_indexed']})")
    for blocked in report.get("blocked_by", []):
        lines.append(f"  blocked: {blocked['item']}: {blocked['reason']}: {blocked['detail']}")
    lines.append("")
    lines.append("packets:")
    for p in report["packets"]:
        reason = f"  [{p['reason']}: {p['detail']}]" if p["reason"] else ""
        power = f"  signed {p['signed_power']}/{p['total_power']}" if p["signed_power"] else ""
        lines.append(f"  #{p['nonce']:<4} {p['kind']:<20} {p['outcome']:<10}{power}{reason}")
    if not report["packets"]:
        lines.append("  (none)")
    lines.append("")
    lines.append("distributions:")
    for d in report["distributions"]:
        if d["l1_root"] is None:
            on_l1 = "root not on L1"
        elif d["l1_root"] == d["merkle_root"]:
            on_l1 = f"root on L1, paid {d['l1_paid']} ({d['l1_reward_paid_events']} RewardPaid)"
        else:
            on_l1 = f"L1 holds ANOTHER root {d['l1_root']}"
        wait = f" [{d['payout_wait']}]" if d["payout_wait"] else ""
        lines.append(
            f"  #{d['nonce']:<4} root {d['merkle_root']}: {d['leaf_count']} leaves, total {d['total']} "
            f"of {d['token']}; {on_l1}; payouts {d['payout_stage'] or 'not started'}{wait}"
        )
    if not report["distributions"]:
        lines.append("  (none)")
    payouts = report["payouts"]
    lines.append("")
    lines.append(f"payouts: {payouts['paid']} of {payouts['leaves']} leaves paid")
    for token, entry in payouts["paid_by_token"].items():
        lines.append(f"  {token}: {entry['count']} payouts, {entry['amount']} base units")
    lines.append("")
    lines.append("claims:")
    for c in report["claims"]:
        lines.append(f"  {c['claim_id'][:18]}... {c['state']:<10} {' > '.join(c['lifecycle'])}")
    lines.append("slashes:")
    for s in report["slashes"]:
        lines.append(f"  {s['slash_id'][:18]}... {s['state']:<10} {' > '.join(s['lifecycle'])}")
    gas = report["gas"]
    lines.append("")
    lines.append(f"gas used: {gas['total_gas_used']}")
    for purpose, entry in gas["by_purpose"].items():
        lines.append(f"  {purpose:<14} {entry['transactions']} txs, {entry['gas_used']} gas")
    lines.append("")
    lines.append("refusals:" if report["refusals"] else "refusals: none")
    for r in report["refusals"]:
        detail = f": {r['detail']}" if r["detail"] else ""
        lines.append(f"  {r['what']}: {r['reason']}{detail}")
    for halt in report["indexer_halts"]:
        lines.append(f"indexer stream {halt['stream']} HALTED: {halt['reason']}")
    return "\n".join(lines) + "\n"
