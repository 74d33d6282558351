from __future__ import annotations

import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.domain.policy.patterns import Segment, action_matches, expand, glob_matches

CONTEXT = {"aws:username": "alice", "aws:tagkeys": None}


def lookup(name: str) -> str | None:
    return CONTEXT.get(name.lower())


def reference(pattern: str, text: str) -> bool:
    source = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(source, text, re.DOTALL) is not None


@settings(max_examples=200, deadline=None)
@given(pattern=st.text(alphabet="ab*?", max_size=8), text=st.text(alphabet="ab", max_size=8))
def test_glob_agrees_with_a_regex_on_small_inputs(pattern: str, text: str) -> None:
    assert glob_matches(((pattern, False),), text) is reference(pattern, text)


BACKTRACKING = """
from berth.domain.policy.patterns import glob_matches
assert not glob_matches((("*a" * 2000 + "*b", False),), "a" * 5000)
assert not glob_matches((("a*" * 2000 + "?b", False),), "a" * 5000)
"""


def test_glob_does_not_backtrack_exponentially() -> None:
    """Patterns that would take a backtracking matcher longer than the universe's age: they
    end (within a generous minute, in a process of their own so a runaway one can be
    stopped) and do not match. Milliseconds, with the matcher as it is."""
    subprocess.run([sys.executable, "-c", BACKTRACKING], check=True, timeout=60)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", (("plain", False),)),
        ("a${aws:username}b", (("a", False), ("alice", True), ("b", False))),
        ("${AWS:UserName}", (("alice", True),)),
        ("${*}${?}${$}", (("*", True), ("?", True), ("$", True))),
        ("${aws:missing, 'x'}", (("x", True),)),
        ("${aws:missing,'x'}", (("x", True),)),
        ("${ aws:username , 'x' }", (("alice", True),)),
        ("${aws:missing, 'it''s'}", (("it's", True),)),
        ("${aws:missing, 'a}b'}", (("a}b", True),)),
        ("${aws:missing, ''}", (("", True),)),
        ("${aws:missing, '${aws:username}'}", (("${aws:username}", True),)),
        ("$a", (("$a", False),)),
        ("${aws:missing}", None),
        ("${aws:tagkeys}", None),
        ("${", None),
        ("${aws:username", None),
        ("${}", None),
        ("${ }", None),
        ("${aws: username}", None),
        ("${aws:missing, x}", None),
        ("${aws:missing, 'x}", None),
        ("${aws:missing, 'x' y}", None),
    ],
)
def test_expand(text: str, expected: tuple[Segment, ...] | None) -> None:
    assert expand(text, lookup) == expected


def test_expand_without_variables_keeps_the_text() -> None:
    assert expand("${aws:username}*", None) == (("${aws:username}*", False),)


def test_literal_segments_never_act_as_wildcards() -> None:
    segments = (("a", False), ("*", True), ("*", False))
    assert glob_matches(segments, "a*xyz")
    assert not glob_matches(segments, "abxyz")


def test_arn_mode_matches_component_by_component() -> None:
    pattern = (("arn:aws:s3:::bucket/*", False),)
    assert glob_matches(pattern, "arn:aws:s3:::bucket/a:b", arn=True)
    assert not glob_matches((("arn:*:s3:::x", False),), "arn:aws:extra:s3:::x", arn=True)
    assert not glob_matches(pattern, "arn:aws:s3", arn=True)
    # A colon from a variable still separates components.
    assert glob_matches(
        (("arn", False), (":", True), ("aws:s3:::b", False)), "arn:aws:s3:::b", arn=True
    )


def test_action_matching_ignores_case() -> None:
    assert action_matches("ECR:Get*", "ecr:getdownloadurlforlayer")
    assert not action_matches("ecr:Get*", "ecr:PutImage")
