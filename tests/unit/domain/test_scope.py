from __future__ import annotations

import pytest

from berth.domain.scope import Scope, scope_from_host

DEFAULT = Scope("000000000000", "us-east-1")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (
            "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com",
            Scope("123456789012", "ap-northeast-2"),
        ),
        ("123456789012.dkr.ecr.eu-west-1.berth.local:5000", Scope("123456789012", "eu-west-1")),
        ("localhost:5000", DEFAULT),
        ("127.0.0.1:5000", DEFAULT),
        ("registry.example.com", DEFAULT),
        (None, DEFAULT),
        ("", DEFAULT),
        ("12345.dkr.ecr.us-east-1.amazonaws.com", DEFAULT),
        ("123456789012.dkr.ecr.NotARegion.amazonaws.com", DEFAULT),
        ("123456789012.dkr.ecr.us-east-1", DEFAULT),
        ("123456789012.api.ecr.us-east-1.amazonaws.com", DEFAULT),
    ],
)
def test_scope_from_host(host: str | None, expected: Scope) -> None:
    assert scope_from_host(host, DEFAULT) == expected
