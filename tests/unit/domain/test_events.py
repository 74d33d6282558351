from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.domain.event_patterns import matches, parse_pattern
from berth.domain.events import (
    MAX_SUMMARY_DIGESTS,
    event_time,
    image_action_event,
    image_scan_event,
    lifecycle_summary_event,
    repository_arn,
    severity_counts,
    sign_webhook,
    verify_webhook,
)
from berth.domain.lifecycle import Decision

DIGEST = "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234"

# AWS's documented sample events (Amazon ECR User Guide, "Amazon ECR events and EventBridge").
AWS_PUSH: dict[str, Any] = {
    "version": "0",
    "id": "13cde686-328b-6117-af20-0e5566167482",
    "detail-type": "ECR Image Action",
    "source": "aws.ecr",
    "account": "123456789012",
    "time": "2019-11-16T01:54:34Z",
    "region": "us-west-2",
    "resources": [],
    "detail": {
        "result": "SUCCESS",
        "repository-name": "my-repository-name",
        "image-digest": DIGEST,
        "action-type": "PUSH",
        "image-tag": "latest",
    },
}
AWS_DELETE: dict[str, Any] = {
    "version": "0",
    "id": "dd3b46cb-2c74-f49e-393b-28286b67279d",
    "detail-type": "ECR Image Action",
    "source": "aws.ecr",
    "account": "123456789012",
    "time": "2019-11-16T02:01:05Z",
    "region": "us-west-2",
    "resources": [],
    "detail": {
        "result": "SUCCESS",
        "repository-name": "my-repository-name",
        "image-digest": DIGEST,
        "action-type": "DELETE",
        "image-tag": "latest",
    },
}
AWS_SCAN: dict[str, Any] = {
    "version": "0",
    "id": "85fc3613-e913-7fc4-a80c-a3753e4aa9ae",
    "detail-type": "ECR Image Scan",
    "source": "aws.ecr",
    "account": "123456789012",
    "time": "2019-10-29T02:36:48Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ecr:us-east-1:123456789012:repository/my-repository-name"],
    "detail": {
        "scan-status": "COMPLETE",
        "repository-name": "my-repository-name",
        "finding-severity-counts": {"CRITICAL": 10, "MEDIUM": 9},
        "image-digest": DIGEST,
        "image-tags": [],
    },
}


def assert_same_event(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    # Field by field first, for a readable failure, then the whole, key order included.
    assert list(actual) == list(expected)
    for key in expected:
        if key == "detail":
            assert list(actual["detail"]) == list(expected["detail"])
            for name, value in expected["detail"].items():
                assert actual["detail"][name] == value, name
        else:
            assert actual[key] == expected[key], key
    assert json.dumps(actual) == json.dumps(expected)


# --- ECR Image Action --------------------------------------------------------------------------


def test_push_event_is_aws_sample() -> None:
    event = image_action_event(
        action="PUSH",
        result="SUCCESS",
        repository="my-repository-name",
        digest=DIGEST,
        tag="latest",
        account="123456789012",
        region="us-west-2",
        now=datetime(2019, 11, 16, 1, 54, 34, tzinfo=UTC),
        event_id="13cde686-328b-6117-af20-0e5566167482",
    )
    assert_same_event(event, AWS_PUSH)


def test_delete_event_is_aws_sample() -> None:
    event = image_action_event(
        action="DELETE",
        result="SUCCESS",
        repository="my-repository-name",
        digest=DIGEST,
        tag="latest",
        account="123456789012",
        region="us-west-2",
        now=datetime(2019, 11, 16, 2, 1, 5, 987654, tzinfo=UTC),
        event_id="dd3b46cb-2c74-f49e-393b-28286b67279d",
    )
    assert_same_event(event, AWS_DELETE)


def test_untagged_action_omits_the_tag() -> None:
    event = image_action_event(
        action="DELETE",
        result="SUCCESS",
        repository="r",
        digest=DIGEST,
        tag=None,
        account="123456789012",
        region="us-west-2",
        now=datetime(2024, 1, 1, tzinfo=UTC),
        event_id="e",
    )
    assert list(event["detail"]) == ["result", "repository-name", "image-digest", "action-type"]


def test_media_types_appear_only_when_given() -> None:
    event = image_action_event(
        action="PUSH",
        result="SUCCESS",
        repository="r",
        digest=DIGEST,
        tag="v1",
        account="123456789012",
        region="us-west-2",
        now=datetime(2024, 1, 1, tzinfo=UTC),
        event_id="e",
        manifest_media_type="application/vnd.oci.image.manifest.v1+json",
        artifact_media_type="application/vnd.example.sbom",
    )
    assert event["detail"]["manifest-media-type"] == "application/vnd.oci.image.manifest.v1+json"
    assert event["detail"]["artifact-media-type"] == "application/vnd.example.sbom"
    assert list(event["detail"])[:5] == list(AWS_PUSH["detail"])


def test_failed_push_carries_the_result() -> None:
    event = image_action_event(
        action="PUSH",
        result="FAILURE",
        repository="r",
        digest=DIGEST,
        tag="v1",
        account="1",
        region="eu-west-1",
        now=datetime(2024, 1, 1, tzinfo=UTC),
        event_id="e",
    )
    assert event["detail"]["result"] == "FAILURE"


def test_the_documented_ecr_pattern_selects_berth_push_events() -> None:
    pattern = parse_pattern(
        json.dumps(
            {
                "source": ["aws.ecr"],
                "detail-type": ["ECR Image Action"],
                "detail": {
                    "action-type": ["PUSH"],
                    "result": ["SUCCESS"],
                    "repository-name": [{"prefix": "prod-"}],
                },
            }
        )
    )

    def push(repository: str, action: Any = "PUSH") -> dict[str, Any]:
        return image_action_event(
            action=action,
            result="SUCCESS",
            repository=repository,
            digest=DIGEST,
            tag="v1",
            account="123456789012",
            region="us-west-2",
            now=datetime(2024, 1, 1, tzinfo=UTC),
            event_id="e",
        )

    assert matches(pattern, push("prod-api"))
    assert not matches(pattern, push("dev-api"))
    assert not matches(pattern, push("prod-api", "DELETE"))


# --- ECR Image Scan ----------------------------------------------------------------------------


def test_scan_event_is_aws_sample() -> None:
    event = image_scan_event(
        scan_status="COMPLETE",
        repository="my-repository-name",
        digest=DIGEST,
        tags=[],
        finding_counts={"MEDIUM": 9, "CRITICAL": 10, "HIGH": 0},
        account="123456789012",
        region="us-east-1",
        now=datetime(2019, 10, 29, 2, 36, 48, tzinfo=UTC),
        event_id="85fc3613-e913-7fc4-a80c-a3753e4aa9ae",
    )
    assert_same_event(event, AWS_SCAN)


def test_scan_event_lists_tags_and_uses_the_partition() -> None:
    event = image_scan_event(
        scan_status="COMPLETE",
        repository="team/app",
        digest=DIGEST,
        tags=("v1", "latest"),
        finding_counts={},
        account="123456789012",
        region="cn-north-1",
        now=datetime(2024, 1, 1, tzinfo=UTC),
        event_id="e",
        partition="aws-cn",
    )
    assert event["resources"] == ["arn:aws-cn:ecr:cn-north-1:123456789012:repository/team/app"]
    assert event["detail"]["image-tags"] == ["v1", "latest"]
    assert event["detail"]["finding-severity-counts"] == {}


def test_severity_counts_keep_ecr_order_and_drop_zeroes() -> None:
    counts = {"UNDEFINED": 1, "LOW": 2, "INFORMATIONAL": 0, "HIGH": 3, "CRITICAL": 4, "MEDIUM": 5}
    assert list(severity_counts(counts).items()) == [
        ("CRITICAL", 4),
        ("HIGH", 3),
        ("MEDIUM", 5),
        ("LOW", 2),
        ("UNDEFINED", 1),
    ]


def test_unknown_severities_are_rejected() -> None:
    with pytest.raises(ValueError, match="SEVERE"):
        severity_counts({"SEVERE": 1})


# --- lifecycle summary -------------------------------------------------------------------------


def test_lifecycle_summary() -> None:
    decisions = [
        Decision("sha256:" + "a" * 64, 1),
        Decision("sha256:" + "b" * 64, 2),
        Decision("sha256:" + "c" * 64, 1),
    ]
    event = lifecycle_summary_event(
        repository="team/app",
        decisions=decisions,
        dry_run=False,
        account="123456789012",
        region="us-east-1",
        now=datetime(2026, 1, 15, 12, 0, 0, 500, tzinfo=UTC),
        event_id="4f1c0b8e-0000-4000-8000-000000000001",
    )
    assert event == {
        "version": "0",
        "id": "4f1c0b8e-0000-4000-8000-000000000001",
        "detail-type": "Berth Lifecycle Policy Execution",
        "source": "berth",
        "account": "123456789012",
        "time": "2026-01-15T12:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:ecr:us-east-1:123456789012:repository/team/app"],
        "detail": {
            "repository-name": "team/app",
            "expired-image-count": 3,
            "expired-image-digests": [decision.digest for decision in decisions],
            "dry-run": False,
            "rules": [
                {"rule-priority": 1, "expired-image-count": 2},
                {"rule-priority": 2, "expired-image-count": 1},
            ],
        },
    }


def test_lifecycle_summary_caps_the_digests_not_the_count() -> None:
    decisions = [Decision(f"sha256:{index:064x}", 1) for index in range(MAX_SUMMARY_DIGESTS + 5)]
    event = lifecycle_summary_event(
        repository="r",
        decisions=decisions,
        dry_run=True,
        account="123456789012",
        region="us-east-1",
        now=datetime(2026, 1, 15, tzinfo=UTC),
        event_id="e",
    )
    detail = event["detail"]
    assert detail["expired-image-count"] == MAX_SUMMARY_DIGESTS + 5
    assert detail["expired-image-digests"] == [d.digest for d in decisions[:MAX_SUMMARY_DIGESTS]]
    assert detail["dry-run"] is True
    assert detail["rules"] == [{"rule-priority": 1, "expired-image-count": MAX_SUMMARY_DIGESTS + 5}]
    assert len(json.dumps(event)) < 256 * 1024


def test_lifecycle_summary_of_an_idle_run() -> None:
    event = lifecycle_summary_event(
        repository="r",
        decisions=[],
        dry_run=False,
        account="1",
        region="us-east-1",
        now=datetime(2026, 1, 15, tzinfo=UTC),
        event_id="e",
        max_digests=0,
    )
    assert event["detail"]["expired-image-count"] == 0
    assert event["detail"]["expired-image-digests"] == []
    assert event["detail"]["rules"] == []


def test_lifecycle_summary_is_not_an_ecr_event() -> None:
    event = lifecycle_summary_event(
        repository="r",
        decisions=[Decision(DIGEST, 1)],
        dry_run=False,
        account="1",
        region="us-east-1",
        now=datetime(2026, 1, 15, tzinfo=UTC),
        event_id="e",
    )
    assert not matches(parse_pattern('{"source": ["aws.ecr"]}'), event)
    assert matches(parse_pattern('{"source": ["berth"], "detail": {"dry-run": [false]}}'), event)


# --- time --------------------------------------------------------------------------------------


def test_event_time_is_utc_whole_seconds() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert event_time(datetime(2019, 11, 16, 3, 54, 34, 999999, tzinfo=plus_two)) == (
        "2019-11-16T01:54:34Z"
    )
    assert event_time(datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)) == "2024-02-29T23:59:59Z"


def test_event_time_needs_a_timezone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        event_time(datetime(2024, 1, 1))


def test_repository_arn() -> None:
    assert repository_arn(account="123456789012", region="us-west-2", repository="a/b") == (
        "arn:aws:ecr:us-west-2:123456789012:repository/a/b"
    )


# --- webhook signatures ------------------------------------------------------------------------

SECRET = b"whsec_test"
BODY = b'{"version":"0","detail-type":"ECR Image Action"}'


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET, b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign_webhook(BODY, SECRET, 1700000000) == f"t=1700000000,v1={expected}"


def test_known_signature() -> None:
    # Fixed vector, so that a change of the scheme cannot go unnoticed.
    assert sign_webhook(b"hello", b"secret", 1) == (
        "t=1,v1=" + hmac.new(b"secret", b"1.hello", hashlib.sha256).hexdigest()
    )
    assert sign_webhook(b"", b"k", 0).startswith("t=0,v1=")


def test_verify_accepts_its_own_signature() -> None:
    header = sign_webhook(BODY, SECRET, 1700000000)
    assert verify_webhook(header, BODY, SECRET, now=1700000000)
    assert verify_webhook(header, BODY, SECRET, now=1700000300)
    assert verify_webhook(header, BODY, SECRET, now=1699999700)


def test_verify_rejects_stale_and_future_signatures() -> None:
    header = sign_webhook(BODY, SECRET, 1700000000)
    assert not verify_webhook(header, BODY, SECRET, now=1700000301)
    assert not verify_webhook(header, BODY, SECRET, now=1699999699)
    assert verify_webhook(header, BODY, SECRET, now=1700003600, tolerance=3600)


def test_verify_rejects_a_changed_body_secret_or_timestamp() -> None:
    header = sign_webhook(BODY, SECRET, 1700000000)
    assert not verify_webhook(header, BODY + b" ", SECRET, now=1700000000)
    assert not verify_webhook(header, BODY, b"other", now=1700000000)
    forged = header.replace("t=1700000000", "t=1700000001")
    assert not verify_webhook(forged, BODY, SECRET, now=1700000000)


def test_verify_accepts_any_of_several_signatures() -> None:
    good = sign_webhook(BODY, SECRET, 1700000000).split(",")[1]
    header = f"t=1700000000,v1={'0' * 64},{good}"
    assert verify_webhook(header, BODY, SECRET, now=1700000000)
    # Unknown schemes are ignored; spaces after commas are tolerated.
    assert verify_webhook(f"t=1700000000, v0=abc, {good}", BODY, SECRET, now=1700000000)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        "t=1700000000",
        "v1=" + "0" * 64,
        "t=abc,v1=" + "0" * 64,
        "t=-5,v1=" + "0" * 64,
        "t=1700000000,t=1700000000,v1=" + "0" * 64,
        "t=" + "9" * 5000 + ",v1=00",
        "t=\u0661\u0667" + "\u0660" * 8 + ",v1=00",  # Arabic-Indic digits
        "t=1700000000,v1=é",
    ],
)
def test_verify_rejects_malformed_headers(header: str) -> None:
    assert not verify_webhook(header, BODY, SECRET, now=1700000000)


def test_verify_is_case_sensitive_about_hex() -> None:
    header = sign_webhook(BODY, SECRET, 1700000000)
    assert not verify_webhook(
        header.upper().replace("T=", "t=").replace("V1=", "v1="), BODY, SECRET, now=1700000000
    )


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64), st.binary(min_size=1, max_size=32), st.integers(0, 2**40))
def test_sign_then_verify_round_trips(body: bytes, secret: bytes, timestamp: int) -> None:
    header = sign_webhook(body, secret, timestamp)
    assert verify_webhook(header, body, secret, now=timestamp)
    assert not verify_webhook(header, body + b"x", secret, now=timestamp)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_verify_never_raises(header: str) -> None:
    assert verify_webhook(header, BODY, SECRET, now=1700000000) in (True, False)
