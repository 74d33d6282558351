from __future__ import annotations

import fnmatch
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.domain.lifecycle import (
    Decision,
    ImageFacts,
    Policy,
    Rule,
    evaluate,
    parse_policy,
)
from berth.errors import InvalidParameter

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
PREFIX = (
    "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
    "'Lifecycle policy validation failure: "
)


def image(
    name: str, tags: list[str], age: timedelta | float, pulled: float | None = None
) -> ImageFacts:
    delta = age if isinstance(age, timedelta) else timedelta(days=age)
    last_pulled = None if pulled is None else NOW - timedelta(days=pulled)
    return ImageFacts(
        digest=name, tags=tuple(tags), pushed_at=NOW - delta, last_pulled_at=last_pulled
    )


def rule(
    priority: Any,
    status: str,
    count_type: str = "imageCountMoreThan",
    number: Any = 1,
    **extra: Any,
) -> dict[str, Any]:
    selection: dict[str, Any] = {
        "tagStatus": status,
        "countType": count_type,
        "countNumber": number,
    }
    if count_type != "imageCountMoreThan":
        selection["countUnit"] = "days"
    selection.update(extra)
    return {"rulePriority": priority, "selection": selection, "action": {"type": "expire"}}


def policy_text(*rules: dict[str, Any]) -> str:
    text = json.dumps({"rules": list(rules)})
    # Pad with whitespace so short but valid documents meet ECR's 100-character minimum.
    return text + " " * max(0, 100 - len(text))


def expired(policy: Policy, images: list[ImageFacts]) -> list[str]:
    return [d.digest for d in evaluate(policy, images, NOW)]


# --- golden examples: anchors §2.6.3 -------------------------------------------------------------

MULTI_RULE_IMAGES = [
    image("A", ["beta-1", "prod-1"], 10),
    image("B", ["beta-2", "prod-2"], 9),
    image("C", ["beta-3"], 8),
]


def test_golden_multi_rule_a() -> None:
    policy = parse_policy(
        policy_text(
            rule(1, "tagged", tagPatternList=["prod*"]),
            rule(2, "tagged", tagPatternList=["beta*"]),
        )
    )
    # P2 would pick A and B, but B is in P1's candidate set.
    assert evaluate(policy, MULTI_RULE_IMAGES, NOW) == [Decision("A", 1)]


def test_golden_multi_rule_b() -> None:
    policy = parse_policy(
        policy_text(
            rule(1, "tagged", tagPatternList=["beta*"]),
            rule(2, "tagged", tagPatternList=["prod*"]),
        )
    )
    assert evaluate(policy, MULTI_RULE_IMAGES, NOW) == [Decision("A", 1), Decision("B", 1)]


@pytest.mark.parametrize(
    "selection",
    [{"tagPrefixList": ["alpha", "beta"]}, {"tagPatternList": ["alpha*", "beta*"]}],
)
def test_golden_multi_tag_a(selection: dict[str, Any]) -> None:
    images = [
        image("A", ["alpha-1"], 12),
        image("B", ["beta-1"], 11),
        image("C", ["alpha-2", "beta-2"], 10),
        image("D", ["alpha-3"], 4),
        image("E", ["beta-3"], 3),
        image("F", ["alpha-4", "beta-4"], 2),
    ]
    policy = parse_policy(policy_text(rule(1, "tagged", "sinceImagePushed", 5, **selection)))
    assert evaluate(policy, images, NOW) == [Decision("C", 1)]


def test_golden_multi_tag_b() -> None:
    images = [
        image("A", ["alpha-1", "beta-1", "gamma-1"], 10),
        image("B", ["alpha-2", "beta-2"], 9),
        image("C", ["alpha-3", "beta-3", "gamma-2"], 8),
    ]
    policy = parse_policy(policy_text(rule(1, "tagged", tagPrefixList=["alpha", "beta"])))
    assert expired(policy, images) == ["A", "B"]


def test_golden_all_images_a() -> None:
    images = [
        image("A", ["alpha-1"], 4),
        image("B", ["beta-1"], 3),
        image("C", [], 2),
        image("D", ["alpha-2"], 1),
    ]
    policy = parse_policy(policy_text(rule(1, "any")))
    assert expired(policy, images) == ["A", "B", "C"]


def test_golden_all_images_b() -> None:
    images = [
        image("A", ["alpha-1", "beta-1"], 4),
        image("B", [], 3),
        image("C", ["alpha-2"], 2),
        image("D", ["git hash"], 1),
        # "1 day, newest": pushed after D and not yet more than one day old.
        image("E", [], timedelta(hours=23)),
    ]
    policy = parse_policy(
        policy_text(
            rule(1, "tagged", tagPrefixList=["alpha"]),
            rule(2, "untagged", "sinceImagePushed", 1),
            rule(3, "any"),
        )
    )
    assert evaluate(policy, images, NOW) == [Decision("A", 1), Decision("B", 2), Decision("D", 3)]


# --- evaluation details --------------------------------------------------------------------------


def test_since_image_pulled_falls_back_to_push_time() -> None:
    images = [
        image("old-unpulled", [], 31),
        image("old-pulled-recently", [], 30, pulled=2),
        image("old-pulled-long-ago", [], 30, pulled=20),
        image("new", [], 2),
    ]
    policy = parse_policy(policy_text(rule(1, "untagged", "sinceImagePulled", 10)))
    assert expired(policy, images) == ["old-unpulled", "old-pulled-long-ago"]


def test_pattern_wildcards_are_only_star() -> None:
    images = [image("q", ["v?"], 5), image("x", ["vx"], 4), image("mid", ["a-mid-z"], 3)]
    policy = parse_policy(
        policy_text(rule(1, "tagged", "sinceImagePushed", 1, tagPatternList=["v?"]))
    )
    assert expired(policy, images) == ["q"]
    policy = parse_policy(
        policy_text(rule(1, "tagged", "sinceImagePushed", 1, tagPatternList=["a*m*z"]))
    )
    assert expired(policy, images) == ["mid"]


def test_pattern_must_match_whole_tag() -> None:
    images = [image("a", ["xprod"], 5), image("b", ["prod"], 4)]
    policy = parse_policy(
        policy_text(rule(1, "tagged", "sinceImagePushed", 1, tagPatternList=["prod"]))
    )
    assert expired(policy, images) == ["b"]


def test_age_threshold_is_strict() -> None:
    images = [image("exact", [], 3), image("older", [], timedelta(days=3, seconds=1))]
    policy = parse_policy(policy_text(rule(1, "untagged", "sinceImagePushed", 3)))
    assert expired(policy, images) == ["older"]


def test_no_images() -> None:
    assert evaluate(parse_policy(policy_text(rule(1, "any"))), [], NOW) == []


# --- validation ----------------------------------------------------------------------------------


def test_parse_sorts_rules_and_keeps_fields() -> None:
    policy = parse_policy(
        policy_text(
            {**rule(5, "any", "sinceImagePushed", 30), "description": "catch-all"},
            rule(2, "tagged", tagPatternList=["v*"], number=3),
        )
    )
    assert policy.rules == (
        Rule(2, "tagged", "imageCountMoreThan", 3, tag_patterns=("v*",)),
        Rule(5, "any", "sinceImagePushed", 30, count_unit="days", description="catch-all"),
    )


def _selection(**changes: Any) -> dict[str, Any]:
    selection: dict[str, Any] = {
        "tagStatus": "untagged",
        "countType": "imageCountMoreThan",
        "countNumber": 1,
    }
    selection.update(changes)
    return {k: v for k, v in selection.items() if v is not None}


INVALID: list[tuple[str, str, str]] = [
    ("not-json", "{" + " " * 120, "Could not map policyString into LifecyclePolicy."),
    ("not-object", "[" + " " * 120 + "]", "Could not map policyString into LifecyclePolicy."),
    (
        "no-rules",
        policy_text().replace('"rules"', '"rulez"'),
        'object has missing required properties (["rules"])',
    ),
    (
        "empty-rules",
        policy_text(),
        "array is too short: must have at least 1 elements but instance has 0 elements",
    ),
    (
        "rules-not-list",
        json.dumps({"rules": {}}) + " " * 100,
        'instance type (object) does not match any allowed primitive type (allowed: ["array"])',
    ),
    (
        "unknown-top",
        json.dumps({"rules": [rule(1, "any")], "x": 1}) + " " * 100,
        'object instance has properties which are not allowed by the schema: (["x"])',
    ),
    (
        "rule-not-object",
        json.dumps({"rules": [1]}) + " " * 100,
        'instance type (integer) does not match any allowed primitive type (allowed: ["object"])',
    ),
    (
        "rule-missing",
        policy_text({"rulePriority": 1, "selection": _selection()}),
        'object has missing required properties (["action"])',
    ),
    (
        "rule-unknown",
        policy_text({**rule(1, "any"), "extra": True}),
        'object instance has properties which are not allowed by the schema: (["extra"])',
    ),
    (
        "priority-zero",
        policy_text(rule(0, "any")),
        "numeric instance is lower than the required minimum (minimum: 1, found: 0)",
    ),
    (
        "priority-string",
        policy_text(rule("1", "any")),
        'instance type (string) does not match any allowed primitive type (allowed: ["integer"])',
    ),
    (
        "priority-float",
        policy_text(rule(1.5, "any")),
        'instance type (number) does not match any allowed primitive type (allowed: ["integer"])',
    ),
    (
        "priority-bool",
        policy_text(rule(True, "any")),
        'instance type (boolean) does not match any allowed primitive type (allowed: ["integer"])',
    ),
    (
        "priority-duplicate",
        policy_text(rule(1, "untagged"), rule(1, "tagged", tagPrefixList=["v"]), rule(2, "any")),
        "rulePriority must be unique, found duplicate 1",
    ),
    (
        "tag-status",
        policy_text(rule(1, "TAGGED")),
        "instance value (TAGGED) not found in enum "
        '(possible values: ["any", "tagged", "untagged"])',
    ),
    (
        "tagged-without-list",
        policy_text(rule(1, "tagged")),
        "tagPrefixList or tagPatternList is required when tagStatus is tagged",
    ),
    (
        "tagged-empty-list",
        policy_text(rule(1, "tagged", tagPrefixList=[])),
        "tagPrefixList or tagPatternList is required when tagStatus is tagged",
    ),
    (
        "untagged-with-list",
        policy_text(rule(1, "untagged", tagPrefixList=["v"])),
        "tagPrefixList and tagPatternList are only allowed when tagStatus is tagged, not untagged",
    ),
    (
        "any-with-pattern",
        policy_text(rule(1, "any", tagPatternList=["v*"])),
        "tagPrefixList and tagPatternList are only allowed when tagStatus is tagged, not any",
    ),
    (
        "both-lists",
        policy_text(rule(1, "tagged", tagPrefixList=["v"], tagPatternList=["v*"])),
        "tagPrefixList and tagPatternList cannot be specified together",
    ),
    (
        "five-stars",
        policy_text(rule(1, "tagged", tagPatternList=["*a*b*c*d*"])),
        "tagPatternList entry '*a*b*c*d*' contains more than 4 wildcards (*)",
    ),
    (
        "pattern-not-string",
        policy_text(rule(1, "tagged", tagPatternList=[1])),
        'instance type (integer) does not match any allowed primitive type (allowed: ["string"])',
    ),
    (
        "empty-prefix",
        policy_text(rule(1, "tagged", tagPrefixList=[""])),
        "tagPrefixList must not contain empty strings",
    ),
    (
        "any-not-last",
        policy_text(rule(1, "any"), rule(2, "untagged")),
        "Rule for tagStatus=ANY must have the lowest priority",
    ),
    (
        "two-untagged",
        policy_text(rule(1, "untagged"), rule(2, "untagged", "sinceImagePushed", 3)),
        "Only one rule can select Untagged images.",
    ),
    (
        "count-type",
        policy_text(rule(1, "any", "sinceImageTransitioned")),
        "instance value (sinceImageTransitioned) not found in enum (possible values: "
        '["imageCountMoreThan", "sinceImagePulled", "sinceImagePushed"])',
    ),
    (
        "count-unit-with-count",
        policy_text(rule(1, "any", countUnit="days")),
        "countUnit cannot be specified when countType is imageCountMoreThan",
    ),
    (
        "count-unit-missing",
        policy_text(rule(1, "any", "sinceImagePushed", countUnit=None)),
        "countUnit is required when countType is sinceImagePushed",
    ),
    (
        "count-unit-hours",
        policy_text(rule(1, "any", "sinceImagePushed", countUnit="hours")),
        'instance value (hours) not found in enum (possible values: ["days"])',
    ),
    (
        "count-number-zero",
        policy_text(rule(1, "any", number=0)),
        "numeric instance is lower than the required minimum (minimum: 1, found: 0)",
    ),
    (
        "count-number-negative",
        policy_text(rule(1, "any", number=-3)),
        "numeric instance is lower than the required minimum (minimum: 1, found: -3)",
    ),
    (
        "count-number-float",
        policy_text(rule(1, "any", number=2.0)),
        'instance type (number) does not match any allowed primitive type (allowed: ["integer"])',
    ),
    (
        "selection-unknown",
        policy_text(rule(1, "any", storageClass="archive")),
        'object instance has properties which are not allowed by the schema: (["storageClass"])',
    ),
    (
        "selection-missing",
        policy_text(
            {"rulePriority": 1, "selection": {"tagStatus": "any"}, "action": {"type": "expire"}}
        ),
        'object has missing required properties (["countNumber", "countType"])',
    ),
    (
        "action-type",
        policy_text({**rule(1, "any"), "action": {"type": "transition"}}),
        'instance value (transition) not found in enum (possible values: ["expire"])',
    ),
    (
        "action-unknown",
        policy_text(
            {**rule(1, "any"), "action": {"type": "expire", "targetStorageClass": "archive"}}
        ),
        "object instance has properties which are not allowed by the schema: "
        '(["targetStorageClass"])',
    ),
    (
        "description-type",
        policy_text({**rule(1, "any"), "description": 5}),
        'instance type (integer) does not match any allowed primitive type (allowed: ["string"])',
    ),
    (
        "too-short",
        json.dumps({"rules": [rule(1, "any")]})[:99],
        "Member must have length greater than or equal to 100",
    ),
    (
        "too-long",
        policy_text(rule(1, "any")) + " " * 30_720,
        "Member must have length less than or equal to 30720",
    ),
]


@pytest.mark.parametrize(
    ("text", "detail"), [(t, d) for _, t, d in INVALID], ids=[i for i, _, _ in INVALID]
)
def test_invalid_policy(text: str, detail: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_policy(text)
    assert caught.value.message == PREFIX + detail + "'"


def test_length_bounds_are_inclusive() -> None:
    text = policy_text(rule(1, "any"))
    assert len(parse_policy(text.ljust(100)).rules) == 1
    assert len(parse_policy(text.ljust(30_720)).rules) == 1


def test_four_stars_allowed_and_untagged_plus_any_allowed() -> None:
    parse_policy(
        policy_text(
            rule(1, "tagged", tagPatternList=["*a*b*c*"]),
            rule(2, "untagged", "sinceImagePushed", 1),
            rule(3, "any", "sinceImagePulled", 90),
        )
    )


# --- properties ----------------------------------------------------------------------------------

_TAGS = st.lists(
    st.sampled_from(["prod-1", "prod-2", "beta-1", "beta-2", "v1", "latest"]),
    max_size=3,
    unique=True,
)


@st.composite
def image_sets(draw: st.DrawFn) -> list[ImageFacts]:
    count = draw(st.integers(0, 12))
    images = []
    for index in range(count):
        # Small integer hour offsets make push-time ties likely, exercising the tie-break.
        hours = draw(st.integers(0, 24 * 20))
        pulled = draw(st.none() | st.integers(0, 24 * 20))
        images.append(
            ImageFacts(
                digest=f"sha256:{index:04d}",
                tags=tuple(draw(_TAGS)),
                pushed_at=NOW - timedelta(hours=hours),
                last_pulled_at=None if pulled is None else NOW - timedelta(hours=pulled),
            )
        )
    return images


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    rules: list[dict[str, Any]] = []
    priorities = sorted(draw(st.sets(st.integers(1, 50), min_size=1, max_size=5)))
    has_untagged = False
    for position, priority in enumerate(priorities):
        last = position == len(priorities) - 1
        statuses = ["tagged"] + ([] if has_untagged else ["untagged"]) + (["any"] if last else [])
        status = draw(st.sampled_from(statuses))
        has_untagged |= status == "untagged"
        count_type = draw(
            st.sampled_from(["imageCountMoreThan", "sinceImagePushed", "sinceImagePulled"])
        )
        selection: dict[str, Any] = {
            "tagStatus": status,
            "countType": count_type,
            "countNumber": draw(st.integers(1, 8)),
        }
        if count_type != "imageCountMoreThan":
            selection["countUnit"] = "days"
        if status == "tagged":
            key = draw(st.sampled_from(["tagPrefixList", "tagPatternList"]))
            choices = (
                ["prod", "beta", "v"] if key == "tagPrefixList" else ["prod*", "*-1", "v*", "*t*"]
            )
            selection[key] = draw(
                st.lists(st.sampled_from(choices), min_size=1, max_size=2, unique=True)
            )
        rules.append(
            {"rulePriority": priority, "selection": selection, "action": {"type": "expire"}}
        )
    return parse_policy(policy_text(*rules))


def _candidates(rule_: Rule, images: list[ImageFacts]) -> set[str]:
    # Restates the specification independently of the evaluator (the test tags contain no
    # fnmatch metacharacters other than `*`, so fnmatch is a faithful oracle here).
    def selects(img: ImageFacts) -> bool:
        if rule_.tag_status == "any":
            return True
        if rule_.tag_status == "untagged":
            return not img.tags
        if not img.tags:
            return False
        return all(any(t.startswith(p) for t in img.tags) for p in rule_.tag_prefixes) and all(
            any(fnmatch.fnmatchcase(t, p) for t in img.tags) for p in rule_.tag_patterns
        )

    return {img.digest for img in images if selects(img)}


@settings(max_examples=300, deadline=None)
@given(policies(), image_sets())
def test_expired_at_most_once_and_never_by_lower_priority(
    policy: Policy, images: list[ImageFacts]
) -> None:
    decisions = evaluate(policy, images, NOW)
    digests = [d.digest for d in decisions]
    assert len(digests) == len(set(digests))
    by_priority = {r.priority: r for r in policy.rules}
    for decision in decisions:
        assert decision.action == "EXPIRE"
        applied = by_priority[decision.applied_rule_priority]
        assert decision.digest in _candidates(applied, images)
        for higher in policy.rules:
            if higher.priority < applied.priority:
                assert decision.digest not in _candidates(higher, images)
    pushed = {img.digest: img.pushed_at for img in images}
    keys = [(pushed[d], d) for d in digests]
    assert keys == sorted(keys)


@settings(max_examples=300, deadline=None)
@given(image_sets(), st.integers(1, 15))
def test_single_count_rule_expires_the_oldest(images: list[ImageFacts], keep: int) -> None:
    policy = parse_policy(policy_text(rule(1, "any", number=keep)))
    decisions = evaluate(policy, images, NOW)
    assert len(decisions) == max(0, len(images) - keep)
    oldest = sorted(images, key=lambda img: (img.pushed_at, img.digest))
    assert [d.digest for d in decisions] == [img.digest for img in oldest[: len(decisions)]]
    assert all(d.applied_rule_priority == 1 for d in decisions)


@settings(max_examples=200, deadline=None)
@given(policies(), image_sets(), st.randoms(use_true_random=False))
def test_deterministic_and_order_independent(
    policy: Policy, images: list[ImageFacts], rnd: random.Random
) -> None:
    first = evaluate(policy, images, NOW)
    assert evaluate(policy, images, NOW) == first
    shuffled = list(images)
    rnd.shuffle(shuffled)
    assert evaluate(policy, shuffled, NOW) == first
    assert evaluate(policy, tuple(reversed(images)), NOW) == first
