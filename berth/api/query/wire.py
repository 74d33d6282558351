"""The AWS Query protocol for one service (IAM, STS), driven by botocore's model of it.

A request is form pairs, as `urllib.parse.parse_qsl(body, keep_blank_values=True)` decodes an
`application/x-www-form-urlencoded` body (or a GET query string): `Action` names the
operation, `Version` (optional here) must be the model's API version, the rest are the
operation's parameters (see `form`). A response is an XML document in the service's
namespace (see `render`). This module is transport-free: the caller reads the body, picks the
request id and sends the bytes with `CONTENT_TYPE`, the status and the `REQUEST_ID` header.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from berth.api.query import form, render
from berth.api.query.errors import QueryError
from berth.api.service_models import service_model

if TYPE_CHECKING:  # botocore comes with the model, on the service's first call
    from botocore.model import OperationModel, ServiceModel  # type: ignore[import-untyped]

__all__ = ["CONTENT_TYPE", "REQUEST_ID", "QueryError", "QueryModel"]

CONTENT_TYPE = "text/xml"
REQUEST_ID = "x-amzn-RequestId"

# Services known to speak the Query protocol: their models are loaded when first called, not
# when the server starts (a registry that never sees an IAM call never holds IAM's model).
# Any other service's model is loaded at once, to check its protocol.
_QUERY_SERVICES = frozenset({"iam", "sts"})


class QueryModel:
    """Decodes requests and encodes responses for `service_name` ("iam", "sts"). `model`
    replaces botocore's shipped model, e.g. a hand-made one for shapes IAM never uses."""

    def __init__(self, service_name: str, *, model: ServiceModel | None = None) -> None:
        self.service_name = service_name
        if model is not None:
            self.service_model = model
        if model is not None or service_name not in _QUERY_SERVICES:
            self._check(self.service_model)

    @cached_property
    def service_model(self) -> ServiceModel:
        return self._check(service_model(self.service_name))

    def _check(self, model: ServiceModel) -> ServiceModel:
        if model.metadata.get("protocol") != "query":
            raise ValueError(f"{self.service_name} does not speak the Query protocol")
        return model

    @cached_property
    def api_version(self) -> str:
        return str(self.service_model.metadata["apiVersion"])

    @cached_property
    def xmlns(self) -> str:
        return str(self.service_model.metadata["xmlNamespace"])

    @cached_property
    def _names(self) -> frozenset[str]:
        return frozenset(self.service_model.operation_names)

    def operation_names(self) -> frozenset[str]:
        return self._names

    def operation_model(self, name: str) -> OperationModel | None:
        """The operation called `name`, or None when the service has no such operation."""
        if name not in self._names:
            return None
        from botocore.model import OperationNotFoundError

        try:
            return self.service_model.operation_model(name)
        except OperationNotFoundError:  # pragma: no cover - the names come from the model
            return None

    def parse_request(
        self, pairs: Mapping[str, str] | Sequence[tuple[str, str]]
    ) -> tuple[str, dict[str, Any]]:
        """The operation a request names and its parameters as nested data following the
        input shape. Raises QueryError: MissingAction, InvalidAction (unknown operation or
        another API version), MalformedInput (text that is not of its type) or
        ValidationError (constraints, all of them in one message)."""
        items: Iterable[tuple[str, str]] = pairs.items() if isinstance(pairs, Mapping) else pairs
        action: str | None = None
        version: str | None = None
        params: list[tuple[str, str]] = []
        for key, value in items:
            if key == "Action":
                action = value if action is None else action
            elif key == "Version":
                version = value if version is None else version
            else:
                params.append((key, value))
        if not action:
            raise QueryError("MissingAction", "Missing Action")
        operation = self.operation_model(action)
        if operation is None or (version is not None and version != self.api_version):
            raise QueryError(
                "InvalidAction",
                f"Could not find operation {action} for version "
                f"{self.api_version if version is None else version}",
            )
        return action, form.decode(operation, form.tree(params))

    def serialize_response(
        self, operation: str, result: Mapping[str, Any], request_id: str
    ) -> bytes:
        """`result` (keyed by the output shape's member names) as the operation's response
        document. Raises KeyError for an unknown operation, ValueError for a member the
        output shape does not have, TypeError for a value that does not fit its shape."""
        model = self.operation_model(operation)
        if model is None:
            raise KeyError(operation)
        return render.response(model, self.xmlns, result, request_id)

    def serialize_error(
        self, code: str, message: str, request_id: str, *, sender: bool = True
    ) -> bytes:
        return render.error(self.xmlns, code, message, request_id, sender=sender)

    def error_body(self, error: QueryError, request_id: str) -> bytes:
        return self.serialize_error(error.code, error.message, request_id, sender=error.sender)

    def error(self, code: str, message: str) -> QueryError:
        """A QueryError for modelled error `code` ("NoSuchEntity"), with the HTTP status the
        model gives it (404 there); 400 for codes the model does not know."""
        shape = self.service_model.shape_for_error_code(code)
        status = 400
        if shape is not None:
            status = int(shape.metadata.get("error", {}).get("httpStatusCode", 400))
        return QueryError(code, message, status)
