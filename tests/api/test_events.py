"""Events from the outbox to webhooks and a JSON-lines file: ECR's shapes, signatures,
retries with backoff, dead letters, and `berth events status`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest

from berth import cli
from berth.app import create_app
from berth.config import Settings, Webhook
from tests.api.helpers import push_image
from tests.api.scan_helpers import alpine_layers, push_layers
from tests.conftest import (
    ROOT_KEY_ID,
    ROOT_SECRET,
    RunningRegistry,
    ecr_client,
    free_port,
    registry_password,
    serving,
)
from tests.receiver import SECRET, Receiver, actions


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(fail_first=2).running() as running:
        yield running


@pytest.fixture
def evented(settings: Settings, receiver: Receiver) -> Iterator[RunningRegistry]:
    """The registry with a webhook (that fails its first two deliveries), a dead webhook, and
    a JSON-lines file."""
    configured = settings.model_copy(
        update={
            "webhooks": [
                Webhook(name="ci", url=receiver.url, secret=SECRET),
                Webhook(name="gone", url=f"http://127.0.0.1:{free_port()}/", secret="x"),
            ],
            "events_file": settings.data_dir.parent / "events.jsonl",
            "event_retry_base": 0.05,
            "event_max_attempts": 3,
            "scan_poll_interval": 0.2,
        }
    )
    with serving(create_app(configured), configured.port) as url:
        password = registry_password(url)
        with httpx.Client(base_url=url, timeout=30, auth=("AWS", password)) as client:
            yield RunningRegistry(url, configured, client, ecr_client(url), password)


def test_pushes_and_deletes_reach_every_target(
    evented: RunningRegistry, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    digest, _ = push_image(evented.client, "events/app", "v1")
    push_image(evented.client, "events/app", "v2", seed=b"b")
    evented.ecr.batch_delete_image(repositoryName="events/app", imageIds=[{"imageTag": "v2"}])
    assert evented.client.delete(f"/v2/events/app/manifests/{digest}").status_code == 202
    expected = {("PUSH", "v1"), ("PUSH", "v2"), ("DELETE", "v2"), ("DELETE", "v1")}
    receiver.wait_for(lambda events: actions(events) >= expected)
    assert receiver.bad_signatures == 0
    assert receiver.attempts >= len(receiver.events) + 2  # the first two were refused
    push = next(e for e in receiver.events if e["detail"]["action-type"] == "PUSH")
    assert push == {
        "version": "0",
        "id": push["id"],
        "detail-type": "ECR Image Action",
        "source": "aws.ecr",
        "account": "000000000000",
        "time": push["time"],
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "result": "SUCCESS",
            "repository-name": "events/app",
            "image-digest": digest,
            "action-type": "PUSH",
            "image-tag": "v1",
            "manifest-media-type": "application/vnd.oci.image.manifest.v1+json",
            "artifact-media-type": "application/vnd.oci.image.config.v1+json",
        },
    }
    # Events reach each target in the order of the changes.
    order = [(e["detail"]["action-type"], e["detail"]["image-tag"]) for e in receiver.events]
    assert order.index(("PUSH", "v2")) < order.index(("DELETE", "v2"))

    lines = (evented.settings.data_dir.parent / "events.jsonl").read_text().splitlines()
    assert actions([json.loads(line) for line in lines]) == expected

    # The dead webhook gave up after three attempts per event and moved on.
    settings = evented.settings
    flags = ["--data-dir", str(settings.data_dir), "--database-url", settings.sqlalchemy_url]

    def status() -> str:
        assert cli.main(["events", "status", *flags]) == 0
        return capsys.readouterr().out

    def dead_letters_of_gone() -> int:
        for line in status().splitlines():
            if line.startswith("webhook:gone "):
                return int(line.split()[5])
        return 0

    receiver.wait_for(lambda _: dead_letters_of_gone() == 4, timeout=30)
    report = status()
    assert "webhook:ci" in report and "file" in report
    assert "dead letters of webhook:gone" in report
    assert "ECR Image Action" in report


def test_a_finished_scan_is_an_event(evented: RunningRegistry, receiver: Receiver) -> None:
    evented.ecr.create_repository(
        repositoryName="scanned/app", imageScanningConfiguration={"scanOnPush": True}
    )
    digest = push_layers(evented.client, "scanned/app", "v1", alpine_layers())
    receiver.wait_for(
        lambda events: any(e["detail-type"] == "ECR Image Scan" for e in events), timeout=60
    )
    scan = next(e for e in receiver.events if e["detail-type"] == "ECR Image Scan")
    assert scan["source"] == "aws.ecr"
    assert scan["resources"] == ["arn:aws:ecr:us-east-1:000000000000:repository/scanned/app"]
    assert scan["detail"]["scan-status"] == "COMPLETE"
    assert scan["detail"]["image-digest"] == digest
    assert scan["detail"]["image-tags"] == ["v1"]


def test_a_push_reaches_cloudwatch_logs_through_an_eventbridge_rule(
    registry: RunningRegistry,
) -> None:
    """The guide's monitoring setup: a rule on ECR pushes, targeting a log group."""

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=registry.url,
            region_name="us-east-1",
            aws_access_key_id=ROOT_KEY_ID,
            aws_secret_access_key=ROOT_SECRET,
        )

    logs, events = client("logs"), client("events")
    logs.create_log_group(logGroupName="/aws/ecr/repository")
    events.put_rule(
        Name="ecr-pushes",
        EventPattern=json.dumps(
            {
                "source": ["aws.ecr"],
                "detail-type": ["ECR Image Action"],
                "detail": {"action-type": ["PUSH"]},
            }
        ),
    )
    events.put_targets(
        Rule="ecr-pushes",
        Targets=[
            {
                "Id": "logs",
                "Arn": "arn:aws:logs:us-east-1:000000000000:log-group:/aws/ecr/repository",
            }
        ],
    )
    digest, _ = push_image(registry.client, "monitored/app", "v1")
    registry.ecr.batch_delete_image(repositoryName="monitored/app", imageIds=[{"imageTag": "v1"}])
    deadline = time.monotonic() + 30
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not found:
        found = logs.filter_log_events(logGroupName="/aws/ecr/repository")["events"]
        time.sleep(0.1)
    assert len(found) == 1  # the delete did not match the rule
    event = json.loads(found[0]["message"])
    assert event["detail"]["image-digest"] == digest
    assert event["detail"]["action-type"] == "PUSH"
