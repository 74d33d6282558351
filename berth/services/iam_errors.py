"""The IAM service's exceptions, each one of IAM's error codes (the Query layer's table in
`berth.api.iam.errors` maps them to the wire)."""

from __future__ import annotations

from berth.errors import BerthError


class NoSuchEntity(BerthError):
    """The user, group, role, policy or access key the request names is not there."""


class EntityAlreadyExists(BerthError):
    pass


class DeleteConflict(BerthError):
    """The entity still has what must be removed first (access keys, policies, members)."""


class LimitExceeded(BerthError):
    """An IAM quota: access keys per user, policy sizes, attached policies, groups per user."""


class MalformedPolicyDocument(BerthError):
    pass


class IamValidationError(BerthError):
    """IAM's ValidationError: a parameter the operation cannot take as given."""


class InvalidInput(BerthError):
    """IAM's InvalidInput: an ARN that is not one, duplicate tag keys."""
