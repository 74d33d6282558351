"""Event routes kept between deliveries on SQLite: any process's change to a rule or its targets
is seen at once, and other commits leave them cached."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from berth.storage.logs_ports import RuleRecord, TargetRecord
from berth.storage.metadata import migrate
from berth.storage.metadata.rules import SqlRuleStore
from berth.storage.metadata.store import SqlMetadataStore

ACCOUNT, REGION = "000000000000", "us-east-1"
GROUP = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/events/ecr"


def _rule(name: str, state: str = "ENABLED") -> RuleRecord:
    return RuleRecord(ACCOUNT, REGION, name, None, state, None, None, datetime.now(UTC))


def _names(routes: list[tuple[RuleRecord, list[TargetRecord]]]) -> list[tuple[str, list[str]]]:
    return [(rule.name, [t.id for t in found]) for rule, found in routes]


def test_routes_follow_every_rule_change_made_by_another_process(tmp_path: Path) -> None:
    async def run() -> None:
        url = f"sqlite:///{tmp_path / 'berth.db'}"
        await asyncio.to_thread(migrate.upgrade, url)
        stores = [SqlMetadataStore(url), SqlMetadataStore(url)]
        reader, writer = (SqlRuleStore(store) for store in stores)
        try:
            assert await reader.routes(ACCOUNT, REGION) == []

            await writer.put_rule(_rule("pushes"), None)
            await writer.put_targets(
                ACCOUNT, REGION, "pushes", [TargetRecord("t1", GROUP, {"Id": "t1"})], 5
            )
            first = await reader.routes(ACCOUNT, REGION)
            assert _names(first) == [("pushes", ["t1"])]

            # Commits that change no rule keep them: the same answer, not read again.
            await stores[1].ensure_repository(ACCOUNT, REGION, "some/repo")
            assert await reader.routes(ACCOUNT, REGION) is first

            await writer.put_targets(
                ACCOUNT, REGION, "pushes", [TargetRecord("t2", GROUP, {"Id": "t2"})], 5
            )
            assert _names(await reader.routes(ACCOUNT, REGION)) == [("pushes", ["t1", "t2"])]

            assert await writer.set_state(ACCOUNT, REGION, "pushes", "DISABLED")
            assert await reader.routes(ACCOUNT, REGION) == []

            assert await writer.set_state(ACCOUNT, REGION, "pushes", "ENABLED")
            assert await writer.remove_targets(ACCOUNT, REGION, "pushes", ["t1", "t2"]) == []
            assert await reader.routes(ACCOUNT, REGION) == []

            await writer.delete_rule(ACCOUNT, REGION, "pushes")
            await writer.put_rule(_rule("again"), None)
            await writer.put_targets(
                ACCOUNT, REGION, "again", [TargetRecord("t3", GROUP, {"Id": "t3"})], 5
            )
            assert _names(await reader.routes(ACCOUNT, REGION)) == [("again", ["t3"])]
        finally:
            for store in stores:
                await store.close()

    asyncio.run(run())
