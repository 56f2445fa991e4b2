"""Small helpers around ``grpc.ServicerContext`` shared by the servicers."""

from __future__ import annotations

from typing import Any, NoReturn

import grpc

# Metadata key a Cosmos SDK node puts on every query answer: the height the state was read at.
BLOCK_HEIGHT_METADATA_KEY = "x-cosmos-block-height"


def abort(context: Any, code: grpc.StatusCode, message: str) -> NoReturn:
    """End the RPC with ``code`` (``ServicerContext.abort`` raises; the raise below is unreachable)."""
    context.abort(code, message)
    raise RuntimeError("grpc ServicerContext.abort returned")


def send_height(context: Any, height: int | None) -> None:
    """Attach ``x-cosmos-block-height`` to the answer, as the SDK's gRPC server does."""
    context.send_initial_metadata(((BLOCK_HEIGHT_METADATA_KEY, str(height or 0)),))
