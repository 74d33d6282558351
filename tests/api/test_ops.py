from __future__ import annotations

import stat

import httpx

from berth.app import create_app
from berth.config import Settings
from tests.api.helpers import push_image
from tests.conftest import RunningRegistry, serving


def test_health_and_readiness(registry: RunningRegistry) -> None:
    assert registry.client.get("/healthz").text == "ok\n"
    ready = registry.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.text == "ready\n"


def test_data_folder_is_private(registry: RunningRegistry) -> None:
    # Created on first start: only its owner may read images and metadata.
    assert stat.S_IMODE(registry.settings.data_dir.stat().st_mode) == 0o700


def test_metrics(registry: RunningRegistry) -> None:
    push_image(registry.client, "metrics/app", "v1")
    assert registry.client.get("/v2/metrics/app/manifests/v1").status_code == 200
    registry.ecr.describe_repositories()
    text = registry.client.get("/metrics").text
    assert 'berth_requests_total{api="ecr",operation="DescribeRepositories",status="200"}' in text
    assert 'berth_requests_total{api="oci",operation="PUT manifest",status="201"}' in text
    assert 'berth_request_duration_seconds_count{api="oci",operation="GET manifest"}' in text
    sent = [line for line in text.splitlines() if line.startswith("berth_bytes_sent_total")]
    assert sent and float(sent[0].split()[-1]) > 0
    for name in ("berth_storage_bytes", "berth_uploads_in_progress", "berth_events_delivered"):
        assert f"\n{name}" in text


def test_metrics_with_a_token(settings: Settings) -> None:
    guarded = settings.model_copy(update={"metrics_token": "scrape-me"})
    with serving(create_app(guarded), guarded.port) as url:
        assert httpx.get(f"{url}/metrics").status_code == 403
        wrong = httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403
        ok = httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert ok.status_code == 200
        assert "berth_requests_total" in ok.text
