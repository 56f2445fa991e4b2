"""A lying Exocore endpoint for the client's defences: the devnet node's own answers, with the answers of
named ``ChainQueries`` methods altered on their way to the gRPC servicers.

An honest state machine never serves a distribution whose leaf indices have a hole or a valset whose
total is not the sum of its powers, yet a relayer must refuse such answers from a faulty or hostile
node; nor does the devnet leave fields unset where upstream Exocore may (a committee's 0/0 threshold,
meaning the default). These answers cannot be reached through real messages, so each test alters
exactly the field it is about, in a copy of what the real node answered (the node's state is never
touched); every other method answers as the node does.

Invariant: an ``alter`` function receives a deep copy of the real answer and returns what is served.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, cast

from devnet.chain.node import DevnetNode
from devnet.grpc.queries import ChainQueries


class TamperedQueries:
    """``node``'s answers, except that ``alter[name](answer)`` is served for method ``name``."""

    def __init__(self, node: DevnetNode, **alter: Callable[[Any], Any]) -> None:
        self._node = node
        self._alter = alter

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._node, name)
        alter = self._alter.get(name)
        if alter is None:
            return real

        def tampered(*args: Any) -> Any:
            return alter(copy.deepcopy(real(*args)))

        return tampered


def tampered(node: DevnetNode, **alter: Callable[[Any], Any]) -> ChainQueries:
    """:class:`TamperedQueries` typed as what ``DevnetGrpcServer`` serves (it answers every method)."""
    return cast(ChainQueries, TamperedQueries(node, **alter))
