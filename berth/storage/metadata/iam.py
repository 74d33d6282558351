"""`IamStore` on the metadata engine: users, groups, roles, managed and inline policies, and the
access keys of users in the table authentication reads.

Writes that must agree with a check (no access keys left when a user goes, inline policies within
their quota) lock the principal's row first, so concurrent writers on PostgreSQL take turns;
SQLite runs every write on one thread anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa

from berth.storage.iam_ports import (
    AttachedPolicy,
    GroupRecord,
    InlinePolicy,
    ManagedPolicyRecord,
    Outcome,
    PrincipalPolicies,
    PrincipalType,
    RoleRecord,
    Tags,
    UserRecord,
    name_key,
)
from berth.storage.metadata.schema import (
    access_keys,
    accounts,
    iam_attachments,
    iam_group_members,
    iam_groups,
    iam_inline_policies,
    iam_policies,
    iam_roles,
    iam_users,
)
from berth.storage.metadata.store import SqlMetadataStore, aware
from berth.storage.ports import AccessKey

_TABLES: dict[PrincipalType, sa.Table] = {
    "user": iam_users,
    "group": iam_groups,
    "role": iam_roles,
}


def _tags_value(tags: Tags) -> list[list[str]] | None:
    return [[key, value] for key, value in tags] if tags else None


def _tags(value: Any) -> Tags:
    return tuple((str(key), str(val)) for key, val in value or ())


def _user(row: Any) -> UserRecord:
    return UserRecord(row.id, row.name, row.path, row.arn, aware(row.created_at), _tags(row.tags))


def _group(row: Any) -> GroupRecord:
    return GroupRecord(row.id, row.name, row.path, row.arn, aware(row.created_at))


def _role(row: Any) -> RoleRecord:
    return RoleRecord(
        name=row.name,
        path=row.path,
        arn=row.arn,
        role_id=row.id,
        trust_policy=row.trust_policy,
        max_session_duration=row.max_session_duration,
        created_at=aware(row.created_at),
        description=row.description,
        tags=_tags(row.tags),
    )


def _policy(row: Any, attachment_count: int = 0) -> ManagedPolicyRecord:
    return ManagedPolicyRecord(
        policy_id=row.id,
        name=row.name,
        path=row.path,
        arn=row.arn,
        document=row.document,
        description=row.description,
        created_at=aware(row.created_at),
        updated_at=aware(row.updated_at),
        tags=_tags(row.tags),
        attachment_count=attachment_count,
    )


def _access_key(row: Any) -> AccessKey:
    return AccessKey(
        id=row.id,
        account_id=row.account_id,
        principal_arn=row.principal_arn,
        sealed_secret=row.sealed_secret,
        status=row.status,
        created_at=aware(row.created_at),
    )


def _page(
    query: sa.Select[Any], key: sa.ColumnElement[str], after: str | None, limit: int
) -> sa.Select[Any]:
    if after is not None:
        query = query.where(key > after)
    return query.order_by(key).limit(limit)


def _under(table: sa.Table, path_prefix: str) -> tuple[sa.ColumnElement[bool], ...]:
    if path_prefix in ("", "/"):
        return ()
    return (table.c.path.startswith(path_prefix, autoescape=True),)


def _lock(conn: sa.Connection, table: sa.Table, row_id: str) -> bool:
    """Lock a principal's row for the rest of the transaction; False when it is gone."""
    return (
        conn.execute(sa.select(table.c.id).where(table.c.id == row_id).with_for_update()).first()
        is not None
    )


def _exists(conn: sa.Connection, table: sa.Table, *where: sa.ColumnElement[bool]) -> bool:
    return bool(conn.execute(sa.select(sa.exists().where(*where))).scalar())


def _owned_by(table: sa.Table, principal: PrincipalType, principal_id: str) -> tuple[Any, ...]:
    return (table.c.principal_type == principal, table.c.principal_id == principal_id)


def _attachment_counts() -> sa.ScalarSelect[int]:
    return (
        sa.select(sa.func.count())
        .where(iam_attachments.c.policy_id == iam_policies.c.id)
        .scalar_subquery()
    )


class SqlIamStore:
    def __init__(self, store: SqlMetadataStore) -> None:
        self._store = store

    # shared shapes of work

    async def _create(self, table: sa.Table, values: dict[str, Any]) -> bool:
        statement = (
            self._store.insert(table)
            .values(**values)
            .on_conflict_do_nothing()
            .returning(table.c.id)
        )
        return await self._store.write(lambda conn: conn.execute(statement).scalar() is not None)

    async def _one(self, table: sa.Table, account_id: str, name: str) -> Any:
        query = sa.select(table).where(
            table.c.account_id == account_id, table.c.name_key == name_key(name)
        )
        return await self._store.read(lambda conn: conn.execute(query).first())

    async def _list(
        self,
        table: sa.Table,
        account_id: str,
        path_prefix: str,
        after: str | None,
        limit: int,
    ) -> Sequence[Any]:
        query = _page(
            sa.select(table).where(table.c.account_id == account_id, *_under(table, path_prefix)),
            table.c.name_key,
            after,
            limit,
        )
        return await self._store.read(lambda conn: conn.execute(query).all())

    @staticmethod
    def _policies_block_delete(
        conn: sa.Connection, principal: PrincipalType, principal_id: str
    ) -> Outcome | None:
        if _exists(
            conn, iam_inline_policies, *_owned_by(iam_inline_policies, principal, principal_id)
        ):
            return Outcome.HAS_INLINE
        if _exists(conn, iam_attachments, *_owned_by(iam_attachments, principal, principal_id)):
            return Outcome.HAS_ATTACHED
        return None

    async def _delete_principal(
        self,
        principal: PrincipalType,
        account_id: str,
        name: str,
        checks: Callable[[sa.Connection, str], Outcome | None] | None = None,
    ) -> Outcome:
        """Delete a principal unless `checks` (by default: it has policies) find a reason not
        to, under a lock on its row."""
        table = _TABLES[principal]

        def work(conn: sa.Connection) -> Outcome:
            principal_id = conn.execute(
                sa.select(table.c.id)
                .where(table.c.account_id == account_id, table.c.name_key == name_key(name))
                .with_for_update()
            ).scalar()
            if principal_id is None:
                return Outcome.MISSING
            if checks is None:
                blocked = self._policies_block_delete(conn, principal, principal_id)
            else:
                blocked = checks(conn, principal_id)
            if blocked is not None:
                return blocked
            conn.execute(sa.delete(table).where(table.c.id == principal_id))
            return Outcome.OK

        return await self._store.write(work)

    async def account_created_at(self, account_id: str) -> datetime | None:
        query = sa.select(accounts.c.created_at).where(accounts.c.id == account_id)
        created = await self._store.read(lambda conn: conn.execute(query).scalar())
        return aware(created) if created is not None else None

    # users

    async def create_user(self, account_id: str, user: UserRecord) -> bool:
        return await self._create(
            iam_users,
            {
                "id": user.user_id,
                "account_id": account_id,
                "name_key": name_key(user.name),
                "name": user.name,
                "path": user.path,
                "arn": user.arn,
                "tags": _tags_value(user.tags),
                "created_at": user.created_at,
            },
        )

    async def get_user(self, account_id: str, name: str) -> UserRecord | None:
        row = await self._one(iam_users, account_id, name)
        return _user(row) if row else None

    async def list_users(
        self, account_id: str, *, path_prefix: str, after: str | None, limit: int
    ) -> list[UserRecord]:
        rows = await self._list(iam_users, account_id, path_prefix, after, limit)
        return [_user(row) for row in rows]

    async def delete_user(self, account_id: str, name: str) -> Outcome:
        def checks(conn: sa.Connection, user_id: str) -> Outcome | None:
            arn = conn.execute(sa.select(iam_users.c.arn).where(iam_users.c.id == user_id)).scalar()
            if _exists(
                conn,
                access_keys,
                access_keys.c.account_id == account_id,
                access_keys.c.principal_arn == arn,
            ):
                return Outcome.HAS_KEYS
            blocked = self._policies_block_delete(conn, "user", user_id)
            if blocked is not None:
                return blocked
            if _exists(conn, iam_group_members, iam_group_members.c.user_id == user_id):
                return Outcome.HAS_GROUPS
            return None

        return await self._delete_principal("user", account_id, name, checks)

    # access keys

    async def create_access_key(
        self, key: AccessKey, *, user_id: str | None, limit: int
    ) -> Outcome:
        def work(conn: sa.Connection) -> Outcome:
            if user_id is not None:
                if not _lock(conn, iam_users, user_id):
                    return Outcome.MISSING
            else:
                # The account root: its row serializes the root's key quota.
                conn.execute(
                    sa.select(accounts.c.id)
                    .where(accounts.c.id == key.account_id)
                    .with_for_update()
                )
            count = conn.execute(
                sa.select(sa.func.count()).where(
                    access_keys.c.account_id == key.account_id,
                    access_keys.c.principal_arn == key.principal_arn,
                )
            ).scalar_one()
            if count >= limit:
                return Outcome.LIMIT
            conn.execute(
                sa.insert(access_keys).values(
                    id=key.id,
                    account_id=key.account_id,
                    principal_arn=key.principal_arn,
                    sealed_secret=key.sealed_secret,
                    status=key.status,
                    created_at=key.created_at,
                )
            )
            return Outcome.OK

        return await self._store.write(work)

    @staticmethod
    def _key_of(account_id: str, principal_arn: str, key_id: str) -> tuple[Any, ...]:
        return (
            access_keys.c.id == key_id,
            access_keys.c.account_id == account_id,
            access_keys.c.principal_arn == principal_arn,
        )

    async def list_access_keys(
        self, account_id: str, principal_arn: str, *, after: str | None, limit: int
    ) -> list[AccessKey]:
        query = _page(
            sa.select(access_keys).where(
                access_keys.c.account_id == account_id,
                access_keys.c.principal_arn == principal_arn,
            ),
            access_keys.c.id,
            after,
            limit,
        )
        rows = await self._store.read(lambda conn: conn.execute(query).all())
        return [_access_key(row) for row in rows]

    async def update_access_key(
        self, account_id: str, principal_arn: str, access_key_id: str, status: str
    ) -> bool:
        statement = (
            sa.update(access_keys)
            .where(*self._key_of(account_id, principal_arn, access_key_id))
            .values(status=status)
        )
        return await self._store.write(lambda conn: conn.execute(statement).rowcount > 0)

    async def delete_access_key(
        self, account_id: str, principal_arn: str, access_key_id: str
    ) -> bool:
        statement = sa.delete(access_keys).where(
            *self._key_of(account_id, principal_arn, access_key_id)
        )
        return await self._store.write(lambda conn: conn.execute(statement).rowcount > 0)

    # groups

    async def create_group(self, account_id: str, group: GroupRecord) -> bool:
        return await self._create(
            iam_groups,
            {
                "id": group.group_id,
                "account_id": account_id,
                "name_key": name_key(group.name),
                "name": group.name,
                "path": group.path,
                "arn": group.arn,
                "created_at": group.created_at,
            },
        )

    async def get_group(self, account_id: str, name: str) -> GroupRecord | None:
        row = await self._one(iam_groups, account_id, name)
        return _group(row) if row else None

    async def list_groups(
        self, account_id: str, *, path_prefix: str, after: str | None, limit: int
    ) -> list[GroupRecord]:
        rows = await self._list(iam_groups, account_id, path_prefix, after, limit)
        return [_group(row) for row in rows]

    async def delete_group(self, account_id: str, name: str) -> Outcome:
        def checks(conn: sa.Connection, group_id: str) -> Outcome | None:
            if _exists(conn, iam_group_members, iam_group_members.c.group_id == group_id):
                return Outcome.HAS_MEMBERS
            return self._policies_block_delete(conn, "group", group_id)

        return await self._delete_principal("group", account_id, name, checks)

    async def add_user_to_group(self, group_id: str, user_id: str, *, limit: int) -> Outcome:
        def work(conn: sa.Connection) -> Outcome:
            if not _lock(conn, iam_users, user_id):
                return Outcome.MISSING
            group = conn.execute(
                sa.select(iam_groups.c.id)
                .where(iam_groups.c.id == group_id)
                .with_for_update(read=True)
            ).first()
            if group is None:
                return Outcome.MISSING
            member = iam_group_members.c
            groups = set(
                conn.execute(sa.select(member.group_id).where(member.user_id == user_id)).scalars()
            )
            if group_id in groups:
                return Outcome.OK
            if len(groups) >= limit:
                return Outcome.LIMIT
            conn.execute(sa.insert(iam_group_members).values(group_id=group_id, user_id=user_id))
            return Outcome.OK

        return await self._store.write(work)

    async def remove_user_from_group(self, group_id: str, user_id: str) -> bool:
        statement = sa.delete(iam_group_members).where(
            iam_group_members.c.group_id == group_id, iam_group_members.c.user_id == user_id
        )
        return await self._store.write(lambda conn: conn.execute(statement).rowcount > 0)

    async def group_members(
        self, group_id: str, *, after: str | None, limit: int
    ) -> list[UserRecord]:
        query = _page(
            sa.select(iam_users)
            .join(iam_group_members, iam_group_members.c.user_id == iam_users.c.id)
            .where(iam_group_members.c.group_id == group_id),
            iam_users.c.name_key,
            after,
            limit,
        )
        rows = await self._store.read(lambda conn: conn.execute(query).all())
        return [_user(row) for row in rows]

    async def groups_for_user(
        self, user_id: str, *, after: str | None, limit: int
    ) -> list[GroupRecord]:
        query = _page(
            sa.select(iam_groups)
            .join(iam_group_members, iam_group_members.c.group_id == iam_groups.c.id)
            .where(iam_group_members.c.user_id == user_id),
            iam_groups.c.name_key,
            after,
            limit,
        )
        rows = await self._store.read(lambda conn: conn.execute(query).all())
        return [_group(row) for row in rows]

    # roles

    async def create_role(self, account_id: str, role: RoleRecord) -> bool:
        return await self._create(
            iam_roles,
            {
                "id": role.role_id,
                "account_id": account_id,
                "name_key": name_key(role.name),
                "name": role.name,
                "path": role.path,
                "arn": role.arn,
                "trust_policy": role.trust_policy,
                "max_session_duration": role.max_session_duration,
                "description": role.description,
                "tags": _tags_value(role.tags),
                "created_at": role.created_at,
            },
        )

    async def get_role(self, account_id: str, name: str) -> RoleRecord | None:
        row = await self._one(iam_roles, account_id, name)
        return _role(row) if row else None

    async def list_roles(
        self, account_id: str, *, path_prefix: str, after: str | None, limit: int
    ) -> list[RoleRecord]:
        rows = await self._list(iam_roles, account_id, path_prefix, after, limit)
        return [_role(row) for row in rows]

    async def update_trust_policy(self, account_id: str, name: str, text: str) -> bool:
        statement = (
            sa.update(iam_roles)
            .where(iam_roles.c.account_id == account_id, iam_roles.c.name_key == name_key(name))
            .values(trust_policy=text)
        )
        return await self._store.write(lambda conn: conn.execute(statement).rowcount > 0)

    async def delete_role(self, account_id: str, name: str) -> Outcome:
        return await self._delete_principal("role", account_id, name)

    # inline policies

    async def put_inline_policy(
        self,
        principal: PrincipalType,
        principal_id: str,
        policy: InlinePolicy,
        *,
        size: int,
        limit: int,
    ) -> Outcome:
        table = _TABLES[principal]
        inline = iam_inline_policies
        key = name_key(policy.name)

        def work(conn: sa.Connection) -> Outcome:
            account_id = conn.execute(
                sa.select(table.c.account_id).where(table.c.id == principal_id).with_for_update()
            ).scalar()
            if account_id is None:
                return Outcome.MISSING
            others = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(inline.c.size), 0)).where(
                    *_owned_by(inline, principal, principal_id), inline.c.name_key != key
                )
            ).scalar_one()
            if others + size > limit:
                return Outcome.LIMIT
            statement = self._store.insert(inline).values(
                principal_type=principal,
                principal_id=principal_id,
                name_key=key,
                account_id=account_id,
                name=policy.name,
                document=policy.document,
                size=size,
            )
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[
                        inline.c.principal_type,
                        inline.c.principal_id,
                        inline.c.name_key,
                    ],
                    set_={
                        "name": statement.excluded.name,
                        "document": statement.excluded.document,
                        "size": statement.excluded.size,
                    },
                )
            )
            return Outcome.OK

        return await self._store.write(work)

    async def get_inline_policy(
        self, principal: PrincipalType, principal_id: str, name: str
    ) -> InlinePolicy | None:
        inline = iam_inline_policies
        query = sa.select(inline.c.name, inline.c.document).where(
            *_owned_by(inline, principal, principal_id), inline.c.name_key == name_key(name)
        )
        row = await self._store.read(lambda conn: conn.execute(query).first())
        return InlinePolicy(row.name, row.document) if row else None

    async def delete_inline_policy(
        self, principal: PrincipalType, principal_id: str, name: str
    ) -> bool:
        inline = iam_inline_policies
        statement = sa.delete(inline).where(
            *_owned_by(inline, principal, principal_id), inline.c.name_key == name_key(name)
        )
        return await self._store.write(lambda conn: conn.execute(statement).rowcount > 0)

    async def list_inline_policies(
        self, principal: PrincipalType, principal_id: str, *, after: str | None, limit: int
    ) -> list[str]:
        inline = iam_inline_policies
        query = _page(
            sa.select(inline.c.name).where(*_owned_by(inline, principal, principal_id)),
            inline.c.name_key,
            after,
            limit,
        )
        return await self._store.read(lambda conn: list(conn.execute(query).scalars()))

    # managed policies

    async def create_policy(self, account_id: str, policy: ManagedPolicyRecord) -> bool:
        return await self._create(
            iam_policies,
            {
                "id": policy.policy_id,
                "account_id": account_id,
                "name_key": name_key(policy.name),
                "name": policy.name,
                "path": policy.path,
                "arn": policy.arn,
                "document": policy.document,
                "description": policy.description,
                "tags": _tags_value(policy.tags),
                "created_at": policy.created_at,
                "updated_at": policy.updated_at,
            },
        )

    async def get_policy(self, account_id: str, arn: str) -> ManagedPolicyRecord | None:
        query = sa.select(iam_policies, _attachment_counts().label("attachments")).where(
            iam_policies.c.account_id == account_id, iam_policies.c.arn == arn
        )
        row = await self._store.read(lambda conn: conn.execute(query).first())
        return _policy(row, row.attachments) if row else None

    async def list_policies(
        self,
        account_id: str,
        *,
        path_prefix: str,
        only_attached: bool,
        after: str | None,
        limit: int,
    ) -> list[ManagedPolicyRecord]:
        where = [iam_policies.c.account_id == account_id, *_under(iam_policies, path_prefix)]
        if only_attached:
            where.append(sa.exists().where(iam_attachments.c.policy_id == iam_policies.c.id))
        query = _page(
            sa.select(iam_policies, _attachment_counts().label("attachments")).where(*where),
            iam_policies.c.name_key,
            after,
            limit,
        )
        rows = await self._store.read(lambda conn: conn.execute(query).all())
        return [_policy(row, row.attachments) for row in rows]

    async def delete_policy(self, account_id: str, arn: str) -> Outcome:
        def work(conn: sa.Connection) -> Outcome:
            policy_id = conn.execute(
                sa.select(iam_policies.c.id)
                .where(iam_policies.c.account_id == account_id, iam_policies.c.arn == arn)
                .with_for_update()
            ).scalar()
            if policy_id is None:
                return Outcome.MISSING
            if _exists(conn, iam_attachments, iam_attachments.c.policy_id == policy_id):
                return Outcome.ATTACHED
            conn.execute(sa.delete(iam_policies).where(iam_policies.c.id == policy_id))
            return Outcome.OK

        return await self._store.write(work)

    async def attach_policy(
        self,
        account_id: str,
        principal: PrincipalType,
        principal_id: str,
        policy_arn: str,
        *,
        limit: int,
    ) -> Outcome:
        table = _TABLES[principal]
        attached = iam_attachments

        def work(conn: sa.Connection) -> Outcome:
            if not _lock(conn, table, principal_id):
                return Outcome.MISSING
            policy_id = conn.execute(
                sa.select(iam_policies.c.id)
                .where(iam_policies.c.account_id == account_id, iam_policies.c.arn == policy_arn)
                .with_for_update(read=True)
            ).scalar()
            if policy_id is None:
                return Outcome.MISSING_POLICY
            current = set(
                conn.execute(
                    sa.select(attached.c.policy_id).where(
                        *_owned_by(attached, principal, principal_id)
                    )
                ).scalars()
            )
            if policy_id in current:
                return Outcome.OK
            if len(current) >= limit:
                return Outcome.LIMIT
            conn.execute(
                sa.insert(attached).values(
                    principal_type=principal,
                    principal_id=principal_id,
                    policy_id=policy_id,
                    account_id=account_id,
                )
            )
            return Outcome.OK

        return await self._store.write(work)

    async def detach_policy(
        self, account_id: str, principal: PrincipalType, principal_id: str, policy_arn: str
    ) -> bool:
        attached = iam_attachments
        policy_ids = sa.select(iam_policies.c.id).where(
            iam_policies.c.account_id == account_id, iam_policies.c.arn == policy_arn
        )
        statement = sa.delete(attached).where(
            *_owned_by(attached, principal, principal_id), attached.c.policy_id.in_(policy_ids)
        )
        return await self._store.write(lambda conn: conn.execute(statement).rowcount > 0)

    async def list_attached_policies(
        self,
        principal: PrincipalType,
        principal_id: str,
        *,
        path_prefix: str,
        after: str | None,
        limit: int,
    ) -> list[AttachedPolicy]:
        query = _page(
            sa.select(iam_policies.c.name, iam_policies.c.arn)
            .join(iam_attachments, iam_attachments.c.policy_id == iam_policies.c.id)
            .where(
                *_owned_by(iam_attachments, principal, principal_id),
                *_under(iam_policies, path_prefix),
            ),
            iam_policies.c.name_key,
            after,
            limit,
        )
        rows = await self._store.read(lambda conn: conn.execute(query).all())
        return [AttachedPolicy(row.name, row.arn) for row in rows]

    # authorization

    async def principal_policies(
        self, account_id: str, principal: Literal["user", "role"], name: str
    ) -> PrincipalPolicies | None:
        table = _TABLES[principal]
        inline, attached = iam_inline_policies, iam_attachments

        def documents(conn: sa.Connection, kind: PrincipalType, ids: list[str]) -> list[str]:
            if not ids:
                return []
            own_inline = conn.execute(
                sa.select(inline.c.document)
                .where(inline.c.principal_type == kind, inline.c.principal_id.in_(ids))
                .order_by(inline.c.principal_id, inline.c.name_key)
            ).scalars()
            own_attached = conn.execute(
                sa.select(iam_policies.c.document)
                .join(attached, attached.c.policy_id == iam_policies.c.id)
                .where(attached.c.principal_type == kind, attached.c.principal_id.in_(ids))
                .order_by(attached.c.principal_id, iam_policies.c.name_key)
            ).scalars()
            return [*own_inline, *own_attached]

        def work(conn: sa.Connection) -> PrincipalPolicies | None:
            row = conn.execute(
                sa.select(table.c.id, table.c.arn).where(
                    table.c.account_id == account_id, table.c.name_key == name_key(name)
                )
            ).first()
            if row is None:
                return None
            found = documents(conn, principal, [row.id])
            if principal == "user":
                group_ids = list(
                    conn.execute(
                        sa.select(iam_group_members.c.group_id)
                        .where(iam_group_members.c.user_id == row.id)
                        .order_by(iam_group_members.c.group_id)
                    ).scalars()
                )
                found.extend(documents(conn, "group", group_ids))
            return PrincipalPolicies(row.id, row.arn, found)

        return await self._store.read(work)
