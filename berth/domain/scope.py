"""Which registry a request addresses: ECR keys every repository by (account, region)."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scope:
    account_id: str
    region: str


_ACCOUNT = re.compile(r"[0-9]{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")


def scope_from_host(host: str | None, default: Scope | None) -> Scope | None:
    """`<account>.dkr.ecr.<region>.<domain>` names that registry, as on AWS; any other host
    (`localhost:5000`, an IP address, a plain name) the configured default."""
    if host:
        parts = host.split(":", 1)[0].split(".")
        if (
            len(parts) >= 5
            and parts[1:3] == ["dkr", "ecr"]
            and _ACCOUNT.fullmatch(parts[0])
            and _REGION.fullmatch(parts[3])
        ):
            return Scope(parts[0], parts[3])
    return default
