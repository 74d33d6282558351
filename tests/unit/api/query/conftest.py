"""botocore's side of the Query protocol, offline: the request body its serializer writes
and what its parser reads out of a response, for the model under test."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from botocore.awsrequest import create_request_object, prepare_request_dict
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from berth.api.query.wire import QueryModel

IAM = QueryModel("iam")
STS = QueryModel("sts")


def botocore_form(
    model: QueryModel, operation: str, params: Mapping[str, Any], *, validate: bool = True
) -> list[tuple[str, str]]:
    """The form pairs of the body botocore sends for `operation(**params)`, decoded as the
    server decodes them. With `validate`, botocore first checks `params` client-side."""
    serializer = create_serializer("query", include_validation=validate)
    request = serializer.serialize_to_request(
        params, model.service_model.operation_model(operation)
    )
    prepare_request_dict(request, "https://example.amazonaws.com")
    body = create_request_object(request).prepare().body
    text = body.decode() if isinstance(body, bytes) else body or ""
    return parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))


def botocore_parse(
    model: QueryModel, operation: str, body: bytes, status: int = 200
) -> dict[str, Any]:
    """What botocore's client hands back for a response with `status` and `body`."""
    shape = model.service_model.operation_model(operation).output_shape
    parsed: dict[str, Any] = create_parser("query").parse(
        {"body": body, "headers": {}, "status_code": status}, shape
    )
    return parsed
