"""Repositories: CreateRepository, DescribeRepositories, DeleteRepository, their settings and
resource tags; and the look-ups every other service starts with."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from berth.domain import mutability
from berth.domain.names import validate_name
from berth.domain.pagination import decode_token, encode_token
from berth.domain.scope import Scope
from berth.domain.settings import RepositorySettings
from berth.errors import InvalidParameter, RepositoryNotFound, TooManyTags
from berth.storage.ports import MetadataStore, Repository

MAX_RESOURCE_TAGS = 50
_ARN = re.compile(r"arn:aws:ecr:([a-z0-9-]+):([0-9]{12}):repository/(.+)")


def repository_arn(repository: Repository) -> str:
    return f"arn:aws:ecr:{repository.region}:{repository.account_id}:repository/{repository.name}"


class RepositoriesService:
    def __init__(self, metadata: MetadataStore, *, create_on_push: bool = True) -> None:
        self._metadata = metadata
        self._create_on_push = create_on_push

    async def get(self, scope: Scope, name: str) -> Repository:
        validate_name(name)
        repository = await self._metadata.get_repository(scope.account_id, scope.region, name)
        if repository is None:
            raise _not_found(scope, name)
        return repository

    async def get_for_push(self, scope: Scope, name: str) -> Repository:
        """The repository a push goes to; created on the way only when create-on-push is on."""
        if not self._create_on_push:
            return await self.get(scope, name)
        validate_name(name)
        return await self._metadata.ensure_repository(scope.account_id, scope.region, name)

    async def list_names(self, scope: Scope, *, after: str | None, limit: int) -> list[str]:
        return await self._metadata.list_repository_names(
            scope.account_id, scope.region, after=after, limit=limit
        )

    # ECR operations

    async def create_repository(
        self,
        scope: Scope,
        name: str,
        settings: RepositorySettings,
        tags: dict[str, str],
    ) -> Repository:
        validate_name(name)
        _check_settings(settings)
        if len(tags) > MAX_RESOURCE_TAGS:
            raise TooManyTags(f"A repository can have at most {MAX_RESOURCE_TAGS} tags")
        return await self._metadata.create_repository(
            scope.account_id, scope.region, name, settings, tags
        )

    async def describe_repositories(
        self,
        scope: Scope,
        names: Sequence[str] | None,
        next_token: str | None,
        max_results: int | None,
    ) -> tuple[list[Repository], str | None]:
        if names:
            if max_results is not None or next_token is not None:
                raise InvalidParameter(
                    "maxResults and nextToken cannot be used together with repositoryNames"
                )
            for name in names:
                validate_name(name)
            found = await self._metadata.list_repositories(
                scope.account_id, scope.region, names=names, after=None, limit=len(names)
            )
            missing = sorted(set(names) - {r.name for r in found})
            if missing:
                raise _not_found(scope, missing[0])
            return found, None
        limit = max_results or 100
        found = await self._metadata.list_repositories(
            scope.account_id,
            scope.region,
            names=None,
            after=decode_token(next_token),
            limit=limit + 1,
        )
        if len(found) > limit:
            found = found[:limit]
            return found, encode_token(found[-1].name)
        return found, None

    async def delete_repository(self, scope: Scope, name: str, *, force: bool) -> Repository:
        repository = await self.get(scope, name)
        await self._metadata.delete_repository(repository.id, force=force)
        return repository

    async def put_image_tag_mutability(
        self, scope: Scope, name: str, mode: str, exclusions: Sequence[str]
    ) -> Repository:
        repository = await self.get(scope, name)
        settings = replace(
            repository.settings,
            image_tag_mutability=mode,
            mutability_exclusions=tuple(exclusions),
        )
        _check_settings(settings)
        await self._metadata.update_repository_settings(repository.id, settings)
        return replace(repository, settings=settings)

    async def put_image_scanning_configuration(
        self, scope: Scope, name: str, scan_on_push: bool
    ) -> Repository:
        repository = await self.get(scope, name)
        settings = replace(repository.settings, scan_on_push=scan_on_push)
        await self._metadata.update_repository_settings(repository.id, settings)
        return replace(repository, settings=settings)

    async def tag_resource(self, scope: Scope, arn: str, tags: dict[str, str]) -> None:
        repository = await self._by_arn(scope, arn)
        current = await self._metadata.get_repository_tags(repository.id)
        if len(current | tags) > MAX_RESOURCE_TAGS:
            raise TooManyTags(f"A repository can have at most {MAX_RESOURCE_TAGS} tags")
        await self._metadata.tag_repository(repository.id, tags)

    async def untag_resource(self, scope: Scope, arn: str, keys: Sequence[str]) -> None:
        repository = await self._by_arn(scope, arn)
        await self._metadata.untag_repository(repository.id, keys)

    async def list_tags_for_resource(self, scope: Scope, arn: str) -> dict[str, str]:
        repository = await self._by_arn(scope, arn)
        return await self._metadata.get_repository_tags(repository.id)

    async def _by_arn(self, scope: Scope, arn: str) -> Repository:
        match = _ARN.fullmatch(arn)
        if match is None or (match[1], match[2]) != (scope.region, scope.account_id):
            raise InvalidParameter(
                "Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN'"
            )
        return await self.get(scope, match[3])


def _not_found(scope: Scope, name: str) -> RepositoryNotFound:
    return RepositoryNotFound(
        f"The repository with name '{name}' does not exist in the registry with id "
        f"'{scope.account_id}'",
        name=name,
    )


def _check_settings(settings: RepositorySettings) -> None:
    mode = settings.image_tag_mutability
    if mode not in mutability.MODES:
        raise InvalidParameter(f"Invalid parameter at 'imageTagMutability': {mode!r}")
    with_exclusions = mode in (
        mutability.MUTABLE_WITH_EXCLUSION,
        mutability.IMMUTABLE_WITH_EXCLUSION,
    )
    if with_exclusions and not settings.mutability_exclusions:
        raise InvalidParameter(
            f"imageTagMutabilityExclusionFilters are required when imageTagMutability is {mode}"
        )
    if not with_exclusions and settings.mutability_exclusions:
        raise InvalidParameter(
            f"imageTagMutabilityExclusionFilters cannot be used when imageTagMutability is {mode}"
        )
    if settings.kms_key and settings.encryption_type not in ("KMS", "KMS_DSSE"):
        raise InvalidParameter("kmsKey can only be specified when encryptionType is KMS")
