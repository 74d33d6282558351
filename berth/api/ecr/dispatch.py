"""The ECR control-plane endpoint: the AWS JSON dispatcher with ECR's model and error table."""

from __future__ import annotations

from collections.abc import Mapping

from berth.api.awsjson.dispatch import MAX_BODY, Authenticate, Authorize, Call, Handler, JsonApi
from berth.api.ecr.errors import from_domain
from berth.api.ecr.model import ECR

__all__ = ["Authenticate", "Call", "EcrApi", "Handler"]


def EcrApi(
    handlers: Mapping[str, Handler],
    authenticate: Authenticate,
    *,
    authorize: Authorize | None = None,
    max_body: int = MAX_BODY,
) -> JsonApi:
    return JsonApi(ECR, handlers, authenticate, from_domain, authorize=authorize, max_body=max_body)
