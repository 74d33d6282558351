"""CloudTrail-shaped audit records, built from what a request did. Pure: no clock, no I/O.

Secrets never get in: byte values (layer parts) are dropped, every member whose name says it is
a secret, token or password is replaced, and the responses of the calls that hand out
credentials (GetAuthorizationToken, CreateAccessKey, AssumeRole) are not recorded at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from berth.domain.policy import Principal

EVENT_VERSION = "1.08"
MAX_ELEMENTS_CHARS = 2048
READ_ONLY = re.compile(r"^(Describe|List|Get|BatchGet|BatchCheck|Lookup|Filter|Test)")
_SECRET = re.compile(r"secret|token|password|credential|authorization|privatekey", re.I)
SILENT_RESPONSES = frozenset({"GetAuthorizationToken", "CreateAccessKey", "AssumeRole"})
_IDENTITY_TYPES = {"root": "Root", "user": "IAMUser", "assumed-role": "AssumedRole"}


@dataclass(frozen=True, slots=True)
class Actor:
    principal: Principal
    access_key_id: str | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A record plus the columns LookupEvents filters on."""

    event_id: str
    account_id: str
    event_time: datetime
    event_name: str
    event_source: str
    read_only: bool
    username: str | None
    access_key_id: str | None
    resource_type: str | None
    resource_name: str | None
    record: str  # the CloudTrailEvent JSON document


def event_id(at: datetime, random: bytes) -> str:
    """A UUID in version 7's layout: its milliseconds first, so that the trail's primary key
    grows at its end instead of taking a random B-tree page per record. `random`: 10 bytes."""
    ms = int(at.timestamp() * 1000) & 0xFFFFFFFFFFFF
    tail = int.from_bytes(random[:10], "big")
    rand_a = (tail >> 64) & 0x0FFF
    rand_b = tail & 0x3FFFFFFFFFFFFFFF
    value = (ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def username(principal: Principal) -> str | None:
    """CloudTrail's Username: root, the IAM user's name, or a role session's name."""
    if principal.kind == "root":
        return "root"
    if principal.kind == "user":
        return principal.username
    if principal.kind == "assumed-role":
        return principal.arn.rsplit("/", 1)[-1]
    return None


def scrub(value: Any, *, key: str = "") -> Any:
    """`value` with bytes dropped and anything secret-looking replaced."""
    if key and _SECRET.search(key):
        return "HIDDEN_DUE_TO_SECURITY_REASONS"
    if isinstance(value, bytes | bytearray | memoryview):
        return None
    if isinstance(value, Mapping):
        return {k: scrub(v, key=str(k)) for k, v in value.items() if not _is_bytes(v)}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value if not _is_bytes(v)]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _utc_seconds(at: datetime) -> str:
    """CloudTrail's eventTime (`2026-11-28T01:56:00Z`); `at` is in UTC."""
    return at.isoformat(timespec="seconds")[:19] + "Z"


def _is_bytes(value: Any) -> bool:
    return isinstance(value, bytes | bytearray | memoryview)


def _trimmed(value: Any) -> Any:
    """Large elements (manifests, listings) are cut: the trail says what happened, not all."""
    if value is None:
        return None
    text = json.dumps(value, default=str)
    if len(text) <= MAX_ELEMENTS_CHARS:
        return value
    return {"truncated": True, "size": len(text)}


@lru_cache(maxsize=1024)
def _user_identity(caller: Actor | None) -> dict[str, Any]:
    """CloudTrail's userIdentity; the same for every record of a caller (shared, read-only)."""
    principal = caller.principal if caller is not None else None
    if principal is None or principal.kind == "anonymous":
        return {"type": "Unknown"}
    identity: dict[str, Any] = {
        "type": _IDENTITY_TYPES.get(principal.kind, "Unknown"),
        "principalId": principal.userid or principal.account,
        "arn": principal.arn,
        "accountId": principal.account,
        "accessKeyId": caller.access_key_id if caller else None,
    }
    if principal.kind == "user":
        identity["userName"] = principal.username
    if principal.kind == "assumed-role":
        identity["sessionContext"] = {
            "sessionIssuer": {
                "type": "Role",
                "arn": principal.role_arn,
                "accountId": principal.account,
                "userName": (principal.role_arn or "").rsplit("/", 1)[-1],
            }
        }
    return identity


@dataclass(frozen=True, slots=True)
class Template:
    """A record but for its event id, request id and time, serialised once: the registry
    records every pull, and the same client pulling the same image makes the same record."""

    account_id: str
    event_name: str
    event_source: str
    read_only: bool
    username: str | None
    access_key_id: str | None
    resource_type: str | None
    resource_name: str | None
    # The JSON document's other members and its closing brace.
    rest: str

    def entry(self, event_id: str, request_id: str, event_time: datetime) -> AuditEntry:
        record = (
            f'{{"eventTime":"{_utc_seconds(event_time)}","requestID":{json.dumps(request_id)},'
            f'"eventID":{json.dumps(event_id)},{self.rest}'
        )
        return AuditEntry(
            event_id=event_id,
            account_id=self.account_id,
            event_time=event_time,
            event_name=self.event_name,
            event_source=self.event_source,
            read_only=self.read_only,
            username=self.username,
            access_key_id=self.access_key_id,
            resource_type=self.resource_type,
            resource_name=self.resource_name,
            record=record,
        )


def template(
    *,
    event_source: str,
    event_name: str,
    region: str,
    account_id: str,
    caller: Actor | None,
    source_ip: str | None,
    user_agent: str | None,
    request_parameters: Mapping[str, Any] | None,
    response_elements: Mapping[str, Any] | None,
    error_code: str | None = None,
    error_message: str | None = None,
    resource_arn: str | None = None,
    resource_type: str | None = None,
    plain_parameters: bool = False,
) -> Template:
    """`plain_parameters`: the caller built `request_parameters` itself from a few short
    strings, none secret (a registry request's repository and reference), so there is
    nothing to scrub or trim."""
    principal = caller.principal if caller is not None else None
    read_only = bool(READ_ONLY.match(event_name))
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": _user_identity(caller),
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
        "requestParameters": request_parameters
        if plain_parameters
        else _trimmed(scrub(request_parameters)),
        "responseElements": None
        if event_name in SILENT_RESPONSES
        else _trimmed(scrub(response_elements)),
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account_id,
        "eventCategory": "Management",
    }
    if error_code is not None:
        record["errorCode"] = error_code
        record["errorMessage"] = error_message
    if resource_arn is not None:
        record["resources"] = [
            {"ARN": resource_arn, "accountId": account_id, "type": resource_type}
        ]
    return Template(
        account_id=account_id,
        event_name=event_name,
        event_source=event_source,
        read_only=read_only,
        username=username(principal) if principal is not None else None,
        access_key_id=caller.access_key_id if caller else None,
        resource_type=resource_type if resource_arn else None,
        resource_name=resource_arn,
        rest=json.dumps(record, separators=(",", ":"))[1:],
    )


def entry(*, event_id: str, request_id: str, event_time: datetime, **fields: Any) -> AuditEntry:
    """One record; `fields` are `template`'s."""
    return template(**fields).entry(event_id, request_id, event_time)


IMAGES_PER_EXECUTION_EVENT = 10


def policy_execution_entries(
    *,
    account_id: str,
    region: str,
    repository: str,
    policy_text: str,
    evaluated_at: datetime,
    expired: list[tuple[str, tuple[str, ...], datetime, int]],
    event_ids: list[str],
) -> list[AuditEntry]:
    """ECR's CloudTrail `PolicyExecutionEvent` records of one lifecycle run (an AwsServiceEvent,
    split every ten images as ECR does). `expired`: (digest, tags, pushed at, rule priority)."""
    try:
        rules = json.loads(policy_text).get("rules", [])
    except ValueError:
        rules = []
    batches = [
        expired[i : i + IMAGES_PER_EXECUTION_EVENT]
        for i in range(0, len(expired), IMAGES_PER_EXECUTION_EVENT)
    ]
    arn = f"arn:aws:ecr:{region}:{account_id}:repository/{repository}"
    entries = []
    for batch, event_id in zip(batches, event_ids, strict=False):
        record = {
            "eventVersion": EVENT_VERSION,
            "userIdentity": {"accountId": account_id, "invokedBy": "AWS Internal"},
            "eventTime": evaluated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": "ecr.amazonaws.com",
            "eventName": "PolicyExecutionEvent",
            "awsRegion": region,
            "sourceIPAddress": "AWS Internal",
            "userAgent": "AWS Internal",
            "requestParameters": None,
            "responseElements": None,
            "eventID": event_id,
            "readOnly": False,
            "resources": [{"ARN": arn, "accountId": account_id, "type": "AWS::ECR::Repository"}],
            "eventType": "AwsServiceEvent",
            "managementEvent": True,
            "recipientAccountId": account_id,
            "serviceEventDetails": {
                "repositoryName": repository,
                "lifecycleEventPolicy": {
                    "lifecycleEventRules": rules,
                    "lastEvaluatedAt": int(evaluated_at.timestamp() * 1000),
                    "policyVersion": 1,
                },
                "lifecycleEventImageActions": [
                    {
                        "lifecycleEventImage": {
                            "digest": digest,
                            "tagStatus": "TAGGED" if tags else "UNTAGGED",
                            "tagList": list(tags[:100]),
                            "pushedAt": int(pushed_at.timestamp() * 1000),
                        },
                        "rulePriority": priority,
                    }
                    for digest, tags, pushed_at, priority in batch
                ],
            },
            "eventCategory": "Management",
        }
        entries.append(
            AuditEntry(
                event_id=event_id,
                account_id=account_id,
                event_time=evaluated_at,
                event_name="PolicyExecutionEvent",
                event_source="ecr.amazonaws.com",
                read_only=False,
                username=None,
                access_key_id=None,
                resource_type="AWS::ECR::Repository",
                resource_name=arn,
                record=json.dumps(record, separators=(",", ":")),
            )
        )
    return entries
