"""botocore's ECR service model, the single source of shapes, constraints and error names.

The model ships with botocore, so Berth validates against exactly what the AWS SDKs were
generated from; nothing here retypes a shape.
"""

from __future__ import annotations

from functools import cache

from botocore.loaders import Loader  # type: ignore[import-untyped]
from botocore.model import (  # type: ignore[import-untyped]
    OperationModel,
    OperationNotFoundError,
    ServiceModel,
)

SERVICE = "ecr"
TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921"


@cache
def service_model() -> ServiceModel:
    # Loading and wrapping the model costs tens of milliseconds: do it once per process.
    return ServiceModel(Loader().load_service_model(SERVICE, "service-2"), SERVICE)


@cache
def operation_model(name: str) -> OperationModel | None:
    """The operation called `name`, or None when ECR has no such operation."""
    try:
        return service_model().operation_model(name)
    except OperationNotFoundError:
        return None


def operation_names() -> list[str]:
    return list(service_model().operation_names)


@cache
def modelled_errors(operation: str) -> frozenset[str]:
    """Names of the exceptions the model lists for `operation` (empty for unknown operations)."""
    model = operation_model(operation)
    if model is None:
        return frozenset()
    return frozenset(shape.name for shape in model.error_shapes)


@cache
def error_fields(type_name: str) -> frozenset[str]:
    """Members of an exception shape besides `message`, e.g. InvalidLayerPartException's
    `uploadId` and `lastValidByteReceived`; empty for names the model does not define."""
    shape = service_model().shape_for_error_code(type_name)
    if shape is None:
        return frozenset()
    return frozenset(name for name in shape.members if name != "message")
