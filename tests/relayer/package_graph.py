"""Print exorelay's package graph from the real imports (grimp, which import-linter uses).

``python -m tests.relayer.package_graph`` prints one line per component: what it imports, directly,
at module level or inside functions. docs/architecture.md quotes the output and
tests/relayer/test_layers.py keeps the two equal. ``relayer.errors`` (the error root everything may
import) is left out.
"""

from __future__ import annotations

from typing import Final

import grimp

CLI_MODULES: Final = frozenset(
    {
        "relayer.cli",
        "relayer.__main__",
        "relayer.ops_cli",
        "relayer.replay.cli",
        "indexer.cli",
        "avs.operator.cli",
        "avs.aggregator.cli",
    }
)
"""The production command line: the role modules and the root that assembles them."""
COMPONENTS: Final = (
    "cli",
    "relayer.protocol",
    "relayer.config",
    "relayer.endpoints",
    "relayer.exocore",
    "relayer.metrics",
    "relayer.l1",
    "relayer.pipeline",
    "relayer.replay",
    "relayer",
    "indexer.ingest",
    "indexer.api",
    "indexer",
    "storage",
    "avs.operator",
    "avs.aggregator",
    "avs",
    "devnet.replay",
    "devnet",
)
"""Most specific first: a module belongs to the first component it is in (``cli`` is
:data:`CLI_MODULES`). ``relayer`` is the rest of the relayer (service, ops, health, logs);
``relayer.endpoints`` (the endpoint pool every chain client shares) sits below the clients;
``relayer.metrics`` (the Prometheus registry the stages count into) sits below the pipeline;
``indexer`` is the rest of the indexer (its ingest metrics; its CLI role is ``cli``); ``storage`` is
the bottom storage layer (tables, store, migrations); ``avs.operator`` is ``exorelay operator`` and
``avs.aggregator`` is ``exorelay aggregator`` (their CLI roles are ``cli``), ``avs`` the rest of the
AVS side; ``devnet`` includes its role modules."""
LEFT_OUT: Final = frozenset({"relayer.errors"})


def component(module: str) -> str | None:
    if module in LEFT_OUT:
        return None
    if module in CLI_MODULES:
        return "cli"
    for name in COMPONENTS:
        if module == name or module.startswith(name + "."):
            return name
    return None


def package_graph() -> dict[str, set[str]]:
    graph = grimp.build_graph("relayer", "indexer", "storage", "avs", "devnet")
    edges: dict[str, set[str]] = {name: set() for name in COMPONENTS}
    for module in graph.modules:
        source = component(module)
        if source is None:
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            target = component(imported)
            if target is not None and target != source:
                edges[source].add(target)
    return edges


def render(edges: dict[str, set[str]]) -> str:
    width = max(len(name) for name in COMPONENTS)
    lines = [
        f"{name:<{width}}  -> {', '.join(sorted(edges[name], key=COMPONENTS.index)) or '(nothing)'}"
        for name in COMPONENTS
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(package_graph()), end="")
