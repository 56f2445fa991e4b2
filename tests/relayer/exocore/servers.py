"""Misbehaving HTTP endpoints for the Exocore client tests (real sockets on 127.0.0.1).

- :class:`ScriptedServer` answers each POST with whatever its handler returns, optionally after a
  delay or trickling the body byte by byte (a hanging / slow node).
- :class:`TamperingProxy` forwards JSON-RPC to a real devnet server and lets the test rewrite each
  answer (a lying node that is otherwise perfectly normal).
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

# serve_forever checks for shutdown this often; the default 0.5 s would add up over many tests.
SHUTDOWN_POLL_S = 0.05


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    delay_s: float = 0.0
    # Hold the answer until the server stops (a node that never answers, whatever the client's timeout).
    hang: bool = False
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
        # Set by stop(): releases every hanging or trickling answer so no handler thread outlives the test.
        self.released = threading.Event()
        owner = self

        class _RequestHandler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"null")
                owner.requests.append(body)
                reply = owner.handler(body)
                if reply.hang:
                    owner.released.wait()
                    return
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
                            if owner.released.wait(reply.trickle_s):
                                return
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
        self.released.set()
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


class TcpProxy:
    """A TCP relay to ``127.0.0.1:upstream_port`` whose websocket connections a test can cut or stall.

    A connection is a websocket if its first bytes are ``GET /websocket``. ``kill_websockets()``
    closes them (the client sees the socket drop); ``refuse_websockets = True`` closes new ones at
    once; ``stall_websockets(True)`` stops forwarding their bytes without closing anything (a node
    that silently stops pushing).
    """

    def __init__(self, upstream_port: int) -> None:
        self._upstream_port = upstream_port
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._lock = threading.Lock()
        self._websockets: list[tuple[socket.socket, socket.socket]] = []
        self._stalled = threading.Event()
        self.refuse_websockets = False
        self._closed = False
        self.websocket_connections = 0
        threading.Thread(target=self._accept_loop, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def kill_websockets(self) -> None:
        with self._lock:
            pairs, self._websockets = self._websockets, []
        for pair in pairs:
            for sock in pair:
                _close(sock)

    def stall_websockets(self, stalled: bool) -> None:
        if stalled:
            self._stalled.set()
        else:
            self._stalled.clear()

    def close(self) -> None:
        self._closed = True
        _close(self._listener)
        self.kill_websockets()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self._upstream_port))
            first = client.recv(65536)
        except OSError:
            _close(client)
            return
        is_websocket = first.startswith(b"GET /websocket")
        if is_websocket and self.refuse_websockets:
            _close(client)
            _close(upstream)
            return
        if is_websocket:
            with self._lock:
                self._websockets.append((client, upstream))
                self.websocket_connections += 1
        try:
            upstream.sendall(first)
        except OSError:
            _close(client)
            _close(upstream)
            return
        threading.Thread(target=self._pump, args=(upstream, client, is_websocket), daemon=True).start()
        self._pump(client, upstream, is_websocket)

    def _pump(self, source: socket.socket, target: socket.socket, is_websocket: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                while is_websocket and self._stalled.is_set() and not self._closed:
                    time.sleep(0.01)
                target.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(target)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def header_event(height: int | str) -> dict[str, Any]:
    """A pushed NewBlockHeader subscription message for ``height``."""
    return {
        "jsonrpc": "2.0",
        "id": "exorelay-follow",
        "result": {
            "query": "tm.event='NewBlockHeader'",
            "data": {"type": "tendermint/event/NewBlockHeader", "value": {"header": {"height": str(height)}}},
            "events": {"tm.event": ["NewBlockHeader"]},
        },
    }


class FakePushServer:
    """A websocket endpoint: acknowledges the subscription, then sends what the test :meth:`push`es."""

    def __init__(self) -> None:
        self._outbox: queue.Queue[str] = queue.Queue()
        self.subscriptions: list[Any] = []
        self._stopping = False
        self._server = serve(self._handle, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/websocket"

    def push(self, message: Any) -> None:
        self._outbox.put(message if isinstance(message, str) else json.dumps(message))

    def _handle(self, connection: ServerConnection) -> None:
        request = json.loads(connection.recv())
        self.subscriptions.append(request)
        connection.send(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": {}}))
        while not self._stopping:
            try:
                message = self._outbox.get(timeout=0.05)
            except queue.Empty:
                try:  # notice a client that went away even when there is nothing to send
                    connection.recv(timeout=0)
                except TimeoutError:
                    continue
                except ConnectionClosed:
                    return
                continue
            try:
                connection.send(message)
            except ConnectionClosed:
                self._outbox.put(message)
                return

    def stop(self) -> None:
        self._stopping = True
        self._server.shutdown()
