"""The service models Berth loads are botocore's, minus documentation; routing a request to
its service loads none of them."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.loaders import Loader

from berth.api.awsjson.model import TARGET_PREFIXES, JsonModel
from berth.api.service_models import _without_documentation, service_model

SERVICES = ["ecr", "iam", "sts", "logs", "events", "cloudtrail"]


def _plain(value: Any) -> Any:
    """botocore's OrderedDicts as dicts, documentation strings left out."""
    if isinstance(value, dict):
        return {
            k: _plain(v)
            for k, v in value.items()
            if not (k == "documentation" and isinstance(v, str))
        }
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@pytest.mark.parametrize("service", SERVICES)
def test_the_model_is_botocores_without_documentation(service: str) -> None:
    shipped = Loader().load_service_model(service, "service-2")
    loaded = service_model(service)
    assert loaded._service_description == _plain(shipped)
    assert "documentation" not in loaded._service_description
    assert loaded.metadata == shipped["metadata"]


def test_a_member_called_documentation_is_kept() -> None:
    pairs = [("documentation", {"shape": "String"}), ("other", "x")]
    assert _without_documentation(pairs) == dict(pairs)
    assert _without_documentation([("documentation", "<p>text</p>"), ("a", 1)]) == {"a": 1}


@pytest.mark.parametrize("service", sorted(TARGET_PREFIXES))
def test_target_prefixes_are_the_models(service: str) -> None:
    assert TARGET_PREFIXES[service] == service_model(service).metadata["targetPrefix"]


def test_a_service_outside_the_table_reads_its_model() -> None:
    assert JsonModel("dynamodb").target_prefix == "DynamoDB_20120810"
