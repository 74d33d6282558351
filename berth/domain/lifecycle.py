"""ECR lifecycle policies: validation of the policy document and a pure evaluator.

Preview and enforcement must agree exactly, so both call `evaluate` and only differ in what they
do with its decisions. The evaluation model is the one of anchors §2.6.2: every rule identifies its
candidates over the whole repository, but may expire only images that no higher-priority rule
identified; an image is expired by at most one rule; ordering is always by push time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from berth.domain.wildcards import wildcard_regex
from berth.errors import InvalidParameter

TagStatus = Literal["tagged", "untagged", "any"]
CountType = Literal["imageCountMoreThan", "sinceImagePushed", "sinceImagePulled"]

MIN_TEXT_LENGTH = 100
MAX_TEXT_LENGTH = 30_720
MAX_WILDCARDS = 4

_PREFIX = (
    "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
    "'Lifecycle policy validation failure: "
)
_TAG_STATUSES: tuple[TagStatus, ...] = ("any", "tagged", "untagged")
# sinceImagePulled is a Berth extension (aws/containers-roadmap#921): ECR only accepts it with the
# archive tier's transition action, Berth accepts it with expire.
_COUNT_TYPES: tuple[CountType, ...] = ("imageCountMoreThan", "sinceImagePushed", "sinceImagePulled")
_TIME_COUNT_TYPES = frozenset({"sinceImagePushed", "sinceImagePulled"})
_ACTION_TYPES = ("expire",)

_RULE_KEYS = frozenset({"rulePriority", "description", "selection", "action"})
_RULE_REQUIRED = ("action", "rulePriority", "selection")
_SELECTION_KEYS = frozenset(
    {"tagStatus", "tagPrefixList", "tagPatternList", "countType", "countUnit", "countNumber"}
)
_SELECTION_REQUIRED = ("countNumber", "countType", "tagStatus")
_ACTION_KEYS = frozenset({"type"})


@dataclass(frozen=True, slots=True)
class Rule:
    priority: int
    tag_status: TagStatus
    count_type: CountType
    count_number: int
    tag_prefixes: tuple[str, ...] = ()
    tag_patterns: tuple[str, ...] = ()
    count_unit: Literal["days"] | None = None
    description: str | None = None
    action: Literal["expire"] = "expire"


@dataclass(frozen=True, slots=True)
class Policy:
    """Rules sorted by ascending `rulePriority`, i.e. in the order they are applied."""

    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class ImageFacts:
    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime
    last_pulled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    digest: str
    applied_rule_priority: int
    action: Literal["EXPIRE"] = "EXPIRE"


def _fail(detail: str) -> InvalidParameter:
    return InvalidParameter(_PREFIX + detail + "'")


# --- validation ---------------------------------------------------------------------------------
# Messages follow the JSON-schema wording ECR returns for shape errors, and ECR's own sentences for
# the cross-rule checks ("Only one rule can select Untagged images.").


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _expect(value: Any, expected: str) -> None:
    if _json_type(value) != expected:
        raise _fail(
            f"instance type ({_json_type(value)}) does not match any allowed primitive type "
            f'(allowed: ["{expected}"])'
        )


def _check_keys(obj: dict[str, Any], allowed: frozenset[str], required: tuple[str, ...]) -> None:
    missing = [key for key in required if key not in obj]
    if missing:
        raise _fail(f"object has missing required properties ({json.dumps(missing)})")
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise _fail(
            "object instance has properties which are not allowed by the schema: "
            f"({json.dumps(unknown)})"
        )


def _check_enum(value: Any, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise _fail(
            f"instance value ({value}) not found in enum "
            f"(possible values: {json.dumps(sorted(allowed))})"
        )


def _check_minimum(value: Any) -> int:
    _expect(value, "integer")
    if value < 1:
        raise _fail(
            f"numeric instance is lower than the required minimum (minimum: 1, found: {value})"
        )
    return int(value)


def _tag_list(selection: dict[str, Any], key: str) -> tuple[str, ...]:
    if key not in selection:
        return ()
    value = selection[key]
    _expect(value, "array")
    for item in value:
        _expect(item, "string")
        if not item:
            raise _fail(f"{key} must not contain empty strings")
    if len(set(value)) != len(value):
        raise _fail(f"{key} must not contain duplicates")
    return tuple(value)


def _parse_rule(raw: Any) -> Rule:
    _expect(raw, "object")
    _check_keys(raw, _RULE_KEYS, _RULE_REQUIRED)
    priority = _check_minimum(raw["rulePriority"])
    description = raw.get("description")
    if description is not None:
        _expect(description, "string")

    action = raw["action"]
    _expect(action, "object")
    _check_keys(action, _ACTION_KEYS, ("type",))
    _check_enum(action["type"], _ACTION_TYPES)

    selection = raw["selection"]
    _expect(selection, "object")
    _check_keys(selection, _SELECTION_KEYS, _SELECTION_REQUIRED)
    tag_status = selection["tagStatus"]
    _check_enum(tag_status, _TAG_STATUSES)
    count_type = selection["countType"]
    _check_enum(count_type, _COUNT_TYPES)
    count_number = _check_minimum(selection["countNumber"])

    # ECR's schema is a oneOf over the count types: the time-based ones need `countUnit: days`, the
    # count-based one forbids it, and a mismatch matches none of the alternatives.
    count_unit = selection.get("countUnit")
    if count_type in _TIME_COUNT_TYPES:
        if count_unit is None:
            raise _fail(f"countUnit is required when countType is {count_type}")
        _check_enum(count_unit, ("days",))
    elif "countUnit" in selection:
        raise _fail("countUnit cannot be specified when countType is imageCountMoreThan")

    prefixes = _tag_list(selection, "tagPrefixList")
    patterns = _tag_list(selection, "tagPatternList")
    if "tagPrefixList" in selection and "tagPatternList" in selection:
        # AWS documents the two as alternatives; refusing the combination keeps us from guessing
        # how ECR would combine them (anchors §2.6.2, open points).
        raise _fail("tagPrefixList and tagPatternList cannot be specified together")
    for pattern in patterns:
        if pattern.count("*") > MAX_WILDCARDS:
            raise _fail(
                f"tagPatternList entry '{pattern}' contains more than {MAX_WILDCARDS} wildcards (*)"
            )
    if tag_status == "tagged" and not (prefixes or patterns):
        raise _fail("tagPrefixList or tagPatternList is required when tagStatus is tagged")
    if tag_status != "tagged" and ("tagPrefixList" in selection or "tagPatternList" in selection):
        raise _fail(
            f"tagPrefixList and tagPatternList are only allowed when tagStatus is tagged, "
            f"not {tag_status}"
        )
    return Rule(
        priority=priority,
        tag_status=tag_status,
        count_type=count_type,
        count_number=count_number,
        tag_prefixes=prefixes,
        tag_patterns=patterns,
        count_unit="days" if count_unit is not None else None,
        description=description,
    )


def parse_policy(text: str) -> Policy:
    """Validate a lifecycle policy document as ECR's PutLifecyclePolicy does."""
    if len(text) < MIN_TEXT_LENGTH:
        raise _fail(f"Member must have length greater than or equal to {MIN_TEXT_LENGTH}")
    if len(text) > MAX_TEXT_LENGTH:
        raise _fail(f"Member must have length less than or equal to {MAX_TEXT_LENGTH}")
    try:
        document = json.loads(text)
    except ValueError:
        raise _fail("Could not map policyString into LifecyclePolicy.") from None
    if not isinstance(document, dict):
        raise _fail("Could not map policyString into LifecyclePolicy.")
    _check_keys(document, frozenset({"rules"}), ("rules",))
    raw_rules = document["rules"]
    _expect(raw_rules, "array")
    if not raw_rules:
        raise _fail("array is too short: must have at least 1 elements but instance has 0 elements")
    rules = sorted((_parse_rule(raw) for raw in raw_rules), key=lambda rule: rule.priority)

    priorities = [rule.priority for rule in rules]
    duplicates = sorted({p for p in priorities if priorities.count(p) > 1})
    if duplicates:
        raise _fail(f"rulePriority must be unique, found duplicate {duplicates[0]}")
    # "any" selects every image, so any rule after it could never expire anything.
    if any(rule.tag_status == "any" for rule in rules[:-1]):
        raise _fail("Rule for tagStatus=ANY must have the lowest priority")
    if sum(rule.tag_status == "untagged" for rule in rules) > 1:
        raise _fail("Only one rule can select Untagged images.")
    return Policy(tuple(rules))


# --- evaluation ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Selector:
    tag_status: TagStatus
    prefixes: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]

    def selects(self, image: ImageFacts) -> bool:
        if self.tag_status == "any":
            return True
        if self.tag_status == "untagged":
            return not image.tags
        if not image.tags:
            return False
        # Every prefix/pattern must match at least one tag; the tags it matches may differ.
        return all(any(tag.startswith(p) for tag in image.tags) for p in self.prefixes) and all(
            any(rx.fullmatch(tag) for tag in image.tags) for rx in self.patterns
        )


def _selector(rule: Rule) -> _Selector:
    patterns = tuple(wildcard_regex(p) for p in rule.tag_patterns)
    return _Selector(rule.tag_status, rule.tag_prefixes, patterns)


def _would_expire(rule: Rule, candidates: list[ImageFacts], now: datetime) -> list[ImageFacts]:
    """`candidates` arrive oldest first; the result keeps that order."""
    if rule.count_type == "imageCountMoreThan":
        keep = rule.count_number
        return candidates[: max(0, len(candidates) - keep)]
    threshold = now - timedelta(days=rule.count_number)
    if rule.count_type == "sinceImagePushed":
        return [image for image in candidates if image.pushed_at < threshold]
    # An image never pulled counts from its push, so it cannot escape expiry by never being used.
    return [image for image in candidates if (image.last_pulled_at or image.pushed_at) < threshold]


def _age_order(image: ImageFacts) -> tuple[datetime, str]:
    # Ties in push time are broken by digest so that results never depend on input order.
    return (image.pushed_at, image.digest)


def evaluate(policy: Policy, images: Sequence[ImageFacts], now: datetime) -> list[Decision]:
    """Images the policy expires, oldest push first; digests in `images` must be unique."""
    ordered = sorted(images, key=_age_order)
    claimed: set[str] = set()
    expired: dict[str, int] = {}
    for rule in policy.rules:  # already in ascending priority
        selector = _selector(rule)
        candidates = [image for image in ordered if selector.selects(image)]
        for image in _would_expire(rule, candidates, now):
            # `claimed` holds every image a higher-priority rule identified, expired or not;
            # an expired image is always in its own rule's candidates, hence claimed too.
            if image.digest not in claimed:
                expired[image.digest] = rule.priority
        claimed.update(image.digest for image in candidates)
    return [
        Decision(image.digest, expired[image.digest])
        for image in ordered
        if image.digest in expired
    ]
