"""SigV4 authentication of ECR API requests, as the dispatcher's `authenticate` hook."""

from __future__ import annotations

from aiohttp import web

from berth.api.awsjson.dispatch import Authenticate
from berth.api.ecr.errors import EcrError
from berth.domain import sigv4
from berth.services.auth import AuthService, Caller

SERVICE = "ecr"


def sigv4_authenticator(auth: AuthService, service: str = SERVICE) -> Authenticate:
    async def authenticate(request: web.Request, body: bytes) -> tuple[Caller, str]:
        signed = sigv4.SignedRequest(
            method=request.method,
            # The raw, still-encoded path: AWS signs it encoded once more.
            url=f"{request.scheme}://{request.host}{request.raw_path}",
            headers=list(request.headers.items()),
            body=body,
        )
        try:
            return await auth.authenticate(signed, service=service)
        except sigv4.SigV4Error as exc:
            raise EcrError(exc.type_name, exc.message, status=exc.status) from None

    return authenticate
