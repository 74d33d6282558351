"""The AWS IAM policy language: parsing and validation of policy documents, and evaluation of a
request against identity-based and resource-based policies. Pure: no I/O, no clock (the caller
puts `aws:CurrentTime` in the request context)."""

from __future__ import annotations

from berth.domain.policy.evaluator import evaluate, matches
from berth.domain.policy.model import (
    Condition,
    Decision,
    Policy,
    PolicyError,
    PolicyKind,
    Principal,
    PrincipalEntry,
    Request,
    Statement,
)
from berth.domain.policy.parser import parse_policy

__all__ = [
    "Condition",
    "Decision",
    "Policy",
    "PolicyError",
    "PolicyKind",
    "Principal",
    "PrincipalEntry",
    "Request",
    "Statement",
    "evaluate",
    "matches",
    "parse_policy",
]
