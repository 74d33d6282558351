"""No event is lost: a webhook that fails its first deliveries and is down while Berth is
killed (-9) and restarted still receives every push and delete."""

from __future__ import annotations

import json

import pytest

from tests.api.helpers import push_image
from tests.e2e.conftest import BerthProcess
from tests.receiver import SECRET, Receiver, actions

pytestmark = pytest.mark.e2e


def test_every_event_survives_failures_kill_and_restart(berth_process: BerthProcess) -> None:
    receiver = Receiver(fail_first=3)
    hooks = json.dumps([{"name": "ci", "url": receiver.url, "secret": SECRET}])
    env = {"BERTH_WEBHOOKS": hooks, "BERTH_EVENT_RETRY_BASE": "0.05"}
    expected: set[tuple[str, str | None]] = set()

    with receiver.running():
        berth_process.start(env=env)
        with berth_process.client(timeout=30) as client:
            for i in range(3):
                push_image(client, "events/app", f"a{i}", seed=f"a{i}".encode())
                expected.add(("PUSH", f"a{i}"))
        receiver.wait_for(lambda events: ("PUSH", "a0") in actions(events))
    # The receiver is down: deliveries fail and back off while more changes happen.
    with berth_process.client(timeout=30) as client:
        for i in range(3):
            push_image(client, "events/app", f"b{i}", seed=f"b{i}".encode())
            expected.add(("PUSH", f"b{i}"))
        assert client.delete("/v2/events/app/manifests/a1").status_code == 202
        expected.add(("DELETE", "a1"))
    berth_process.kill()
    # Changes made while Berth was down cannot exist; restart with the receiver still down.
    berth_process.start(env=env)
    with berth_process.client(timeout=30) as client:
        push_image(client, "events/app", "c0", seed=b"c0")
        expected.add(("PUSH", "c0"))
    with receiver.running():
        receiver.wait_for(lambda events: actions(events) >= expected, timeout=60)
    assert receiver.bad_signatures == 0
    assert actions(receiver.events) == expected
