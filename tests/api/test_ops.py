from __future__ import annotations

from tests.conftest import RunningRegistry


def test_health_and_readiness(registry: RunningRegistry) -> None:
    assert registry.client.get("/healthz").text == "ok\n"
    ready = registry.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.text == "ready\n"
