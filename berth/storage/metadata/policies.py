"""ECR resource policies: the repository policy and the registry policy, as text."""

from __future__ import annotations

import sqlalchemy as sa

from berth.storage.metadata.schema import registry_policies, repositories, repository_policies
from berth.storage.metadata.store import SqlMetadataStore, utcnow


class SqlPolicyStore:
    def __init__(self, store: SqlMetadataStore) -> None:
        self._store = store

    async def repository_policy(self, account_id: str, region: str, name: str) -> str | None:
        """By name, in one query: the authorization path must not look the repository up first."""
        query = (
            sa.select(repository_policies.c.text)
            .join(repositories, repositories.c.id == repository_policies.c.repository_id)
            .where(
                repositories.c.account_id == account_id,
                repositories.c.region == region,
                repositories.c.name == name,
            )
        )
        return await self._store.read(lambda conn: conn.execute(query).scalar())

    async def put_repository_policy(self, repository_id: int, text: str) -> None:
        now = utcnow()
        statement = (
            self._store.insert(repository_policies)
            .values(repository_id=repository_id, text=text, updated_at=now)
            .on_conflict_do_update(
                index_elements=[repository_policies.c.repository_id],
                set_={"text": text, "updated_at": now},
            )
        )
        await self._store.write(lambda conn: conn.execute(statement))

    async def delete_repository_policy(self, repository_id: int) -> str | None:
        def work(conn: sa.Connection) -> str | None:
            return conn.execute(
                sa.delete(repository_policies)
                .where(repository_policies.c.repository_id == repository_id)
                .returning(repository_policies.c.text)
            ).scalar()

        return await self._store.write(work)

    async def registry_policy(self, account_id: str, region: str) -> str | None:
        query = sa.select(registry_policies.c.text).where(
            registry_policies.c.account_id == account_id, registry_policies.c.region == region
        )
        return await self._store.read(lambda conn: conn.execute(query).scalar())

    async def put_registry_policy(self, account_id: str, region: str, text: str) -> None:
        now = utcnow()
        statement = (
            self._store.insert(registry_policies)
            .values(account_id=account_id, region=region, text=text, updated_at=now)
            .on_conflict_do_update(
                index_elements=[registry_policies.c.account_id, registry_policies.c.region],
                set_={"text": text, "updated_at": now},
            )
        )
        await self._store.write(lambda conn: conn.execute(statement))

    async def delete_registry_policy(self, account_id: str, region: str) -> str | None:
        def work(conn: sa.Connection) -> str | None:
            return conn.execute(
                sa.delete(registry_policies)
                .where(
                    registry_policies.c.account_id == account_id,
                    registry_policies.c.region == region,
                )
                .returning(registry_policies.c.text)
            ).scalar()

        return await self._store.write(work)
