"""Misbehaving HTTP endpoints for the Exocore client tests (real sockets on 127.0.0.1).

- :class:`ScriptedServer` answers each POST with whatever its handler returns, optionally after a
  delay or trickling the body byte by byte (a hanging / slow node).
- :class:`TamperingProxy` forwards JSON-RPC to a real devnet server and lets the test rewrite each
  answer (a lying node that is otherwise perfectly normal).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

# serve_forever checks for shutdown this often; the default 0.5 s would add up over many tests.
SHUTDOWN_POLL_S = 0.05


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    delay_s: float = 0.0
    # Seconds between bytes of the body (0 = send at once).
    trickle_s: float = 0.0


Handler = Callable[[Any], Reply]


def rpc_reply(request: Any, result: Any) -> Reply:
    """A JSON-RPC 2.0 success answer to ``request`` (single object)."""
    return Reply(body=json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": result}).encode())


def rpc_error_reply(request: Any, code: int, message: str, data: str) -> Reply:
    error = {"code": code, "message": message, "data": data}
    return Reply(body=json.dumps({"jsonrpc": "2.0", "id": request["id"], "error": error}).encode())


class _Http(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class ScriptedServer:
    """POST / -> ``handler(parsed JSON body)``; counts requests in :attr:`requests`."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Any] = []
        owner = self

        class _RequestHandler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"null")
                owner.requests.append(body)
                reply = owner.handler(body)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    if reply.trickle_s:
                        for byte in reply.body:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(reply.trickle_s)
                    else:
                        self.wfile.write(reply.body)
                except OSError:
                    pass  # the client gave up (timeout); nothing to do

        self._server = _Http(("127.0.0.1", 0), _RequestHandler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_S}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


Tamper = Callable[[str, dict[str, Any], dict[str, Any]], dict[str, Any]]


class TamperingProxy(ScriptedServer):
    """Forwards to ``upstream``; ``tamper(method, params, response_object)`` may rewrite each answer."""

    def __init__(self, upstream: str, tamper: Tamper) -> None:
        self._upstream = httpx.Client(timeout=10)
        self._upstream_url = upstream
        self.tamper = tamper
        super().__init__(self._forward)

    def _forward(self, body: Any) -> Reply:
        answer = self._upstream.post(self._upstream_url, json=body).json()
        requests = body if isinstance(body, list) else [body]
        answers = answer if isinstance(answer, list) else [answer]
        by_id = {request["id"]: request for request in requests}
        rewritten = [
            self.tamper(by_id[item["id"]]["method"], by_id[item["id"]].get("params") or {}, item)
            for item in answers
        ]
        out: Any = rewritten if isinstance(answer, list) else rewritten[0]
        return Reply(body=json.dumps(out).encode())

    def stop(self) -> None:
        super().stop()
        self._upstream.close()


def closed_port_url() -> str:
    """A URL nothing listens on (bound then closed, so the port is free and refuses connections)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"
