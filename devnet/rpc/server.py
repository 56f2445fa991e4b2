"""CometBFT JSON-RPC over HTTP and websocket, served from a :class:`BlockStore`.

Front ends, as a CometBFT 0.37 node has them on its RPC port:

- ``POST /``: JSON-RPC 2.0, single request or batch; errors are JSON-RPC error objects with HTTP 200;
  a request without ``id`` is a notification and gets no answer; an empty body lists the endpoints.
- ``GET /<method>?arg=value``: the URI form; answers carry ``"id": -1``; errors come with HTTP 500.
- ``/websocket``: JSON-RPC over websocket, every method plus ``subscribe`` / ``unsubscribe`` /
  ``unsubscribe_all`` with event queries; ``NewBlock``, ``NewBlockHeader`` and ``Tx`` events are
  pushed as blocks are appended to the store.

:class:`CometRpcServer` runs uvicorn on a background thread bound to ``127.0.0.1`` (port 0 picks a
free port; :attr:`CometRpcServer.port` reports it), so tests and ``exorelay devnet up`` start and stop
it synchronously.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from devnet.chain.blockstore import Block, BlockStore, Subscription
from devnet.rpc import encoding
from devnet.rpc.encoding import JSON, NodeIdentity
from devnet.rpc.methods import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    SERVER_ERROR,
    AbciQueryRouter,
    ArgKind,
    ArgumentError,
    CometRpcMethods,
    Method,
    RpcError,
    decode_json_arg,
)
from devnet.rpc.query import EventQuery, QueryParseError

_log = logging.getLogger(__name__)

# Id CometBFT puts on answers to URI (GET) requests.
URI_REQUEST_ID = -1
# CometBFT defaults (config.toml [rpc]): subscriptions per websocket client, pending events per
# subscription before the client is dropped as too slow.
MAX_SUBSCRIPTIONS_PER_CLIENT = 5
SUBSCRIPTION_BUFFER_EVENTS = 100
CACHE_CONTROL_CACHEABLE = "public, max-age=86400"
SERVER_START_TIMEOUT_S = 10.0
# uvicorn waits this long for open connections (websockets) before closing them on stop().
SERVER_SHUTDOWN_GRACE_S = 1
SERVER_STOP_TIMEOUT_S = 10.0
RPC_OUTAGE_BODY = "devnet: simulated RPC outage\n"

NEW_BLOCK = "NewBlock"
NEW_BLOCK_HEADER = "NewBlockHeader"
TX = "Tx"


def _response(request_id: Any, result: JSON | None = None, error: RpcError | None = None) -> JSON:
    out: JSON = {"jsonrpc": "2.0"}
    if request_id is not None:
        out["id"] = request_id
    if error is not None:
        out["error"] = error.to_json()
    else:
        out["result"] = result
    return out


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _go_json_error(exc: json.JSONDecodeError) -> str:
    """Go's wording for the common JSON syntax errors."""
    if exc.pos >= len(exc.doc.rstrip()):
        return "unexpected end of JSON input"
    return f"invalid character {exc.doc[exc.pos]!r} looking for beginning of value"


@dataclass
class _ParsedRequest:
    request_id: Any
    method: str
    params: Any
    is_notification: bool


def _parse_request(raw: Any) -> _ParsedRequest:
    """One JSON-RPC request object; raises ValueError with Go's message if it cannot be decoded."""
    if not isinstance(raw, dict):
        raise ValueError(
            f"json: cannot unmarshal {type(raw).__name__} into Go value of type types.RPCRequest"
        )
    request_id = raw.get("id")
    if request_id is None:
        return _ParsedRequest(None, str(raw.get("method", "")), raw.get("params"), True)
    if isinstance(request_id, bool) or not isinstance(request_id, int | str | float):
        raise ValueError(f"json-rpc ID ({request_id}) is of unknown type ({type(request_id).__name__})")
    if isinstance(request_id, float):
        if request_id != int(request_id):
            raise ValueError(f"json-rpc ID must be a whole number, got {request_id}")
        request_id = int(request_id)
    method = raw.get("method", "")
    if not isinstance(method, str):
        raise ValueError("json: cannot unmarshal into Go struct field RPCRequest.method of type string")
    return _ParsedRequest(request_id, method, raw.get("params"), False)


@dataclass
class _Subscriber:
    """One websocket subscription: its query and the JSON-RPC id events are sent with."""

    query: EventQuery
    request_id: Any


@dataclass(eq=False)
class _WsClient:
    websocket: WebSocket
    outbox: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    subscriptions: dict[str, _Subscriber] = field(default_factory=dict)
    closed: bool = False


@dataclass(frozen=True)
class _Published:
    """One event message published for a block, ready to be matched against queries."""

    data: JSON
    events: dict[str, list[str]]


def _published_for(block: Block) -> list[_Published]:
    """NewBlock, NewBlockHeader, then one Tx per transaction: the order CometBFT fires them."""
    block_events = (*block.begin_block_events, *block.end_block_events)
    published = [
        _Published(encoding.new_block_event_data(block), encoding.composite_events(NEW_BLOCK, block_events)),
        _Published(
            encoding.new_block_header_event_data(block),
            encoding.composite_events(NEW_BLOCK_HEADER, block_events),
        ),
    ]
    for index, result in enumerate(block.tx_results):
        events = encoding.composite_events(TX, result.events)
        events["tx.hash"] = [encoding.hex_upper(block.tx_hashes[index])]
        events["tx.height"] = [str(block.height)]
        published.append(_Published(encoding.tx_event_data(block, index), events))
    return published


class CometRpcApp:
    """The ASGI application (Starlette) answering like a CometBFT 0.37 RPC server."""

    def __init__(
        self,
        store: BlockStore,
        identity: NodeIdentity,
        rpc_address: Callable[[], str],
        *,
        genesis: JSON | None = None,
        abci: AbciQueryRouter | None = None,
        pending_txs: Callable[[], Sequence[bytes]] | None = None,
    ) -> None:
        self._methods = CometRpcMethods(
            store, identity, rpc_address, genesis=genesis, abci=abci, pending_txs=pending_txs
        )
        self.methods = self._methods
        self._clients: set[_WsClient] = set()
        self.outage = False
        self.websocket_outage = False
        """Fault knob: refuse websockets while HTTP keeps answering (see ``set_websocket_outage``)."""
        self.asgi = Starlette(
            routes=[
                WebSocketRoute("/websocket", self._websocket),
                Route("/", self._root, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]),
                Route("/{method:path}", self._uri, methods=["GET", "POST", "HEAD"]),
            ]
        )

    # -- HTTP --

    @staticmethod
    def _json(body: Any, status: int = 200, cache: bool = False) -> Response:
        headers = {"X-Server-Time": str(int(time.time()))}
        if cache:
            headers["Cache-Control"] = CACHE_CONTROL_CACHEABLE
        return Response(_dumps(body), status_code=status, media_type="application/json", headers=headers)

    def _endpoint_list(self, request: Request) -> HTMLResponse:
        host = request.headers.get("host", "")
        plain = sorted(name for name, m in self._methods.methods.items() if not m.args)
        with_args = sorted(name for name, m in self._methods.methods.items() if m.args)
        lines = ["<html><body>", "<br>Available endpoints:<br>"]
        lines += [f'<a href="//{host}/{name}">{name}</a><br>' for name in plain]
        lines.append("<br>Endpoints that require arguments:<br>")
        for name in with_args:
            args = "&".join(f"{arg}=_" for arg, _ in self._methods.methods[name].args)
            link = f"//{host}/{name}?{args}"
            lines.append(f'<a href="{link}">{link}</a></br>')
        lines.append("</body></html>")
        return HTMLResponse("".join(lines))

    async def _root(self, request: Request) -> Response:
        if self.outage:
            return PlainTextResponse(RPC_OUTAGE_BODY, status_code=503)
        body = await request.body()
        if not body:
            return self._endpoint_list(request)
        try:
            decoded = json.loads(body)
        except json.JSONDecodeError as exc:
            error = RpcError(PARSE_ERROR, f"error unmarshaling request: {_go_json_error(exc)}")
            return self._json(_response(None, error=error), status=500)
        raw_requests = decoded if isinstance(decoded, list) else [decoded]
        try:
            requests = [_parse_request(raw) for raw in raw_requests]
        except ValueError as exc:
            error = RpcError(PARSE_ERROR, f"error unmarshaling request: {exc}")
            return self._json(_response(None, error=error), status=500)
        responses: list[JSON] = []
        cache = True
        for request_ in requests:
            if request_.is_notification:
                continue
            response, cacheable = self._call(request_, websocket=False)
            cache = cache and cacheable
            responses.append(response)
        if not responses:
            return Response(status_code=200)
        body_out: Any = responses[0] if len(responses) == 1 else responses
        return self._json(body_out, cache=cache)

    def _call(self, request_: _ParsedRequest, websocket: bool) -> tuple[JSON, bool]:
        """Run one JSON-RPC request; returns the response and whether it may be cached."""
        method = self._methods.methods.get(request_.method)
        if method is None or (method.ws_only and not websocket):
            return _response(request_.request_id, error=RpcError(METHOD_NOT_FOUND)), False
        params = request_.params
        try:
            result = method.call_with_json_params(params)
        except ArgumentError as exc:
            error = RpcError(INVALID_PARAMS, f"error converting json params to arguments: {exc}")
            return _response(request_.request_id, error=error), False
        except RpcError as exc:
            return _response(request_.request_id, error=exc), False
        given = params if isinstance(params, dict) else {}
        return _response(request_.request_id, result), method.is_cacheable(given)

    async def _uri(self, request: Request) -> Response:
        if self.outage:
            return PlainTextResponse(RPC_OUTAGE_BODY, status_code=503)
        name = request.path_params["method"]
        method: Method | None = self._methods.methods.get(name)
        if method is None or "/" in name:
            return PlainTextResponse("404 page not found\n", status_code=404)
        if method.ws_only:
            return self._json(_response(URI_REQUEST_ID, error=RpcError(METHOD_NOT_FOUND)), status=404)
        query = dict(request.query_params)
        try:
            result = method.call_with_uri_args(query)
        except ArgumentError as exc:
            error = RpcError(INVALID_PARAMS, f"error converting http params to arguments: {exc}")
            return self._json(_response(URI_REQUEST_ID, error=error), status=500)
        except RpcError as exc:
            return self._json(_response(URI_REQUEST_ID, error=exc), status=500)
        return self._json(_response(URI_REQUEST_ID, result), cache=method.is_cacheable(query))

    # -- websocket --

    async def _websocket(self, websocket: WebSocket) -> None:
        if self.outage or self.websocket_outage:
            await websocket.close(code=1013)
            return
        await websocket.accept()
        client = _WsClient(websocket)
        self._clients.add(client)
        writer = asyncio.create_task(self._write_loop(client))
        try:
            while True:
                text = await websocket.receive_text()
                for reply in self._handle_ws_message(client, text):
                    await client.outbox.put(reply)
        except WebSocketDisconnect:
            pass
        finally:
            client.closed = True
            self._clients.discard(client)
            await client.outbox.put(None)
            with contextlib.suppress(Exception):
                await writer

    async def _write_loop(self, client: _WsClient) -> None:
        while True:
            message = await client.outbox.get()
            if message is None:
                return
            try:
                await client.websocket.send_text(message.decode())
            except Exception:  # the peer went away; the reader notices and cleans up
                return

    def _handle_ws_message(self, client: _WsClient, text: str) -> list[bytes]:
        try:
            raw = json.loads(text)
            request_ = _parse_request(raw)
        except json.JSONDecodeError as exc:
            error = RpcError(PARSE_ERROR, f"error unmarshaling request: {_go_json_error(exc)}")
            return [_dumps(_response(None, error=error))]
        except ValueError as exc:
            error = RpcError(PARSE_ERROR, f"error unmarshaling request: {exc}")
            return [_dumps(_response(None, error=error))]
        if request_.is_notification:
            return []
        handler = {
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "unsubscribe_all": self._unsubscribe_all,
        }.get(request_.method)
        if handler is None:
            response, _ = self._call(request_, websocket=True)
            return [_dumps(response)]
        try:
            result = handler(client, request_)
        except ArgumentError as exc:
            error = RpcError(INVALID_PARAMS, f"error converting json params to arguments: {exc}")
            return [_dumps(_response(request_.request_id, error=error))]
        except RpcError as exc:
            return [_dumps(_response(request_.request_id, error=exc))]
        return [_dumps(_response(request_.request_id, result))]

    @staticmethod
    def _query_param(request_: _ParsedRequest) -> str:
        params = request_.params
        if isinstance(params, dict):
            value = params.get("query")
        elif isinstance(params, list) and len(params) == 1:
            value = params[0]
        elif params is None:
            value = None
        else:
            count = len(params) if isinstance(params, list) else 0
            raise ArgumentError(f"expected 1 parameters ([query]), got {count}")
        return str(decode_json_arg(ArgKind.STRING, value) or "")

    def _subscribe(self, client: _WsClient, request_: _ParsedRequest) -> JSON:
        text = self._query_param(request_)
        try:
            query = EventQuery.parse(text)
        except QueryParseError as exc:
            raise RpcError(INTERNAL_ERROR, f"failed to parse query: {exc}") from exc
        if len(client.subscriptions) >= MAX_SUBSCRIPTIONS_PER_CLIENT:
            raise RpcError(
                INTERNAL_ERROR, f"max_subscriptions_per_client {MAX_SUBSCRIPTIONS_PER_CLIENT} reached"
            )
        if text in client.subscriptions:
            raise RpcError(INTERNAL_ERROR, "already subscribed")
        client.subscriptions[text] = _Subscriber(query, request_.request_id)
        return {}

    def _unsubscribe(self, client: _WsClient, request_: _ParsedRequest) -> JSON:
        text = self._query_param(request_)
        try:
            EventQuery.parse(text)
        except QueryParseError as exc:
            raise RpcError(INTERNAL_ERROR, f"failed to parse query: {exc}") from exc
        if client.subscriptions.pop(text, None) is None:
            raise RpcError(INTERNAL_ERROR, "subscription not found")
        return {}

    def _unsubscribe_all(self, client: _WsClient, _request: _ParsedRequest) -> JSON:
        if not client.subscriptions:
            raise RpcError(INTERNAL_ERROR, "subscription not found")
        client.subscriptions.clear()
        return {}

    def publish(self, block: Block) -> None:
        """Push this block's events to matching subscriptions. Runs on the server's event loop."""
        if not any(client.subscriptions for client in self._clients):
            return
        published = _published_for(block)
        for item in published:  # event order first: NewBlock, NewBlockHeader, then each Tx
            for client in list(self._clients):
                for text, subscriber in list(client.subscriptions.items()):
                    if subscriber.query.matches(item.events):
                        self._deliver(client, text, subscriber, item)

    @staticmethod
    def _deliver(client: _WsClient, text: str, subscriber: _Subscriber, item: _Published) -> None:
        if client.outbox.qsize() >= SUBSCRIPTION_BUFFER_EVENTS * MAX_SUBSCRIPTIONS_PER_CLIENT:
            # CometBFT cancels a subscription whose client does not keep up, and says so.
            del client.subscriptions[text]
            error = RpcError(
                SERVER_ERROR,
                "subscription was cancelled (reason: client is not pulling messages fast enough)",
            )
            client.outbox.put_nowait(_dumps(_response(subscriber.request_id, error=error)))
            return
        message = {"query": text, "data": item.data, "events": item.events}
        client.outbox.put_nowait(_dumps(_response(subscriber.request_id, message)))

    async def close_websockets(self) -> None:
        for client in list(self._clients):
            with contextlib.suppress(Exception):
                await client.websocket.close(code=1001)


class CometRpcServer:
    """Start/stop wrapper: uvicorn on a daemon thread with its own event loop.

    ``port=0`` binds a free port; after :meth:`start`, :attr:`port`, :attr:`url` and :attr:`ws_url`
    say where it listens. Blocks appended to ``store`` after start are pushed to subscribers.
    ``genesis`` / ``abci`` / ``pending_txs`` feed ``/genesis``, ``/abci_query`` and
    ``/num_unconfirmed_txs`` (see :class:`~devnet.rpc.methods.CometRpcMethods`).
    """

    def __init__(
        self,
        store: BlockStore,
        identity: NodeIdentity,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        genesis: JSON | None = None,
        abci: AbciQueryRouter | None = None,
        pending_txs: Callable[[], Sequence[bytes]] | None = None,
    ) -> None:
        self._store = store
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self.app = CometRpcApp(
            store,
            identity,
            lambda: f"tcp://{self._host}:{self._port or 0}",
            genesis=genesis,
            abci=abci,
            pending_txs=pending_txs,
        )
        self._server: uvicorn.Server | None = None
        self.listening_socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscription: Subscription | None = None
        self._startup_error: BaseException | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the RPC server is not started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self._host}:{self.port}/websocket"

    def serve_abci_queries(self, router: AbciQueryRouter) -> None:
        """Answer ``/abci_query`` with ``router`` (set after construction: it needs the node)."""
        self.app.methods.set_abci(router)

    def set_outage(self, enabled: bool) -> None:
        """Fault knob: answer every HTTP request with 503 and refuse websockets while enabled."""
        self.app.outage = enabled

    def set_websocket_outage(self, enabled: bool) -> None:
        """Fault knob: drop every open websocket (its subscriptions end) and refuse new ones while
        enabled; HTTP JSON-RPC keeps answering, as when a proxy in front of a node cuts websockets."""
        self.app.websocket_outage = enabled
        if enabled:
            self._run_on_loop(self.app.close_websockets)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the RPC server is already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit this. Without it uvicorn's separate header/body writes meet the
        # client's delayed ACK and every response waits ~40 ms (Nagle); a CometBFT node answers in <1 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self._host, self._requested_port))
        sock.listen(128)
        self._port = sock.getsockname()[1]
        self.listening_socket = sock
        config = uvicorn.Config(
            self.app.asgi,
            log_level="warning",
            lifespan="off",
            ws="websockets-sansio",
            timeout_graceful_shutdown=SERVER_SHUTDOWN_GRACE_S,
        )
        server = uvicorn.Server(config)
        self._server = server

        def run() -> None:
            try:
                asyncio.run(self._serve(server, sock))
            except BaseException as exc:  # reported to start() / logged; the thread must not die silently
                self._startup_error = exc
                _log.exception("CometBFT RPC server crashed")

        self._thread = threading.Thread(target=run, name="devnet-cometbft-rpc", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"RPC server failed to start: {self._startup_error!r}")
            time.sleep(0.01)

    async def _serve(self, server: uvicorn.Server, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop

        def on_block(block: Block) -> None:
            loop.call_soon_threadsafe(self.app.publish, block)

        self._subscription = self._store.subscribe(on_block)
        try:
            await server.serve(sockets=[sock])
        finally:
            self._subscription.close()

    def _run_on_loop(self, coroutine: Callable[[], Coroutine[Any, Any, None]]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(coroutine(), loop).result(timeout=SERVER_STOP_TIMEOUT_S)

    def stop(self) -> None:
        """Close websockets, stop serving and join the thread. Safe to call twice."""
        if self._thread is None:
            return
        self._run_on_loop(self.app.close_websockets)
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(timeout=SERVER_STOP_TIMEOUT_S)
        if self._thread.is_alive():
            _log.warning("CometBFT RPC server thread did not stop within %ss", SERVER_STOP_TIMEOUT_S)
        self._thread = None
        self._server = None
        self._loop = None

    def __enter__(self) -> CometRpcServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


__all__ = ["INVALID_REQUEST", "CometRpcApp", "CometRpcServer", "NodeIdentity"]
