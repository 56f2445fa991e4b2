"""The end state every whole-system fault test must reach, checked against the chains themselves.

After a fault and the recovery: every Merkle leaf Exocore computed is paid exactly once on L1 (one
``RewardPaid`` per leaf, with the leaf's staker and amount); per reward token, the ERC-20
``Transfer`` logs of the payout transactions (read from anvil, not from the indexer) sum to the
leaves' total and to the indexer's finalized payouts (``GET /v1/stats``); and every claim, slash,
packet and payout the indexer knows is in a terminal state of its lifecycle, with no invariant
violation recorded; per restaked token the RestakingVault's custody (plus what it paid against
withdrawal approvals) equals Exocore's stake (delegated + unbonding + approved).
:func:`check_signer_nonces` adds the signer's side: no nonce gap, no transaction L1 mined that the
database did not sign, no intent left open.

:func:`wait_settled` polls until the system gets there (the relayer runs on its own) and then
asserts all of it; a timeout fails with what is still open.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Final

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.exc import DBAPIError
from web3 import Web3
from web3.contract import Contract

from devnet.stack import DevnetStack
from indexer.api.app import create_app
from relayer.exocore.grpc_client import ExocoreGrpcClient, RelayPacket
from relayer.l1.artifacts import ContractName, load_artifact
from storage.job_tables import payout_job_table, relay_job_table
from storage.l1_tables import OPEN_INTENT_STATES, signer_account_table, tx_attempt_table, tx_intent_table
from storage.lifecycle import CLAIM, PACKET, PAYOUT, SLASH
from storage.models import payout_table
from tests.support.custody_invariant import assert_custody_matches

SETTLE_TIMEOUT_S: Final = 300.0
"""Longest a recovery may take once the fault is gone (retries back off to a few seconds)."""
POLL_S: Final = 0.5
PAGE_SIZE: Final = 200
TRANSFER_TOPIC: Final = Web3.keccak(text="Transfer(address,address,uint256)")
TERMINAL: Final = {"claim": CLAIM.terminal, "slash": SLASH.terminal, "packet": PACKET.terminal}


@dataclass(frozen=True)
class Settled:
    """What the checks saw (tests assert more on it)."""

    leaves: int
    distributions: int
    paid_per_token: dict[str, int]
    claims: dict[str, str]
    """claim id -> indexer lifecycle state."""
    stats: dict[str, Any]


def gateway_contract(stack: DevnetStack, chain: dict[str, Any] | None = None) -> tuple[Web3, Contract]:
    """The gateway of ``chain`` (a manifest client-chain section; default: ``l1``)."""
    chain = chain or stack.manifest["l1"]
    w3 = Web3(Web3.HTTPProvider(chain["rpc_url"]))
    gateway = w3.eth.contract(
        address=Web3.to_checksum_address(chain["contracts"]["gateway"]),
        abi=load_artifact(ContractName.EXOCORE_GATEWAY).abi_list(),
    )
    return w3, gateway


def exocore_leaves(stack: DevnetStack) -> dict[int, tuple[str, dict[int, tuple[str, int]]]]:
    """Exocore's distributions: packet nonce -> (token, leaf index -> (staker, amount))."""
    exocore = stack.manifest["exocore"]
    client = ExocoreGrpcClient([exocore["grpc_target"]], chain_id=exocore["chain_id"])
    try:
        out: dict[int, tuple[str, dict[int, tuple[str, int]]]] = {}
        for dist in client.distributions():
            leaves = {
                r.leaf.index: ("0x" + bytes(r.leaf.staker).hex(), int(r.leaf.amount))
                for r in client.distribution_leaves(dist.nonce)
            }
            out[dist.nonce] = ("0x" + bytes(dist.token).hex(), leaves)
        return out
    finally:
        client.close()


def api_get(database_url: str, path: str, **params: Any) -> Any:
    """One GET against the indexer API over ``database_url`` (in-process, the real app)."""
    with TestClient(create_app(database_url)) as client:
        return _api_get(client, path, **params)


def _api_get(client: TestClient, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text[:500]}"
    return response.json()


def _all(client: TestClient, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": PAGE_SIZE}
        if cursor:
            params["cursor"] = cursor
        page = _api_get(client, path, **params)
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return items


def _open_work(engine: Engine) -> list[str]:
    """The relayer's own queue: jobs not yet delivered / paid (empty once everything is done)."""
    try:
        with engine.connect() as conn:
            jobs = [
                f"packet {r.packet_nonce}: {r.stage} ({r.retry_reason})"
                for r in conn.execute(select(relay_job_table)).all()
                if r.stage != "delivered"
            ]
            pays = [
                f"payout {r.distribution_id[:10]}: {r.stage} ({r.retry_reason})"
                for r in conn.execute(select(payout_job_table)).all()
                if r.stage != "paid"
            ]
    except DBAPIError as exc:  # the database is restarting, or not migrated yet
        return [f"database: {type(exc).__name__}"]
    return jobs + pays


def _snapshot(client: TestClient, engine: Engine) -> tuple[list[str], dict[str, Any]]:
    """(what is still open, the API's stats)."""
    try:
        stats = _api_get(client, "/v1/stats")
    except (DBAPIError, AssertionError) as exc:
        return [f"api: {exc}"], {}
    problems = [f"{kind} backlog {n}" for kind, n in stats["backlog"].items() if n and kind != "l1_tx"]
    problems += [
        f"{token}: {sums['included']} included, not final"
        for token, sums in stats["paid_per_token"].items()
        if int(sums["included"])
    ]
    return problems + _open_work(engine), stats


def wait_settled(
    stack: DevnetStack,
    database_url: str,
    *,
    timeout_s: float = SETTLE_TIMEOUT_S,
    log_tail: Any = None,
) -> Settled:
    """Wait until every distribution Exocore made is paid and the indexer is final, then check the
    end state against both chains (see the module docstring). ``log_tail``: a callable giving the
    relayer's log tail for the failure message."""
    truth = exocore_leaves(stack)
    expected_leaves = sum(len(leaves) for _, leaves in truth.values())
    w3, gateway = gateway_contract(stack)
    engine = create_engine(database_url)
    app_client = TestClient(create_app(database_url))
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            paid_logs = gateway.events.RewardPaid.get_logs(from_block=0)
            open_items, stats = _snapshot(app_client, engine)
            if len(paid_logs) >= expected_leaves and not open_items:
                break
            if time.monotonic() > deadline:
                tail = log_tail() if log_tail is not None else ""
                pytest.fail(
                    f"not settled after {timeout_s:.0f} s: {len(paid_logs)}/{expected_leaves} leaves paid "
                    f"on L1; open: {open_items}\nrelayer log tail:\n{tail}"
                )
            time.sleep(POLL_S)
        settled = _check(w3, gateway, truth, app_client, engine, stats)
        # Every stake was an L1 deposit and every SLASH is delivered: custody = Exocore's stake.
        assert_custody_matches(stack.manifest)
        return settled
    finally:
        app_client.close()
        engine.dispose()


def _check(
    w3: Web3,
    gateway: Contract,
    truth: dict[int, tuple[str, dict[int, tuple[str, int]]]],
    client: TestClient,
    engine: Engine,
    stats: dict[str, Any],
    chain_id: int | None = None,
) -> Settled:
    """``chain_id``: check one client chain of several (``truth`` holds only its distributions, the
    indexer's totals and rows are that chain's, and the claims are checked by the caller)."""
    # Every leaf paid exactly once, to the leaf's staker, the leaf's amount.
    submitted = {
        e.args.nonce: (e.args.distributionId, e.args.token.lower(), e.args.total)
        for e in gateway.events.DistributionSubmitted.get_logs(from_block=0)
    }
    assert set(submitted) == set(truth), "every Exocore distribution is submitted on L1, and only those"
    paid_logs = gateway.events.RewardPaid.get_logs(from_block=0)
    per_leaf = Counter((e.args.distributionId, e.args.index) for e in paid_logs)
    twice = {k: n for k, n in per_leaf.items() if n != 1}
    assert not twice, f"leaves paid more than once: {twice}"
    paid = {(e.args.distributionId, e.args.index): (e.args.staker.lower(), e.args.amount) for e in paid_logs}
    expected_per_token: dict[str, int] = defaultdict(int)
    for nonce, (token, leaves) in truth.items():
        distribution_id, l1_token, total = submitted[nonce]
        assert l1_token == token and total == sum(a for _, a in leaves.values())
        for index, leaf in leaves.items():
            assert paid.get((distribution_id, index)) == leaf, f"distribution {nonce} leaf {index}"
            expected_per_token[token] += leaf[1]
        on_chain = gateway.functions.distribution(distribution_id).call()
        assert on_chain[6] == on_chain[7] == total, f"distribution {nonce}: paid != total on L1"
    assert len(paid) == sum(len(leaves) for _, leaves in truth.values())

    # Token Transfer logs of the payout transactions, read from the chain, per token.
    payout_txs = {e.transactionHash for e in paid_logs}
    transferred: dict[str, int] = defaultdict(int)
    leaf_stakers = {staker for _, leaves in truth.values() for staker, _ in leaves.values()}
    for tx_hash in payout_txs:
        for log in w3.eth.get_transaction_receipt(tx_hash)["logs"]:
            token = log["address"].lower()
            if log["topics"] and log["topics"][0] == TRANSFER_TOPIC and token in expected_per_token:
                recipient = "0x" + bytes(log["topics"][2])[-20:].hex()
                if recipient in leaf_stakers:
                    transferred[token] += int.from_bytes(bytes(log["data"]), "big")
    assert dict(transferred) == dict(expected_per_token), "L1 Transfer sums per token != the leaves' sums"

    # The indexer's totals (the API's /v1/stats) equal those transfers; nothing left un-final.
    sums = stats["paid_per_token"] if chain_id is None else stats["paid_per_chain"].get(str(chain_id), {})
    indexed = {token: int(s["finalized"]) for token, s in sums.items()}
    on = "" if chain_id is None else f" on chain {chain_id}"
    assert indexed == dict(transferred), f"indexer{on} {indexed} != L1 transfers {dict(transferred)}"
    assert all(int(s["included"]) == 0 for s in sums.values())
    assert stats["invariant_violations"] == 0
    rows = select(payout_table.c.token, payout_table.c.staker, payout_table.c.amount, payout_table.c.state)
    if chain_id is not None:
        rows = rows.where(payout_table.c.l1_chain_id == chain_id)
    with engine.connect() as conn:
        per_staker: dict[tuple[str, str], int] = defaultdict(int)
        for row in conn.execute(rows):
            assert row.state in PAYOUT.terminal
            per_staker[(row.token, row.staker)] += int(row.amount)
    on_l1: dict[tuple[str, str], int] = defaultdict(int)
    for token, leaves in truth.values():
        for staker, amount in leaves.values():
            on_l1[(token, staker)] += amount
    assert dict(per_staker) == dict(on_l1), f"indexed payouts per (token, staker){on} != L1"
    claims = _check_terminal(client)
    if chain_id is None:
        assert sum(1 for s in claims.values() if s == "paid") == len(truth)
    return Settled(
        leaves=len(paid),
        distributions=len(truth),
        paid_per_token=dict(transferred),
        claims=claims,
        stats=stats,
    )


def _check_terminal(client: TestClient) -> dict[str, str]:
    """Every claim, slash and packet the indexer knows is in a terminal state; returns the claims."""
    claims = {c["claim_id"]: c["status"] for c in _all(client, "/v1/claims")}
    slashes = {s["slash_id"]: s["status"] for s in _all(client, "/v1/slashes")}
    packets = {p["nonce"]: p["status"] for p in _all(client, "/v1/packets")}
    for kind, states in (("claim", claims), ("slash", slashes), ("packet", packets)):
        stuck = {k: s for k, s in states.items() if s not in TERMINAL[kind]}
        assert not stuck, f"{kind}s not in a terminal state: {stuck}"
    return claims


@dataclass(frozen=True)
class SignerNonces:
    """The signer's transactions as L1 mined them, against the transaction manager's tables."""

    mined: int
    """Transactions mined from the signer (nonces 0..mined-1)."""
    attempts: int
    """Signed attempts the database holds (fee bumps included)."""


def check_signer_nonces(
    stack: DevnetStack, database_url: str, signer: str, *, chain: dict[str, Any] | None = None
) -> SignerNonces:
    """No nonce gap and nothing unknown: every transaction L1 mined from ``signer`` is an attempt the
    database signed, its nonces run 0..n-1 with one transaction each, the database's next nonce is n
    (no nonce was allocated and then lost), and no intent is still open. ``chain``: a manifest
    client-chain section (default ``l1``); the database's rows are that chain's."""
    chain = chain or stack.manifest["l1"]
    chain_id = int(chain["chain_id"])
    w3 = Web3(Web3.HTTPProvider(chain["rpc_url"]))
    sender = signer.lower()
    mined: dict[int, str] = {}
    for number in range(w3.eth.block_number + 1):
        for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
            if isinstance(tx, bytes):  # a bare hash: not asked for (full_transactions)
                continue
            if tx["from"].lower() == sender:
                nonce = int(tx["nonce"])
                assert nonce not in mined, f"nonce {nonce} mined twice"
                mined[nonce] = "0x" + bytes(tx["hash"]).hex()
    assert sorted(mined) == list(range(len(mined))), f"nonce gap on L1: {sorted(mined)}"
    assert w3.eth.get_transaction_count(Web3.to_checksum_address(sender)) == len(mined)
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            next_nonce = conn.execute(
                select(signer_account_table.c.next_nonce).where(
                    signer_account_table.c.sender == sender, signer_account_table.c.chain_id == chain_id
                )
            ).scalar_one()
            # Attempts are keyed by transaction hash, which commits to the chain id.
            attempts = {
                row.tx_hash: int(row.tx_nonce)
                for row in conn.execute(select(tx_attempt_table.c.tx_hash, tx_attempt_table.c.tx_nonce))
            }
            open_intents = conn.execute(
                select(tx_intent_table.c.key, tx_intent_table.c.state).where(
                    tx_intent_table.c.state.in_([s.value for s in OPEN_INTENT_STATES]),
                    tx_intent_table.c.chain_id == chain_id,
                )
            ).all()
    finally:
        engine.dispose()
    assert int(next_nonce) == len(mined), (
        f"database next nonce {next_nonce} != {len(mined)} mined: a lost nonce"
    )
    unknown = {nonce: tx for nonce, tx in mined.items() if attempts.get(tx) != nonce}
    assert not unknown, f"mined transactions the database never signed: {unknown}"
    assert not open_intents, f"intents still open: {open_intents}"
    return SignerNonces(mined=len(mined), attempts=len(attempts))


# -- several client chains -------------------------------------------------------------------------


def client_chain_sections(stack: DevnetStack) -> dict[int, dict[str, Any]]:
    """Chain id -> the manifest's section of each client chain (``l1``, then ``client_chains``)."""
    sections = [stack.manifest["l1"], *stack.manifest.get("client_chains", [])]
    return {int(section["chain_id"]): section for section in sections}


def exocore_destinations(stack: DevnetStack, nonces: set[int]) -> dict[int, int]:
    """Packet nonce -> the client chain Exocore addressed it to (the packet's own field)."""
    exocore = stack.manifest["exocore"]
    client = ExocoreGrpcClient([exocore["grpc_target"]], chain_id=exocore["chain_id"])
    try:
        params = client.relay_params()
        out: dict[int, int] = {}
        for nonce in sorted(nonces):
            packet = client.packet(nonce, params)
            assert isinstance(packet, RelayPacket), f"packet {nonce}: {packet!r}"
            out[nonce] = int(packet.packet.l1_chain_id)
        return out
    finally:
        client.close()


def wait_settled_chains(
    stack: DevnetStack,
    database_url: str,
    *,
    timeout_s: float = SETTLE_TIMEOUT_S,
    log_tail: Any = None,
) -> dict[int, Settled]:
    """:func:`wait_settled` for a stack with several client chains: every distribution is paid on the
    chain Exocore addressed it to (each leaf once, on that chain only), each chain's indexer totals
    (``/v1/stats`` ``paid_per_chain``) equal that chain's ERC-20 ``Transfer`` logs, every claim, slash
    and packet is terminal. Returns each chain's figures."""
    truth = exocore_leaves(stack)
    destination = exocore_destinations(stack, set(truth))
    sections = client_chain_sections(stack)
    assert set(destination.values()) <= set(sections), f"packets to unknown chains: {destination}"
    per_chain = {
        chain_id: {n: leaves for n, leaves in truth.items() if destination[n] == chain_id}
        for chain_id in sections
    }
    gateways = {chain_id: gateway_contract(stack, section) for chain_id, section in sections.items()}
    engine = create_engine(database_url)
    app_client = TestClient(create_app(database_url))
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            paid = {
                chain_id: len(gateway.events.RewardPaid.get_logs(from_block=0))
                for chain_id, (_, gateway) in gateways.items()
            }
            expected = {c: sum(len(leaves) for _, leaves in t.values()) for c, t in per_chain.items()}
            open_items, stats = _snapshot(app_client, engine)
            if all(paid[c] >= expected[c] for c in sections) and not open_items:
                break
            if time.monotonic() > deadline:
                tail = log_tail() if log_tail is not None else ""
                pytest.fail(
                    f"not settled after {timeout_s:.0f} s: leaves paid per chain {paid} of {expected}; "
                    f"open: {open_items}\nrelayer log tail:\n{tail}"
                )
            time.sleep(POLL_S)
        settled = {
            chain_id: _check(*gateways[chain_id], per_chain[chain_id], app_client, engine, stats, chain_id)
            for chain_id in sections
        }
        # A distribution is paid on its own chain only: no other gateway knows its id.
        for chain_id, (_, gateway) in gateways.items():
            others = {
                e.args.nonce for e in gateway.events.DistributionSubmitted.get_logs(from_block=0)
            } - set(per_chain[chain_id])
            assert not others, f"chain {chain_id} got distributions addressed elsewhere: {others}"
        # One claim may pay on several chains: it is paid once all of its distributions are.
        assert all(status == "paid" for status in settled[next(iter(sections))].claims.values())
        return settled
    finally:
        app_client.close()
        engine.dispose()
