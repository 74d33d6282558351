"""Lifecycle policies: Put/Get/DeleteLifecyclePolicy, previews and enforcement.

Preview and enforcement both call `berth.domain.lifecycle.evaluate` on the same image facts;
enforcement then deletes exactly what a preview would have listed (re-checking, image by image,
that its tags did not change in between).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from berth.domain.audit import AuditEntry, policy_execution_entries
from berth.domain.events import lifecycle_summary_event
from berth.domain.lifecycle import Decision, ImageFacts, Policy, evaluate, parse_policy
from berth.domain.pagination import decode_token, encode_token
from berth.domain.scope import Scope
from berth.errors import (
    LifecyclePolicyNotFound,
    LifecyclePolicyPreviewInProgress,
    LifecyclePolicyPreviewNotFound,
)
from berth.services.events import ImageEvents
from berth.services.repositories import RepositoriesService
from berth.storage.ports import (
    ExpiredImage,
    LifecyclePolicyRecord,
    LifecycleStore,
    MetadataStore,
    PreviewRecord,
    PreviewResult,
    Repository,
)

log = logging.getLogger(__name__)

# Images deleted per transaction while enforcing.
EXPIRE_BATCH = 100
# A preview still IN_PROGRESS this long after it started lost its process.
PREVIEW_TIMEOUT = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Preview:
    record: PreviewRecord
    results: list[PreviewResult]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class RunResult:
    repository: Repository
    judged: int
    expired: list[ExpiredImage]
    dry_run: bool


Progress = Callable[[Repository, int, int], None]


class LifecycleService:
    def __init__(
        self,
        metadata: MetadataStore,
        store: LifecycleStore,
        repositories: RepositoriesService,
    ) -> None:
        self._metadata = metadata
        self._store = store
        self._repositories = repositories
        self._previews: set[asyncio.Task[None]] = set()
        self._events = ImageEvents()
        self.expired = 0  # images expired by enforcement in this process (a metric)
        # Where a run's CloudTrail PolicyExecutionEvent records go (the audit trail).
        self.audit: Callable[[AuditEntry], None] | None = None

    # the policy document

    async def put_lifecycle_policy(self, scope: Scope, name: str, text: str) -> None:
        repository = await self._repositories.get(scope, name)
        parse_policy(text)
        await self._metadata.put_lifecycle_policy(repository.id, text)

    async def get_lifecycle_policy(self, scope: Scope, name: str) -> LifecyclePolicyRecord:
        repository = await self._repositories.get(scope, name)
        policy = await self._metadata.get_lifecycle_policy(repository.id)
        if policy is None:
            raise _not_found(scope, name)
        return policy

    async def delete_lifecycle_policy(self, scope: Scope, name: str) -> LifecyclePolicyRecord:
        repository = await self._repositories.get(scope, name)
        policy = await self._metadata.delete_lifecycle_policy(repository.id)
        if policy is None:
            raise _not_found(scope, name)
        return policy

    # previews

    async def start_lifecycle_policy_preview(
        self, scope: Scope, name: str, text: str | None
    ) -> tuple[str, str]:
        """Start evaluating `text` (or the stored policy); its text and status."""
        repository = await self._repositories.get(scope, name)
        if text is None:
            stored = await self._metadata.get_lifecycle_policy(repository.id)
            if stored is None:
                raise _not_found(scope, name)
            text = stored.text
        policy = parse_policy(text)
        if not await self._store.start_preview(repository.id, text):
            raise LifecyclePolicyPreviewInProgress(
                "Previous lifecycle policy preview request has not been completed"
            )
        task = asyncio.create_task(self._preview(repository, policy))
        self._previews.add(task)
        task.add_done_callback(self._previews.discard)
        return text, "IN_PROGRESS"

    async def _preview(self, repository: Repository, policy: Policy) -> None:
        try:
            images = await self._store.image_facts(repository.id)
            # CPU-bound for large repositories: off the event loop, which keeps serving.
            decisions = await asyncio.to_thread(_judge, policy, images)
            await self._store.finish_preview(
                repository.id,
                [
                    PreviewResult(image.digest, image.tags, image.pushed_at, priority)
                    for image, priority in decisions
                ],
            )
        except Exception:
            log.exception("lifecycle policy preview of %s failed", repository.name)
            await self._store.finish_preview(repository.id, [], failed=True)

    async def get_lifecycle_policy_preview(
        self,
        scope: Scope,
        name: str,
        *,
        digests: Sequence[str] | None,
        tag_status: str,
        next_token: str | None,
        limit: int,
    ) -> Preview:
        repository = await self._repositories.get(scope, name)
        record = await self._store.get_preview(repository.id)
        stale = datetime.now(UTC) - PREVIEW_TIMEOUT
        if record is not None and record.status == "IN_PROGRESS" and record.started_at < stale:
            await self._store.fail_unfinished_previews(stale)
            record = await self._store.get_preview(repository.id)
        if record is None:
            raise LifecyclePolicyPreviewNotFound(
                f"There is no dry run for the repository with name '{name}' in the registry "
                f"with id '{scope.account_id}'"
            )
        if record.status != "COMPLETE":
            return Preview(record, [], None)
        results = await self._store.preview_results(
            repository.id,
            digests=digests,
            tag_status=tag_status,
            after=decode_token(next_token),
            limit=limit + 1,
        )
        token = encode_token(results[limit - 1].digest) if len(results) > limit else None
        return Preview(record, results[:limit], token)

    async def wait_for_previews(self) -> None:
        if self._previews:
            await asyncio.gather(*self._previews, return_exceptions=True)

    # enforcement

    async def run(
        self,
        *,
        repository: str | None = None,
        scope: Scope | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> list[RunResult]:
        """Apply every stored policy (or one repository's) once."""
        results = []
        for target in await self._store.policy_targets():
            repo = target.repository
            if repository is not None and repo.name != repository:
                continue
            if scope is not None and (repo.account_id, repo.region) != (
                scope.account_id,
                scope.region,
            ):
                continue
            try:
                results.append(await self._enforce(repo, target.text, dry_run, progress))
            except Exception:
                log.exception("lifecycle policy of %s could not be applied", repo.name)
        return results

    async def _enforce(
        self, repository: Repository, policy_text: str, dry_run: bool, progress: Progress | None
    ) -> RunResult:
        policy = parse_policy(policy_text)
        started = time.monotonic()
        now = datetime.now(UTC)
        images = await self._store.image_facts(repository.id)
        decisions = await asyncio.to_thread(_judge, policy, images, now)
        expired: list[ExpiredImage] = []
        priorities = {image.digest: priority for image, priority in decisions}
        if dry_run:
            expired = [ExpiredImage(i.digest, i.tags, i.pushed_at) for i, _ in decisions]
        else:
            for start in range(0, len(decisions), EXPIRE_BATCH):
                batch = decisions[start : start + EXPIRE_BATCH]
                expired += await self._store.expire(
                    repository.id,
                    [(image.digest, image.tags) for image, _ in batch],
                    lambda digest, tags: self._events.action(repository, "DELETE", digest, tags),
                )
                if progress:
                    progress(repository, start + len(batch), len(decisions))
            await self._store.mark_evaluated(repository.id, now)
            self.expired += len(expired)
            if expired:
                summary = lifecycle_summary_event(
                    repository=repository.name,
                    account=repository.account_id,
                    region=repository.region,
                    now=now,
                    event_id=str(uuid.uuid4()),
                    decisions=[Decision(i.digest, priorities[i.digest]) for i in expired],
                    dry_run=False,
                )
                await self._metadata.publish_events(
                    [self._events.raw(repository.account_id, summary)]
                )
        if not dry_run and expired and self.audit is not None:
            for entry in policy_execution_entries(
                account_id=repository.account_id,
                region=repository.region,
                repository=repository.name,
                policy_text=policy_text,
                evaluated_at=now,
                expired=[
                    (i.digest, i.tags, i.pushed_at, priorities.get(i.digest, 0)) for i in expired
                ],
                event_ids=[str(uuid.uuid4()) for _ in range(0, len(expired), 10)],
            ):
                self.audit(entry)
        # Also one structured log line per run, for operators reading the log.
        log.info(
            "%s",
            json.dumps(
                {
                    "eventName": "PolicyExecutionEvent",
                    "eventSource": "ecr.amazonaws.com",
                    "awsRegion": repository.region,
                    "recipientAccountId": repository.account_id,
                    "dryRun": dry_run,
                    "serviceEventDetails": {
                        "repositoryName": repository.name,
                        "lifecycleEventImageActions": [
                            {
                                "lifecycleEventImage": {
                                    "digest": image.digest,
                                    "tagStatus": "TAGGED" if image.tags else "UNTAGGED",
                                    "tagList": list(image.tags[:100]),
                                    "pushedAt": image.pushed_at.isoformat(),
                                },
                                "rulePriority": priorities.get(image.digest),
                            }
                            for image in expired[:1000]
                        ],
                    },
                    "imagesJudged": len(images),
                    "imagesExpired": len(expired),
                    "seconds": round(time.monotonic() - started, 3),
                }
            ),
        )
        return RunResult(repository, len(images), expired, dry_run)

    async def run_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.run()
            except Exception:
                log.exception("lifecycle enforcement failed; will retry")


def _judge(
    policy: Policy, images: list[ImageFacts], now: datetime | None = None
) -> list[tuple[ImageFacts, int]]:
    by_digest = {image.digest: image for image in images}
    return [
        (by_digest[d.digest], d.applied_rule_priority)
        for d in evaluate(policy, images, now or datetime.now(UTC))
    ]


def _not_found(scope: Scope, name: str) -> LifecyclePolicyNotFound:
    return LifecyclePolicyNotFound(
        f"Lifecycle policy does not exist for the repository with name '{name}' in the "
        f"registry with id '{scope.account_id}'"
    )
