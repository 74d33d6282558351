"""Which registry a request addresses: ECR keys every repository by (account, region)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scope:
    account_id: str
    region: str
