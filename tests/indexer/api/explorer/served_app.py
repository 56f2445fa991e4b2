"""The API served by uvicorn on a free loopback port from a daemon thread, for the browser tests."""

from __future__ import annotations

import socket
import threading
import time
from typing import Final

import uvicorn
from fastapi import FastAPI

SERVER_START_TIMEOUT_S: Final = 60.0
"""uvicorn binds within a second; the margin covers a loaded two-core machine."""


class ServedApp:
    """An ASGI app served by uvicorn on a free loopback port, from a daemon thread."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        host, port = self.socket.getsockname()
        self.url = f"http://{host}:{port}"
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, name="explorer-api", daemon=True
        )

    def __enter__(self) -> ServedApp:
        self.thread.start()
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise AssertionError(f"the API did not start on {self.url}")
            time.sleep(0.05)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(SERVER_START_TIMEOUT_S)
        self.socket.close()
