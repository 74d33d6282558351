"""An AWS JSON 1.1 endpoint: `POST /` with `X-Amz-Target`, JSON in and out, for one service.

A request goes: operation from the target → body (bounded) → authenticate → handler present?
→ JSON → validate against botocore's model → handler → JSON response. Services are injected:
`handlers` maps operation names to coroutines, `authenticate` verifies SigV4 and returns an
opaque caller (or raises JsonError, e.g. UnrecognizedClientException).

Authentication comes before the body is parsed, so an unsigned caller learns nothing about
the request beyond whether the operation exists.

Operations the service has but Berth does not implement yet answer HTTP 400
`ValidationException` "Berth does not implement <Operation> yet": a client fault botocore
parses and does not retry. UnknownOperationException would be wrong, since AWS says that only
for operations that do not exist.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from berth.api.awsjson import wire
from berth.api.awsjson.errors import JsonError, error_response, server_error
from berth.api.awsjson.model import JsonModel
from berth.api.awsjson.validate import validate
from berth.errors import BerthError

if TYPE_CHECKING:  # annotations only: botocore's model module is not needed to serve
    from botocore.model import OperationModel  # type: ignore[import-untyped]

log = logging.getLogger(__name__)

# UploadLayerPart carries up to 20 MiB of layer, which base64 makes 28 MiB.
MAX_BODY = 32 * 1024 * 1024
NOT_IMPLEMENTED = "ValidationException"
TARGET = "X-Amz-Target"


@dataclass(frozen=True, slots=True)
class Call:
    """What a handler learns about the request besides its parameters."""

    operation: str
    caller: Any  # whatever `authenticate` returned
    request_id: str
    region: str  # from the SigV4 credential scope
    source_ip: str | None
    user_agent: str | None
    secure: bool = False


Handler = Callable[[Call, dict[str, Any]], Awaitable[dict[str, Any]]]
# Returns the caller and the region its signature is scoped to (the region it addresses).
Authenticate = Callable[[web.Request, bytes], Awaitable[tuple[Any, str]]]
# Raises (e.g. AccessDenied) unless the caller may run the call with these parameters.
Authorize = Callable[[Call, dict[str, Any]], Awaitable[None]]


ToError = Callable[[BerthError, str | None], JsonError]
# Told about every authenticated call and how it ended (the audit trail); must not block.
Observe = Callable[[Call, Mapping[str, Any], Mapping[str, Any] | None, JsonError | None], None]


class JsonApi:
    def __init__(
        self,
        model: JsonModel,
        handlers: Mapping[str, Handler],
        authenticate: Authenticate,
        to_error: ToError,
        *,
        authorize: Authorize | None = None,
        observe: Observe | None = None,
        max_body: int = MAX_BODY,
    ) -> None:
        self.model = model
        self.observe = observe
        self._to_error = to_error
        self._handlers = handlers
        self._authenticate = authenticate
        self._authorize = authorize
        self._max_body = max_body

    def accepts(self, request: web.Request) -> bool:
        """Whether `request` is addressed to this service rather than another AWS service."""
        target = request.headers.get(TARGET, "")
        return (
            request.method == "POST"
            and request.path == "/"
            and target.startswith(self.model.target_prefix + ".")
        )

    async def handle(self, request: web.Request) -> web.Response:
        request_id = str(uuid.uuid4())
        operation: OperationModel | None = None
        call: Call | None = None
        params: Mapping[str, Any] = {}
        try:
            operation = _operation(self.model, request)
            body = await _read_body(request, self._max_body)
            caller, region = await self._authenticate(request, body)
            call = Call(
                operation=operation.name,
                caller=caller,
                request_id=request_id,
                region=region,
                source_ip=request.remote,
                user_agent=request.headers.get("User-Agent"),
                secure=request.secure,
            )
            handler = self._handlers.get(operation.name)
            if handler is None:
                raise JsonError(NOT_IMPLEMENTED, f"Berth does not implement {operation.name} yet")
            params = validate(operation, _parse(body), constraint_error=self.model.constraint_error)
            if self._authorize is not None:
                await self._authorize(call, dict(params))
            result = await handler(call, dict(params))
            if self.observe is not None:
                self.observe(call, params, result, None)
            return wire.response(result, request_id)
        except JsonError as exc:
            error = exc
        except BerthError as exc:
            error = self._to_error(exc, operation.name if operation is not None else None)
        except ConnectionError:
            raise  # the client is gone; there is nobody to answer
        except Exception:
            name = operation.name if operation is not None else "?"
            log.exception(
                "unhandled error in %s %s (request %s)", self.model.service, name, request_id
            )
            error = server_error()
        if call is not None and self.observe is not None:
            self.observe(call, params, None, error)
        return error_response(error, request_id)


def _operation(model: JsonModel, request: web.Request) -> OperationModel:
    target = request.headers.get(TARGET, "")
    prefix, _, name = target.rpartition(".")
    found = model.operation_model(name) if prefix == model.target_prefix else None
    if found is None or request.method != "POST" or request.path != "/":
        raise JsonError("UnknownOperationException", f"Unknown operation {target[:100]!r}")
    return found


async def _read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, refused once it passes `limit` (aiohttp's own cap is 1 MiB)."""
    too_large = JsonError(
        "SerializationException", f"The request body exceeds {limit} bytes", status=413
    )
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := await request.content.readany():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
    except HttpProcessingError as exc:  # shorter than declared, broken chunked encoding
        raise JsonError("SerializationException", f"Unreadable body: {exc.message}") from None
    return b"".join(chunks)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except ValueError as exc:  # includes UnicodeDecodeError and JSONDecodeError
        raise JsonError("SerializationException", f"Malformed JSON request body: {exc}") from None
