"""Lifecycle policies: PutLifecyclePolicy, GetLifecyclePolicy, DeleteLifecyclePolicy.

Preview and enforcement (issue 5) will run `berth.domain.lifecycle.evaluate` over the stored
policy; here the policy is validated exactly as ECR does and kept as the text that was put.
"""

from __future__ import annotations

from berth.domain.lifecycle import parse_policy
from berth.domain.scope import Scope
from berth.errors import LifecyclePolicyNotFound
from berth.services.repositories import RepositoriesService
from berth.storage.ports import LifecyclePolicyRecord, MetadataStore


class LifecycleService:
    def __init__(self, metadata: MetadataStore, repositories: RepositoriesService) -> None:
        self._metadata = metadata
        self._repositories = repositories

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


def _not_found(scope: Scope, name: str) -> LifecyclePolicyNotFound:
    return LifecyclePolicyNotFound(
        f"Lifecycle policy does not exist for the repository with name '{name}' in the "
        f"registry with id '{scope.account_id}'"
    )
