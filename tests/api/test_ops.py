from __future__ import annotations

import stat

from tests.conftest import RunningRegistry


def test_health_and_readiness(registry: RunningRegistry) -> None:
    assert registry.client.get("/healthz").text == "ok\n"
    ready = registry.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.text == "ready\n"


def test_data_folder_is_private(registry: RunningRegistry) -> None:
    # Created on first start: only its owner may read images and metadata.
    assert stat.S_IMODE(registry.settings.data_dir.stat().st_mode) == 0o700
