"""ECR's WILDCARD filters: `*` matches any run of characters; everything else is literal."""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=1024)
def wildcard_regex(pattern: str) -> re.Pattern[str]:
    # Unlike fnmatch, `?` and `[` are literal here.
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def matches(pattern: str, text: str) -> bool:
    return wildcard_regex(pattern).fullmatch(text) is not None
