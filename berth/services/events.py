"""Events about images: written to the outbox with the change, delivered at least once.

`ImageEvents` builds the EventBridge-shaped documents (berth.domain.events) that services hand
to the store with a change. `EventDelivery` runs in the background: each target (a webhook, a
JSON-lines file, the EventBridge rules) reads the outbox from its own cursor in commit order,
retries a failing delivery with exponential backoff, and after `max_attempts` moves the event
to the target's dead letters and goes on. Cursors live in the database, so a restart (or a
kill) resumes where delivery stopped; an event may then arrive twice, never not at all.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import aiohttp

from berth.domain.events import image_action_event, sign_webhook
from berth.storage.ports import OutboxEvent, OutboxStore, Repository

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Berth-Signature"
BATCH = 100


def _tags_or_none(tags: Sequence[str]) -> list[str | None]:
    return [*tags] if tags else [None]


class ImageEvents:
    """The ECR Image Action events of a change, ready for the outbox."""

    def action(
        self,
        repository: Repository,
        action: Literal["PUSH", "DELETE"],
        digest: str,
        tags: Sequence[str],
        *,
        media_type: str | None = None,
        artifact_media_type: str | None = None,
    ) -> list[OutboxEvent]:
        now = datetime.now(UTC)
        # ECR sends one event per tag, and one without a tag for an untagged image.
        return [
            self._event(
                repository,
                image_action_event(
                    action=action,
                    result="SUCCESS",
                    repository=repository.name,
                    digest=digest,
                    tag=tag,
                    account=repository.account_id,
                    region=repository.region,
                    now=now,
                    event_id=str(uuid.uuid4()),
                    manifest_media_type=media_type,
                    artifact_media_type=artifact_media_type,
                ),
            )
            for tag in _tags_or_none(tags)
        ]

    def _event(self, repository: Repository, body: Mapping[str, Any]) -> OutboxEvent:
        return OutboxEvent(str(body["id"]), repository.account_id, json.dumps(body))

    def raw(self, account_id: str, body: Mapping[str, Any]) -> OutboxEvent:
        return OutboxEvent(str(body["id"]), account_id, json.dumps(body))


# A target delivers one event (the JSON document); raising means "try again later".
Deliver = Callable[[str], Awaitable[None]]


def webhook(url: str, secret: str, session: Callable[[], aiohttp.ClientSession]) -> Deliver:
    async def deliver(body: str) -> None:
        data = body.encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_webhook(data, secret.encode(), int(time.time())),
        }
        timeout = aiohttp.ClientTimeout(total=10)
        async with session().post(url, data=data, headers=headers, timeout=timeout) as response:
            if response.status >= 300:
                raise RuntimeError(f"webhook answered HTTP {response.status}")

    return deliver


def json_lines(path: Path) -> Deliver:
    async def deliver(body: str) -> None:
        def append() -> None:
            with path.open("a", encoding="utf-8") as file:
                file.write(body + "\n")
                file.flush()

        await asyncio.to_thread(append)

    return deliver


class EventDelivery:
    def __init__(
        self,
        store: OutboxStore,
        targets: Mapping[str, Deliver],
        *,
        max_attempts: int = 8,
        backoff: float = 1.0,
        max_backoff: float = 300.0,
    ) -> None:
        self._store = store
        self._targets = dict(targets)
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._max_backoff = max_backoff
        self.delivered = 0
        self.failures = 0

    async def deliver_once(self) -> int:
        """One pass over every target; how many events were delivered."""
        total = 0
        for name, deliver in self._targets.items():
            try:
                total += await self._target(name, deliver)
            except Exception:
                log.exception("event delivery to %s failed", name)
        return total

    async def _target(self, name: str, deliver: Deliver) -> int:
        state = await self._store.cursor(name)
        now = datetime.now(UTC)
        if state.next_attempt_at is not None and state.next_attempt_at > now:
            return 0
        batch = await self._store.events_after(state.cursor, BATCH)
        cursor, done, attempts = state.cursor, 0, state.attempts
        for event in batch:
            try:
                await deliver(event.body)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"[:1000]
                attempts += 1
                self.failures += 1
                if attempts >= self._max_attempts:
                    # Dead-lettered: recorded for `berth events status`, and delivery goes on.
                    await self._store.dead_letter(name, event, attempts, error)
                    log.warning("event %s to %s dead-lettered: %s", event.seq, name, error)
                    cursor, attempts = event.seq, 0
                    continue
                if done or cursor != state.cursor:
                    await self._store.advance(name, state.cursor, cursor, done)
                delay = min(self._max_backoff, self._backoff * 2 ** (attempts - 1))
                await self._store.failed(
                    name, cursor, attempts, error, now + timedelta(seconds=delay)
                )
                return done
            cursor, done, attempts = event.seq, done + 1, 0
            self.delivered += 1
        if cursor != state.cursor or state.attempts:
            await self._store.advance(name, state.cursor, cursor, done)
        return done

    async def run(self, interval: float, retention: timedelta) -> None:
        """Deliver until cancelled; prune events every target has passed after `retention`."""
        last_prune = 0.0
        while True:
            try:
                delivered = await self.deliver_once()
                if time.monotonic() - last_prune > 3600:
                    await self._store.prune(datetime.now(UTC) - retention)
                    last_prune = time.monotonic()
            except Exception:
                log.exception("event delivery failed; will retry")
                delivered = 0
            if delivered < BATCH:
                await asyncio.sleep(interval)
