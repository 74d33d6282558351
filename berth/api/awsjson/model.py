"""botocore's model of one AWS JSON service, the single source of its shapes, constraints and
error names: Berth validates against exactly what the AWS SDKs were generated from."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from berth.api.service_models import service_model

if TYPE_CHECKING:  # botocore comes with the model, on the service's first call
    from botocore.model import OperationModel, ServiceModel  # type: ignore[import-untyped]

# `X-Amz-Target` prefixes of the services Berth serves, so that routing a request to its
# service loads no model: only the service that answers loads its own (a unit test checks
# these against the models).
TARGET_PREFIXES = {
    "cloudtrail": "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101",
    "ecr": "AmazonEC2ContainerRegistry_V20150921",
    "events": "AWSEvents",
    "logs": "Logs_20140328",
}


class JsonModel:
    def __init__(self, service: str, *, constraint_error: str | None = None) -> None:
        self.service = service
        # The exception a broken constraint answers, with AWS's generic "N validation errors
        # detected: ..." message (CloudWatch Logs: InvalidParameterException). None: the
        # default of `berth.api.awsjson.validate`.
        self.constraint_error = constraint_error

    @cached_property
    def service_model(self) -> ServiceModel:
        return service_model(self.service)

    @cached_property
    def target_prefix(self) -> str:
        """What `X-Amz-Target` starts with, e.g. AmazonEC2ContainerRegistry_V20150921."""
        known = TARGET_PREFIXES.get(self.service)
        return known if known is not None else str(self.service_model.metadata["targetPrefix"])

    @cached_property
    def _operations(self) -> dict[str, OperationModel]:
        return {}

    def operation_model(self, name: str) -> OperationModel | None:
        """The operation called `name`, or None when the service has no such operation."""
        found = self._operations.get(name)
        if found is None:
            from botocore.model import OperationNotFoundError

            try:
                found = self.service_model.operation_model(name)
            except OperationNotFoundError:
                return None
            self._operations[name] = found
        return found

    def operation_names(self) -> list[str]:
        return list(self.service_model.operation_names)

    def modelled_errors(self, operation: str) -> frozenset[str]:
        """Names of the exceptions the model lists for `operation` (empty when unknown)."""
        model = self.operation_model(operation)
        if model is None:
            return frozenset()
        return frozenset(shape.name for shape in model.error_shapes)

    def error_fields(self, type_name: str) -> frozenset[str]:
        """Members of an exception shape besides `message`, e.g. InvalidLayerPartException's
        `uploadId` and `lastValidByteReceived`; empty for names the model does not define."""
        shape = self.service_model.shape_for_error_code(type_name)
        if shape is None:
            return frozenset()
        return frozenset(name for name in shape.members if name != "message")
