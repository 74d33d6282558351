"""A serving process holds only what serving needs: Alembic comes with a migration, the
vulnerability scanner with a scan, botocore and a service model of it with the first call to
that API (or the first signature checked); pydantic never, as `berth serve` checks its settings
in a child process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SERVER = """
import json, sys
from pathlib import Path
from berth import cli, workers  # cli: what `berth serve` imports
from berth.app import create_app
from berth.api.service_models import service_model

create_app(workers.settings_in_child(None, data_dir=Path(sys.argv[1])), prepared=True)
print(json.dumps({"modules": sorted(sys.modules), "models": service_model.cache_info().currsize}))
"""

LATER = [
    "alembic",  # with Mako and Pygments: only `migrate.upgrade`
    "mako",
    "pygments",
    "berth.scan.osv",  # the scanner and its libraries: only a scan, an import or an SBOM
    "berth.scan.layers",
    "berth.scan.cyclonedx",
    "berth.scan.inventory",
    "univers",
    "cvss",
    "zstandard",
    "packageurl",
    "botocore",  # with urllib3 and dateutil: only an AWS API call or a SigV4 signature
    "urllib3",
    "dateutil",
    "pydantic",  # with pydantic-settings: only validating settings, which `serve` does in a child
    "pydantic_core",
    "pydantic_settings",
    "berth.config_model",
]


def test_a_server_imports_no_migrations_scanner_or_models(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", SERVER, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    loaded = json.loads(out.stdout)
    modules = set(loaded["modules"])
    assert [name for name in LATER if name in modules] == []
    assert loaded["models"] == 0


SIGNATURE = """
import sys
from datetime import UTC, datetime
from types import SimpleNamespace
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from berth.domain import sigv4

url = "http://127.0.0.1:5000/"
request = AWSRequest(method="POST", url=url, data=b"{}", headers={"X-Amz-Target": "x"})
key = SimpleNamespace(access_key="AKIAEXAMPLE", secret_key="secret", token=None)
SigV4Auth(key, "ecr", "us-east-1").add_auth(request)
signed = sigv4.SignedRequest(
    "POST", url, [*request.headers.items(), ("Host", "127.0.0.1:5000")], b"{}"
)
parsed = sigv4.parse_authorization(signed)
sigv4.verify(signed, parsed, "secret", now=datetime.now(UTC), expected_service="ecr")
print(sorted(m for m in sys.modules if m.startswith("botocore.credentials")))
"""


def test_checking_a_signature_loads_no_credential_providers() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SIGNATURE], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
