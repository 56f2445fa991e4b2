"""What the hot-path tests share: the hot-read outcome counters and the two ways to ask one URL
(plain, taken by the hot path; one character percent-encoded, answered only by the FastAPI route)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry


def outcomes(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    found: dict[tuple[str, str], float] = {}
    for metric in registry.collect():
        if metric.name == "exorelay_api_hot_reads":
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    found[(sample.labels["route"], sample.labels["outcome"])] = sample.value
    return found


def counted(registry: CollectorRegistry, route: str, outcome: str) -> float:
    return outcomes(registry).get((route, outcome), 0.0)


def via_route(address: str) -> str:
    """The same address with one character percent-encoded: identical to the route (Starlette
    decodes it), never taken by the hot path (it only reads plain query strings)."""
    return address[:2] + f"%{ord(address[2]):02X}" + address[3:]


def raw_get(client: TestClient, url: str) -> Any:
    response = client.get(url)
    return response.status_code, response.json()
