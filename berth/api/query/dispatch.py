"""The Query-protocol endpoint of one service (IAM, STS) on `POST /`: form in, XML out.

A request goes: body (bounded) → SigV4 for this service → Action and parameters decoded and
validated against botocore's model → handler → XML. Domain errors become the service's wire
errors through the one table passed in.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from berth.api.query.errors import QueryError
from berth.api.query.wire import CONTENT_TYPE, REQUEST_ID, QueryModel
from berth.domain import sigv4
from berth.errors import BerthError

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
FORM = "application/x-www-form-urlencoded"
_SCOPE = re.compile(r"Credential=[^/,\s]+/[0-9]{8}/[^/,\s]+/([^/,\s]+)/aws4_request")
# SigV4's errors as Query services name them.
_SIGV4: dict[type[sigv4.SigV4Error], tuple[str, int]] = {
    sigv4.UnrecognizedClient: ("InvalidClientTokenId", 403),
    sigv4.ExpiredToken: ("ExpiredToken", 403),
    sigv4.MissingAuthenticationToken: ("MissingAuthenticationToken", 403),
    sigv4.IncompleteSignature: ("IncompleteSignature", 400),
    sigv4.InvalidSignature: ("SignatureDoesNotMatch", 403),
}


def signed_service(request: web.Request) -> str | None:
    """The service a SigV4-signed form POST is addressed to (its credential scope)."""
    if request.method != "POST" or request.content_type != FORM:
        return None
    found = _SCOPE.search(request.headers.get("Authorization", ""))
    return found[1] if found else None


@dataclass(frozen=True, slots=True)
class Call:
    operation: str
    caller: Any
    request_id: str
    region: str
    source_ip: str | None
    secure: bool


Handler = Callable[[Call, dict[str, Any]], Awaitable[Mapping[str, Any] | None]]
Authenticate = Callable[[sigv4.SignedRequest, str], Awaitable[tuple[Any, str]]]
ToError = Callable[[BerthError], QueryError]
# Told about every authenticated call and how it ended (the audit trail); must not block.
Observe = Callable[[Call, Mapping[str, Any], Mapping[str, Any] | None, QueryError | None], None]


class QueryApi:
    def __init__(
        self,
        model: QueryModel,
        handlers: Mapping[str, Handler],
        authenticate: Authenticate,
        to_error: ToError,
    ) -> None:
        self._model = model
        self._handlers = handlers
        self._authenticate = authenticate
        self._to_error = to_error
        self.observe: Observe | None = None

    async def handle(self, request: web.Request) -> web.Response:
        request_id = str(uuid.uuid4())
        operation = "?"
        call: Call | None = None
        params: Mapping[str, Any] = {}
        try:
            body = await _read_body(request)
            signed = sigv4.SignedRequest(
                method=request.method,
                url=f"{request.scheme}://{request.host}{request.raw_path}",
                headers=list(request.headers.items()),
                body=body,
            )
            try:
                caller, region = await self._authenticate(signed, self._model.service_name)
            except sigv4.SigV4Error as exc:
                code, status = next(
                    (v for k, v in _SIGV4.items() if isinstance(exc, k)),
                    ("InvalidClientTokenId", 403),
                )
                raise QueryError(code, exc.message, status) from None
            try:
                pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
            except UnicodeDecodeError:
                raise QueryError("MalformedInput", "The request body is not UTF-8") from None
            operation, params = self._model.parse_request(pairs)
            call = Call(operation, caller, request_id, region, request.remote, request.secure)
            handler = self._handlers.get(operation)
            if handler is None:
                raise QueryError("InvalidAction", f"Berth does not implement {operation} yet")
            result = await handler(call, dict(params))
            payload = self._model.serialize_response(operation, result or {}, request_id)
            if self.observe is not None:
                self.observe(call, params, result, None)
            return _response(payload, request_id, 200)
        except QueryError as exc:
            error = exc
        except BerthError as exc:
            error = self._to_error(exc)
        except ConnectionError:
            raise
        except Exception:
            log.exception("unhandled error in %s %s", self._model.service_name, operation)
            error = QueryError("ServiceFailure", "An internal error occurred", 500)
        if call is not None and self.observe is not None:
            self.observe(call, params, None, error)
        return _response(self._model.error_body(error, request_id), request_id, error.status)


def _response(payload: bytes, request_id: str, status: int) -> web.Response:
    return web.Response(
        status=status,
        body=payload,
        headers={"Content-Type": CONTENT_TYPE, REQUEST_ID: request_id},
    )


async def _read_body(request: web.Request) -> bytes:
    too_large = QueryError("RequestEntityTooLarge", f"The request exceeds {MAX_BODY} bytes", 413)
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := await request.content.readany():
            size += len(chunk)
            if size > MAX_BODY:
                raise too_large
            chunks.append(chunk)
    except HttpProcessingError as exc:
        raise QueryError("MalformedInput", f"Unreadable body: {exc.message}") from None
    return b"".join(chunks)
