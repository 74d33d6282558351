"""botocore's service models (ECR, IAM, STS, CloudWatch Logs, ...) as every Berth API loads
them: on first use, once per process, without their documentation.

The models are the single source of shapes, constraints and error names; their documentation
strings are half of their text and Berth never reads them, so they are dropped while the JSON
is parsed (the whole model of all six services: about 6 MB of a process instead of 10 MB).
Objects are plain dicts rather than botocore's OrderedDicts, which are twice the size.
"""

from __future__ import annotations

import gzip
import json
import os
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # botocore itself comes with the first model loaded (about 4 MB)
    from botocore.model import ServiceModel  # type: ignore[import-untyped]

# In the order botocore's own JSONFileLoader tries them.
_SUFFIXES = (".json", ".json.gz")


def _without_documentation(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A member may be *called* "documentation": only text values are documentation.
    return {k: v for k, v in pairs if not (k == "documentation" and isinstance(v, str))}


class _CompactFileLoader:
    """botocore's file-loader interface (`exists`, `load_file`) over its own data files."""

    def exists(self, file_path: str) -> bool:
        return any(os.path.isfile(file_path + suffix) for suffix in _SUFFIXES)

    def load_file(self, file_path: str) -> Any:
        for suffix in _SUFFIXES:
            path = file_path + suffix
            if os.path.isfile(path):
                with gzip.open(path) if suffix.endswith(".gz") else open(path, "rb") as file:
                    return json.loads(file.read(), object_pairs_hook=_without_documentation)
        return None


@cache
def service_model(service_name: str) -> ServiceModel:
    """botocore's model of `service_name` ("ecr", "iam", ...); loading one costs tens of
    milliseconds, so it happens once per process, when the service is first called."""
    from botocore.loaders import Loader  # type: ignore[import-untyped]
    from botocore.model import ServiceModel

    loader = Loader(file_loader=_CompactFileLoader())
    return ServiceModel(loader.load_service_model(service_name, "service-2"), service_name)
