"""Several API workers, each accepting on a listening socket of its own (``SO_REUSEPORT``).

uvicorn's ``--workers`` share one listening socket: whichever worker wakes first accepts every
connection waiting, so a burst of new keep-alive connections (clients reconnecting after a restart,
a proxy opening its upstream pool) can land 49 to 1 on one worker, which then serves nearly all
the traffic on one core while the others idle (bench/indexer_ingest_api.py, 50 connections: 3,800
requests/s with 49/1/0 over 3 workers, 6,300-7,500 with an even spread). With one
``SO_REUSEPORT`` socket per worker the kernel spreads connections over the workers by address
hash.

Everything else is uvicorn's supervisor: signals, health checks, restarting dead workers.
"""

from __future__ import annotations

import socket
from typing import Any

from uvicorn import Config
from uvicorn.supervisors import Multiprocess


def reuse_port_supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` that other ``SO_REUSEPORT`` sockets may share. Not yet
    listening: its worker's server listens once the app is up, so the kernel hands a starting (or
    restarting) worker no connection before it can answer."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class ReusePortSupervisor(Multiprocess):
    """uvicorn's multi-process supervisor, handing each worker it starts (or restarts) a fresh
    ``SO_REUSEPORT`` socket instead of the one shared socket."""

    def __init__(self, config: Config) -> None:
        self._handed_out: list[socket.socket] = []
        super().__init__(config, sockets=[])

    @property
    def sockets(self) -> list[socket.socket]:
        # Read once per worker the supervisor creates, right before it starts that worker. The
        # sockets handed out before went to their workers when those were spawned (the spawn passes
        # the descriptor to the child): the parent's copies go, or a dead worker's socket would stay
        # in the group and be given connections nobody accepts.
        self._close_handed_out()
        sock = reuse_port_socket(self.config.host, self.config.port)
        self._handed_out.append(sock)
        return [sock]

    @sockets.setter
    def sockets(self, _value: Any) -> None:
        """The base class stores the shared socket here; each worker gets its own instead."""

    def keep_subprocess_alive(self) -> None:
        self._close_handed_out()
        super().keep_subprocess_alive()

    def _close_handed_out(self) -> None:
        while self._handed_out:
            self._handed_out.pop().close()
