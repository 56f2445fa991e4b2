"""The layer contracts (.importlinter, enforced by `make lint`) stay complete, the package graph has no
cycle, and the dependency picture in docs/architecture.md stays the one the code has."""

from __future__ import annotations

import configparser
import graphlib
import pkgutil
from pathlib import Path

import relayer
from tests.relayer.package_graph import package_graph, render

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = REPO / ".importlinter"
ARCHITECTURE = REPO / "docs" / "architecture.md"
PROTOCOL_MAY_IMPORT = frozenset({"protocol", "errors"})
"""relayer.protocol's own package and the error root."""


def _contracts() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(CONTRACTS)
    return parser


def test_protocol_contract_forbids_every_other_exorelay_package() -> None:
    forbidden = set(_contracts()["importlinter:contract:protocol-is-pure"]["forbidden_modules"].split())
    siblings = {
        f"relayer.{info.name}"
        for info in pkgutil.iter_modules(relayer.__path__)
        if info.name not in PROTOCOL_MAY_IMPORT and not info.name.startswith("_")
    }
    assert siblings, "found no relayer modules: the check below would be empty"
    assert sorted((siblings | {"indexer", "storage", "devnet"}) - forbidden) == []


def test_architecture_quotes_every_contract_verbatim() -> None:
    text = CONTRACTS.read_text()
    sections = text[text.index("[importlinter:contract:") :].split("\n\n")
    contracts = [name for name in _contracts().sections() if name.startswith("importlinter:contract:")]
    assert len(sections) == len(contracts)
    doc = ARCHITECTURE.read_text()
    for section in sections:
        assert section.strip() in doc, f"docs/architecture.md does not quote:\n{section}"


def test_architecture_shows_the_package_graph_the_code_has() -> None:
    graph = render(package_graph())
    assert f"```\n{graph}```" in ARCHITECTURE.read_text(), (
        "docs/architecture.md's package graph is stale; `python -m tests.relayer.package_graph` prints:\n"
        + graph
    )


def test_package_graph_has_no_cycle() -> None:
    """import-linter's acyclic_siblings contract checks siblings inside each top-level package; the
    top-level packages are roots, not siblings, so a cycle across them (relayer <-> indexer) is
    checked here, over the components of the package graph."""
    edges = package_graph()
    try:
        order = list(graphlib.TopologicalSorter(edges).static_order())
    except graphlib.CycleError as exc:
        raise AssertionError(f"the package graph has a cycle: {' -> '.join(exc.args[1])}") from exc
    assert set(order) == set(edges)
