"""Base scores of CVSS vectors, through the `cvss` library (which ships no type hints)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cvss  # type: ignore[import-untyped]


@dataclass(frozen=True, slots=True)
class Score:
    vector: str  # as the library normalises it
    score: float


def score_v2(vector: str) -> Score | None:
    return _score(cvss.CVSS2, vector)


def score_v3(vector: str) -> Score | None:
    return _score(cvss.CVSS3, vector)


def score_v4(vector: str) -> Score | None:
    return _score(cvss.CVSS4, vector)


def _score(kind: Any, vector: str) -> Score | None:
    try:
        parsed = kind(vector)
        return Score(str(parsed.clean_vector()), float(parsed.base_score))
    except (cvss.CVSSError, ValueError, KeyError, IndexError, TypeError):
        return None  # a malformed vector rates nothing
