"""Response encoding, checked against botocore's own JSON parser."""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from botocore.parsers import JSONParser
from hypothesis import given
from hypothesis import strategies as st

from berth.api.awsjson.wire import dumps, encode
from berth.api.ecr.model import ECR

operation_model = ECR.operation_model


class Mutability(enum.Enum):
    MUTABLE = "MUTABLE"


def test_encode() -> None:
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert encode(
        {"a": None, "b": [1, None, b"\x00\xff"], "c": when, "d": Mutability.MUTABLE, "e": (True,)}
    ) == {"b": [1, "AP8="], "c": when.timestamp(), "d": "MUTABLE", "e": [True]}
    with pytest.raises(TypeError):
        encode({"x": object()})
    with pytest.raises(ValueError):
        dumps({"x": float("nan")})


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)))
def test_botocore_reads_back_our_timestamps(when: datetime) -> None:
    when = when.replace(tzinfo=UTC, microsecond=when.microsecond // 1000 * 1000)
    body = dumps({"imageDetails": [{"imagePushedAt": when}]})
    parsed = JSONParser().parse(
        {"body": body, "headers": {}, "status_code": 200},
        operation_model("DescribeImages").output_shape,
    )
    assert parsed["imageDetails"][0]["imagePushedAt"] == when
    assert json.loads(body)["imageDetails"][0]["imagePushedAt"] == when.timestamp()
