"""Errors of the AWS JSON protocol: `__type`, `message` and the exception shape's other
members, with the request id in `x-amzn-RequestId`; and the lookup that turns a domain
exception into a service's error through that service's one table."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aiohttp import web

from berth import errors
from berth.api.awsjson import wire
from berth.api.awsjson.model import JsonModel

log = logging.getLogger(__name__)

T = TypeVar("T")


class JsonError(Exception):
    """An answer in the protocol's error format. `fields` are extra members of the exception
    shape, e.g. ECR's InvalidLayerPartException's `uploadId` and `lastValidByteReceived`."""

    def __init__(self, type_name: str, message: str, *, status: int = 400, **fields: Any) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message
        self.status = status
        self.fields = fields


def server_error(type_name: str = "ServerException") -> JsonError:
    return JsonError(type_name, "An internal error occurred", status=500)


def error_response(error: JsonError, request_id: str) -> web.Response:
    body = {**error.fields, "__type": error.type_name, "message": error.message}
    return wire.response(body, request_id, error.status)


Fields = Callable[[errors.BerthError], Mapping[str, Any]]
# Each entry names candidate exceptions: the first one the operation's model lists wins, else
# the last. Subclasses inherit their base's entry.
Table = Mapping[type[errors.BerthError], tuple[str | tuple[str, ...], Fields | None]]


def _lookup(table: Mapping[type[errors.BerthError], T], exc: errors.BerthError) -> T | None:
    for cls in type(exc).__mro__:
        entry = table.get(cls)
        if entry is not None:
            return entry
    return None


def from_domain(
    model: JsonModel, table: Table, exc: errors.BerthError, operation: str | None
) -> JsonError:
    """The error `operation` answers for a domain exception; a 500 for unmapped ones."""
    entry = _lookup(table, exc)
    if entry is None:
        log.error("no %s error for %s", model.service, type(exc).__name__, exc_info=exc)
        return server_error()
    candidates, extra = entry
    if isinstance(candidates, str):
        candidates = (candidates,)
    modelled = model.modelled_errors(operation) if operation else frozenset()
    type_name = next((name for name in candidates if name in modelled), candidates[-1])
    allowed = model.error_fields(type_name)
    found = {**exc.detail, **(extra(exc) if extra else {})}
    fields = {key: value for key, value in found.items() if key in allowed}
    return JsonError(type_name, exc.message, **fields)
