"""The STS operations Berth implements, for the Query-protocol endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from berth.api.query.dispatch import Call, Handler
from berth.errors import InvalidParameter
from berth.services.sts import StsService


class StsOperations:
    def __init__(self, service: StsService) -> None:
        self.service = service

    def table(self) -> dict[str, Handler]:
        return {
            "GetCallerIdentity": self.get_caller_identity,
            "AssumeRole": self.assume_role,
        }

    async def get_caller_identity(self, call: Call, p: dict[str, Any]) -> Mapping[str, Any]:
        return await self.service.get_caller_identity(call.caller)

    async def assume_role(self, call: Call, p: dict[str, Any]) -> Mapping[str, Any]:
        # A session policy narrows a session; ignoring one would grant more than asked for.
        for unsupported in (
            "Policy",
            "PolicyArns",
            "SerialNumber",
            "TokenCode",
            "ProvidedContexts",
        ):
            if p.get(unsupported):
                raise InvalidParameter(f"Berth does not support {unsupported} in AssumeRole yet")
        assumed = await self.service.assume_role(
            call.caller,
            p["RoleArn"],
            p["RoleSessionName"],
            p.get("DurationSeconds"),
            region=call.region,
        )
        credentials = assumed.credentials
        return {
            "Credentials": {
                "AccessKeyId": credentials.access_key_id,
                "SecretAccessKey": credentials.secret_access_key,
                "SessionToken": credentials.session_token,
                "Expiration": credentials.expires_at,
            },
            "AssumedRoleUser": {
                "AssumedRoleId": assumed.principal.userid,
                "Arn": assumed.principal.arn,
            },
        }
