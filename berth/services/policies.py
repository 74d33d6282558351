"""ECR resource policies: Set/Get/DeleteRepositoryPolicy and Put/Get/DeleteRegistryPolicy."""

from __future__ import annotations

from berth.domain.policy import Policy, PolicyError, parse_policy
from berth.domain.scope import Scope
from berth.errors import InvalidParameter, RegistryPolicyNotFound, RepositoryPolicyNotFound
from berth.services.auth import Caller
from berth.services.authz import Authorizer, Target
from berth.services.repositories import RepositoriesService
from berth.storage.ports import PolicyStore

MAX_POLICY_LENGTH = 10_240


def _validate(text: str, what: str) -> Policy:
    if len(text) > MAX_POLICY_LENGTH:
        raise InvalidParameter(
            f"Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Member must have "
            f"length less than or equal to {MAX_POLICY_LENGTH}'"
        )
    try:
        return parse_policy(text, kind="resource")
    except PolicyError as exc:
        raise InvalidParameter(
            f"Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid {what} "
            f"policy provided: {exc.message}'"
        ) from None


class PoliciesService:
    def __init__(
        self, store: PolicyStore, repositories: RepositoriesService, authorizer: Authorizer
    ) -> None:
        self._store = store
        self._repositories = repositories
        self._authorizer = authorizer

    async def set_repository_policy(
        self, caller: Caller, scope: Scope, name: str, text: str, *, force: bool
    ) -> None:
        repository = await self._repositories.get(scope, name)
        policy = _validate(text, "repository")
        # Without `force`, ECR refuses a policy that would lock its own author out of setting
        # the next one.
        target = Target(scope.account_id, scope.region, name)
        if not force and not await self._authorizer.allowed(
            caller, "ecr:SetRepositoryPolicy", target, resource_policies=[policy]
        ):
            raise InvalidParameter(
                "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'The repository "
                "policy would prevent you from setting another policy in the future; use force "
                "to set it anyway'"
            )
        await self._store.put_repository_policy(repository.id, text)
        self._authorizer.invalidate()

    async def get_repository_policy(self, scope: Scope, name: str) -> str:
        await self._repositories.get(scope, name)
        text = await self._store.repository_policy(scope.account_id, scope.region, name)
        if text is None:
            raise _repository_not_found(scope, name)
        return text

    async def delete_repository_policy(self, scope: Scope, name: str) -> str:
        repository = await self._repositories.get(scope, name)
        text = await self._store.delete_repository_policy(repository.id)
        self._authorizer.invalidate()
        if text is None:
            raise _repository_not_found(scope, name)
        return text

    async def put_registry_policy(self, scope: Scope, text: str) -> None:
        _validate(text, "registry")
        await self._store.put_registry_policy(scope.account_id, scope.region, text)
        self._authorizer.invalidate()

    async def get_registry_policy(self, scope: Scope) -> str:
        text = await self._store.registry_policy(scope.account_id, scope.region)
        if text is None:
            raise _registry_not_found(scope)
        return text

    async def delete_registry_policy(self, scope: Scope) -> str:
        text = await self._store.delete_registry_policy(scope.account_id, scope.region)
        self._authorizer.invalidate()
        if text is None:
            raise _registry_not_found(scope)
        return text


def _repository_not_found(scope: Scope, name: str) -> RepositoryPolicyNotFound:
    return RepositoryPolicyNotFound(
        f"Repository policy does not exist for the repository with name '{name}' in the "
        f"registry with id '{scope.account_id}'"
    )


def _registry_not_found(scope: Scope) -> RegistryPolicyNotFound:
    return RegistryPolicyNotFound(
        f"Registry policy does not exist in the registry with id '{scope.account_id}'"
    )
