"""A scripted HTTP server on 127.0.0.1 (a real socket): each request is answered by the next reply of
a script, or by a handler; every request is recorded. For testing HTTP clients' retry and parsing
without standing in for a real service's logic."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any = None
    """JSON-encoded unless it is bytes."""


@dataclass
class Recorded:
    method: str
    path: str
    body: Any


@dataclass
class ScriptedHttp:
    handler: Callable[[Recorded], Reply]
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)


def scripted(replies: list[Reply]) -> Callable[[Recorded], Reply]:
    """Answer in order; the last reply repeats."""
    queue = list(replies)

    def next_reply(_request: Recorded) -> Reply:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return next_reply


@contextmanager
def serve_http(handler: Callable[[Recorded], Reply]) -> Iterator[ScriptedHttp]:
    server_state = ScriptedHttp(handler)

    class _Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length) if length else b""
            recorded = Recorded(method, self.path, json.loads(raw) if raw else None)
            server_state.requests.append(recorded)
            reply = server_state.handler(recorded)
            body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    server_state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield server_state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
