"""IAM's wire errors: the one table from domain exceptions to IAM error codes and HTTP statuses
(as botocore's model of IAM gives them), for the Query protocol layer."""

from __future__ import annotations

import logging

from berth import errors
from berth.api.query.errors import QueryError
from berth.services import iam_errors

log = logging.getLogger(__name__)

# Subclasses inherit their base's entry.
TABLE: dict[type[errors.BerthError], tuple[str, int]] = {
    iam_errors.NoSuchEntity: ("NoSuchEntity", 404),
    iam_errors.EntityAlreadyExists: ("EntityAlreadyExists", 409),
    iam_errors.DeleteConflict: ("DeleteConflict", 409),
    iam_errors.LimitExceeded: ("LimitExceeded", 409),
    iam_errors.MalformedPolicyDocument: ("MalformedPolicyDocument", 400),
    iam_errors.IamValidationError: ("ValidationError", 400),
    iam_errors.InvalidInput: ("InvalidInput", 400),
    errors.InvalidParameter: ("ValidationError", 400),
    errors.NotAuthenticated: ("InvalidClientTokenId", 403),
    errors.AccessDenied: ("AccessDenied", 403),
}


def server_error() -> QueryError:
    return QueryError("ServiceFailure", "An internal error occurred", 500)


def to_query_error(exc: errors.BerthError) -> QueryError:
    """The IAM error for a domain exception; ServiceFailure (500) for one IAM cannot raise."""
    for cls in type(exc).__mro__:
        entry = TABLE.get(cls)
        if entry is not None:
            code, status = entry
            return QueryError(code, exc.message, status)
    log.error("no IAM error for %s", type(exc).__name__, exc_info=exc)
    return server_error()
