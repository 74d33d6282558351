"""The model botocore ships is one Berth can enforce with Python's `re`."""

from __future__ import annotations

import re
from typing import Any

import pytest

from berth.api.ecr.model import ECR
from berth.api.java_regex import compile_pattern

operation_model, operation_names = ECR.operation_model, ECR.operation_names

TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921"
error_fields, modelled_errors = ECR.error_fields, ECR.modelled_errors


def service_model() -> Any:
    return ECR.service_model


def _patterns() -> list[str]:
    model = service_model()
    found = {
        model.shape_for(name).metadata["pattern"]
        for name in model.shape_names
        if "pattern" in model.shape_for(name).metadata
    }
    return sorted(found)


# Java-only syntax that Python would read differently or reject.
_JAVA_ONLY = re.compile(r"\\[pPQEzGRX]|\(\?<[A-Za-z]|(?<![\\\[])[*?}]\+|&&")


def test_the_model_is_ecr() -> None:
    assert service_model().metadata["targetPrefix"] == TARGET_PREFIX
    assert service_model().protocol == "json"
    assert len(operation_names()) >= 58
    assert operation_model("CreateRepository") is not None
    assert operation_model("NoSuchThing") is None
    assert "RepositoryAlreadyExistsException" in modelled_errors("CreateRepository")
    assert modelled_errors("NoSuchThing") == frozenset()
    assert error_fields("InvalidLayerPartException") == {
        "registryId",
        "repositoryName",
        "uploadId",
        "lastValidByteReceived",
    }


def test_the_model_has_patterns() -> None:
    assert len(_patterns()) >= 10


@pytest.mark.parametrize("pattern", _patterns())
def test_every_pattern_compiles_in_python(pattern: str) -> None:
    compiled = compile_pattern(pattern)
    assert compiled is not None
    assert compiled.pattern == pattern
    assert not _JAVA_ONLY.search(pattern), "a Java-only construct would need translating"


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("[0-9]{12}", "123456789012", True),
        ("[0-9]{12}", "12345678901a", False),
        ("[0-9]{12}", "1234567890123", False),  # full match, like Java's matches()
        ("[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+", "sha256:0aF9", True),
        ("[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+", "a-b_c+d.e:00", True),  # '-' after a range is literal
        ("[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+", "sha256:xyz", False),
        ("^\\S+$", "abc", True),
        ("^\\S+$", "abc\n", False),
        ("^\\S+$", "a\u00a0b", True),  # Java's \S is ASCII: a no-break space is not white
    ],
)
def test_patterns_mean_what_java_means(pattern: str, value: str, matches: bool) -> None:
    assert pattern in _patterns()
    compiled = compile_pattern(pattern)
    assert compiled is not None
    assert (compiled.fullmatch(value) is not None) is matches


def test_the_repository_name_pattern() -> None:
    shape = operation_model("CreateRepository").input_shape.members["repositoryName"]
    pattern = compile_pattern(shape.metadata["pattern"])
    assert pattern is not None
    for good in ["app", "team/app", "a.b_c__d--e/f1", "0/1/2"]:
        assert pattern.fullmatch(good), good
    for bad in ["App", "a//b", "/a", "a/", "a..b", "a___b", "a b"]:
        assert not pattern.fullmatch(bad), bad
