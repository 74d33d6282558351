"""EventBridge rules and their targets, on the metadata store's engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa

from berth.services.logs_errors import RuleHasTargets, RuleNotFound, TooManyTargets
from berth.storage.logs_ports import RuleRecord, TargetRecord
from berth.storage.metadata.logs import starts_with
from berth.storage.metadata.schema import eventbridge_rules, eventbridge_targets
from berth.storage.metadata.store import SqlMetadataStore, Work, aware
from berth.storage.metadata.writer import RULES

DEFAULT_BUS = "default"
ENABLED = "ENABLED"

T = TypeVar("T")
rules, targets = eventbridge_rules, eventbridge_targets
# Routes kept per (account, region) while no rule changes, on SQLite (see `routes`).
ROUTES_CACHE_ENTRIES = 1024
Routes = list[tuple[RuleRecord, list[TargetRecord]]]


def _rule(row: sa.Row[Any]) -> RuleRecord:
    return RuleRecord(
        account_id=row.account_id,
        region=row.region,
        name=row.name,
        event_pattern=row.event_pattern,
        state=row.state,
        description=row.description,
        role_arn=row.role_arn,
        created_at=aware(row.created_at),
        event_bus=row.event_bus,
    )


def _target(row: sa.Row[Any]) -> TargetRecord:
    return TargetRecord(row.target_id, row.arn, dict(row.spec))


def _where(account_id: str, region: str, name: str) -> tuple[sa.ColumnElement[bool], ...]:
    return (
        rules.c.account_id == account_id,
        rules.c.region == region,
        rules.c.event_bus == DEFAULT_BUS,
        rules.c.name == name,
    )


def _rule_id(conn: sa.Connection, account_id: str, region: str, name: str) -> int:
    found = conn.execute(
        sa.select(rules.c.id).where(*_where(account_id, region, name)).with_for_update()
    ).scalar()
    if found is None:
        raise RuleNotFound(name)
    return int(found)


class SqlRuleStore:
    def __init__(self, store: SqlMetadataStore) -> None:
        self._store = store
        self._routes = store.counted_cache(RULES, ROUTES_CACHE_ENTRIES)

    async def _write(self, work: Work[T]) -> T:
        """Every write here may change a rule or its targets: RULES moves with it."""
        return await self._store.write(work, changes=(RULES,))

    async def put_rule(self, rule: RuleRecord, tags: Mapping[str, str] | None) -> None:
        changes = {
            "event_pattern": rule.event_pattern,
            "state": rule.state,
            "description": rule.description,
            "role_arn": rule.role_arn,
        }
        statement = (
            self._store.insert(rules)
            .values(
                account_id=rule.account_id,
                region=rule.region,
                event_bus=rule.event_bus,
                name=rule.name,
                created_at=rule.created_at,
                tags=dict(tags) if tags else None,
                **changes,
            )
            .on_conflict_do_update(
                index_elements=[
                    rules.c.account_id,
                    rules.c.region,
                    rules.c.event_bus,
                    rules.c.name,
                ],
                set_=changes,
            )
        )
        await self._write(lambda conn: conn.execute(statement))

    async def get_rule(self, account_id: str, region: str, name: str) -> RuleRecord | None:
        query = sa.select(rules).where(*_where(account_id, region, name))
        row = await self._store.read(lambda conn: conn.execute(query).first())
        return _rule(row) if row is not None else None

    async def list_rules(
        self, account_id: str, region: str, prefix: str | None, after: str | None, limit: int
    ) -> list[RuleRecord]:
        query = sa.select(rules).where(
            rules.c.account_id == account_id,
            rules.c.region == region,
            rules.c.event_bus == DEFAULT_BUS,
        )
        if prefix:
            query = query.where(*starts_with(rules.c.name, prefix))
        if after is not None:
            query = query.where(rules.c.name > after)
        query = query.order_by(rules.c.name).limit(limit)
        rows = await self._store.read(lambda conn: list(conn.execute(query)))
        return [_rule(row) for row in rows]

    async def set_state(self, account_id: str, region: str, name: str, state: str) -> bool:
        statement = sa.update(rules).where(*_where(account_id, region, name)).values(state=state)
        return bool(await self._write(lambda conn: conn.execute(statement).rowcount))

    async def delete_rule(self, account_id: str, region: str, name: str) -> None:
        def work(conn: sa.Connection) -> None:
            try:
                rule_id = _rule_id(conn, account_id, region, name)
            except RuleNotFound:
                return  # DeleteRule succeeds for a rule that is not there, as in EventBridge
            has_targets = conn.execute(
                sa.select(targets.c.target_id).where(targets.c.rule_id == rule_id).limit(1)
            ).first()
            if has_targets is not None:
                raise RuleHasTargets()
            conn.execute(sa.delete(rules).where(rules.c.id == rule_id))

        await self._write(work)

    async def put_targets(
        self,
        account_id: str,
        region: str,
        rule: str,
        new: Sequence[TargetRecord],
        max_targets: int,
    ) -> None:
        def work(conn: sa.Connection) -> None:
            rule_id = _rule_id(conn, account_id, region, rule)
            present = set(
                conn.execute(
                    sa.select(targets.c.target_id).where(targets.c.rule_id == rule_id)
                ).scalars()
            )
            if len(present | {target.id for target in new}) > max_targets:
                raise TooManyTargets()
            for target in new:
                values = {"arn": target.arn, "spec": target.spec}
                conn.execute(
                    self._store.insert(targets)
                    .values(rule_id=rule_id, target_id=target.id, **values)
                    .on_conflict_do_update(
                        index_elements=[targets.c.rule_id, targets.c.target_id], set_=values
                    )
                )

        await self._write(work)

    async def remove_targets(
        self, account_id: str, region: str, rule: str, ids: Sequence[str]
    ) -> list[str]:
        def work(conn: sa.Connection) -> list[str]:
            rule_id = _rule_id(conn, account_id, region, rule)
            present = set(
                conn.execute(
                    sa.select(targets.c.target_id).where(
                        targets.c.rule_id == rule_id, targets.c.target_id.in_(list(ids))
                    )
                ).scalars()
            )
            conn.execute(
                sa.delete(targets).where(
                    targets.c.rule_id == rule_id, targets.c.target_id.in_(list(present))
                )
            )
            return [target_id for target_id in dict.fromkeys(ids) if target_id not in present]

        return await self._write(work)

    async def list_targets(
        self, account_id: str, region: str, rule: str, after: str | None, limit: int
    ) -> list[TargetRecord]:
        def work(conn: sa.Connection) -> list[TargetRecord]:
            found = conn.execute(
                sa.select(rules.c.id).where(*_where(account_id, region, rule))
            ).scalar()
            if found is None:
                raise RuleNotFound(rule)
            query = sa.select(targets).where(targets.c.rule_id == found)
            if after is not None:
                query = query.where(targets.c.target_id > after)
            query = query.order_by(targets.c.target_id).limit(limit)
            return [_target(row) for row in conn.execute(query)]

        return await self._store.read(work)

    async def routes(self, account_id: str, region: str) -> Routes:
        """The enabled rules of the default bus with their targets. Every delivered event asks
        for them: on SQLite they are kept until a transaction that may change a rule ends, in
        any process (the RULES count). Callers must not change what they are given."""
        cache, key = self._routes, (account_id, region)
        if cache is not None:
            version = cache.current()
            cached: Routes | None = cache.get(key)
            if cached is not None:
                return cached
        params = {"account_id": account_id, "region": region}
        rows = await self._store.read(lambda conn: list(conn.execute(_ROUTES, params)))
        found: dict[str, tuple[RuleRecord, list[TargetRecord]]] = {}
        for row in rows:
            entry = found.setdefault(row.name, (_rule(row), []))
            entry[1].append(_target(row))
        routes = list(found.values())
        if cache is not None:
            cache.put(key, routes, version)
        return routes


# Every pushed image's event asks for its account's routes: the statement is built once.
_ROUTES = (
    sa.select(rules, targets.c.target_id, targets.c.arn, targets.c.spec)
    .join(targets, targets.c.rule_id == rules.c.id)
    .where(
        rules.c.account_id == sa.bindparam("account_id"),
        rules.c.region == sa.bindparam("region"),
        rules.c.event_bus == DEFAULT_BUS,
        rules.c.state == ENABLED,
    )
    .order_by(rules.c.name, targets.c.target_id)
)
