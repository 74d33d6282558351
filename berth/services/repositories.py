"""Repository look-up and creation (ECR's CreateRepository comes with the control plane)."""

from __future__ import annotations

from berth.domain.names import validate_name
from berth.domain.scope import Scope
from berth.errors import RepositoryNotFound
from berth.storage.ports import MetadataStore, Repository


class RepositoriesService:
    def __init__(self, metadata: MetadataStore) -> None:
        self._metadata = metadata

    async def get(self, scope: Scope, name: str) -> Repository:
        validate_name(name)
        repository = await self._metadata.get_repository(scope.account_id, scope.region, name)
        if repository is None:
            raise RepositoryNotFound(
                f"The repository with name '{name}' does not exist in the registry with id "
                f"'{scope.account_id}'",
                name=name,
            )
        return repository

    async def get_or_create(self, scope: Scope, name: str) -> Repository:
        """Until the ECR control plane exists, the first push to a name creates it."""
        validate_name(name)
        return await self._metadata.ensure_repository(scope.account_id, scope.region, name)

    async def list_names(self, scope: Scope, *, after: str | None, limit: int) -> list[str]:
        return await self._metadata.list_repository_names(
            scope.account_id, scope.region, after=after, limit=limit
        )
