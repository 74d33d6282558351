"""The events Berth publishes, in the EventBridge shapes ECR uses (anchors §2.7), and webhook
signatures for delivering them over HTTP.

The builders return plain JSON-ready dicts whose keys are in the order of AWS's documented sample
events, so that a serialised event reads like AWS's. Identifiers and the clock are parameters:
the caller (the outbox) owns them, which keeps a retried delivery byte-identical.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from berth.domain.lifecycle import Decision

ECR_SOURCE = "aws.ecr"
BERTH_SOURCE = "berth"
IMAGE_ACTION = "ECR Image Action"
IMAGE_SCAN = "ECR Image Scan"
# A Berth extension: ECR publishes no lifecycle event on the bus (it records runs in CloudTrail as
# PolicyExecutionEvent), so the summary carries Berth's own source and detail-type.
LIFECYCLE_SUMMARY = "Berth Lifecycle Policy Execution"
# Keeps a summary of a large run far below EventBridge's 256 KB entry limit; the count stays
# exact.
MAX_SUMMARY_DIGESTS = 100
# In the order ECR's documentation lists them. A severity appears only when its count is > 0.
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED")
# How far a webhook's timestamp may be from the receiver's clock, either way, in seconds.
DEFAULT_TOLERANCE = 300

ImageAction = Literal["PUSH", "DELETE"]


def event_time(now: datetime) -> str:
    """EventBridge's `time`: UTC, whole seconds, `Z` suffix (2019-11-16T01:54:34Z)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("event time must be timezone-aware")
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def repository_arn(*, account: str, region: str, repository: str, partition: str = "aws") -> str:
    return f"arn:{partition}:ecr:{region}:{account}:repository/{repository}"


def _envelope(
    *,
    event_id: str,
    detail_type: str,
    source: str,
    account: str,
    now: datetime,
    region: str,
    resources: list[str],
    detail: dict[str, Any],
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": event_time(now),
        "region": region,
        "resources": resources,
        "detail": detail,
    }


def image_action_event(
    *,
    action: ImageAction,
    result: str,
    repository: str,
    digest: str,
    tag: str | None,
    account: str,
    region: str,
    now: datetime,
    event_id: str,
    manifest_media_type: str | None = None,
    artifact_media_type: str | None = None,
) -> dict[str, Any]:
    """ECR's "ECR Image Action", for a push or a delete.

    AWS's samples for both actions have empty `resources` and the same five detail keys. An
    action without a tag (a push or delete by digest) omits `image-tag`; AWS documents no sample
    for that case. The media types are in the event schema AWS publishes for ECR Image Action but
    not in the samples, so they appear only when given.
    """
    detail: dict[str, Any] = {
        "result": result,
        "repository-name": repository,
        "image-digest": digest,
        "action-type": action,
    }
    if tag is not None:
        detail["image-tag"] = tag
    if manifest_media_type is not None:
        detail["manifest-media-type"] = manifest_media_type
    if artifact_media_type is not None:
        detail["artifact-media-type"] = artifact_media_type
    return _envelope(
        event_id=event_id,
        detail_type=IMAGE_ACTION,
        source=ECR_SOURCE,
        account=account,
        now=now,
        region=region,
        resources=[],
        detail=detail,
    )


def severity_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """`finding-severity-counts`: only severities with findings, in ECR's order."""
    unknown = sorted(set(counts) - set(SEVERITIES))
    if unknown:
        raise ValueError(f"unknown severities: {', '.join(unknown)}")
    return {severity: counts[severity] for severity in SEVERITIES if counts.get(severity, 0) > 0}


def image_scan_event(
    *,
    scan_status: str,
    repository: str,
    digest: str,
    tags: Sequence[str],
    finding_counts: Mapping[str, int],
    account: str,
    region: str,
    now: datetime,
    event_id: str,
    partition: str = "aws",
) -> dict[str, Any]:
    """ECR's "ECR Image Scan" (basic scanning); unlike Image Action it names the repository in
    `resources`."""
    return _envelope(
        event_id=event_id,
        detail_type=IMAGE_SCAN,
        source=ECR_SOURCE,
        account=account,
        now=now,
        region=region,
        resources=[
            repository_arn(
                account=account, region=region, repository=repository, partition=partition
            )
        ],
        detail={
            "scan-status": scan_status,
            "repository-name": repository,
            "finding-severity-counts": severity_counts(finding_counts),
            "image-digest": digest,
            "image-tags": list(tags),
        },
    )


def lifecycle_summary_event(
    *,
    repository: str,
    decisions: Sequence[Decision],
    dry_run: bool,
    account: str,
    region: str,
    now: datetime,
    event_id: str,
    partition: str = "aws",
    max_digests: int = MAX_SUMMARY_DIGESTS,
) -> dict[str, Any]:
    """Berth's summary of one lifecycle policy run (or preview, with `dry_run`).

    `expired-image-count` is exact; `expired-image-digests` lists at most `max_digests` of them,
    in the order of `decisions`. `rules` counts the images each rule expired, by priority, and
    lists only rules that expired something.
    """
    per_rule = Counter(decision.applied_rule_priority for decision in decisions)
    return _envelope(
        event_id=event_id,
        detail_type=LIFECYCLE_SUMMARY,
        source=BERTH_SOURCE,
        account=account,
        now=now,
        region=region,
        resources=[
            repository_arn(
                account=account, region=region, repository=repository, partition=partition
            )
        ],
        detail={
            "repository-name": repository,
            "expired-image-count": len(decisions),
            "expired-image-digests": [decision.digest for decision in decisions[:max_digests]],
            "dry-run": dry_run,
            "rules": [
                {"rule-priority": priority, "expired-image-count": per_rule[priority]}
                for priority in sorted(per_rule)
            ],
        },
    )


# --- webhook signatures ------------------------------------------------------------------------
# The header is `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. Signing the timestamp
# with the body lets a receiver reject replays without keeping state; `v1` leaves room for another
# scheme, and a receiver accepts any of several `v1` values, so secrets can be rotated.


def _signature(body: bytes, secret: bytes, timestamp: int) -> str:
    return hmac.new(
        secret, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256
    ).hexdigest()


def sign_webhook(body: bytes, secret: bytes, timestamp: int) -> str:
    return f"t={timestamp},v1={_signature(body, secret, timestamp)}"


def verify_webhook(
    header: str,
    body: bytes,
    secret: bytes,
    *,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE,
) -> bool:
    """Whether `header` signs `body` with `secret`, at a time within `tolerance` of `now`."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, separator, value = item.strip().partition("=")
        if not separator:
            return False
        if key == "t":
            # Bounded so that int() is cheap and never trips Python's digit limit.
            if (
                timestamp is not None
                or not (value.isascii() and value.isdigit())
                or len(value) > 19
            ):
                return False
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures or abs(now - timestamp) > tolerance:
        return False
    expected = _signature(body, secret, timestamp).encode("ascii")
    # Compare every candidate, so the time taken does not reveal which one matched.
    matched = False
    for signature in signatures:
        matched |= hmac.compare_digest(expected, signature.encode("utf-8", "surrogatepass"))
    return matched
