"""Typed settings: defaults < config file (TOML) < BERTH_* environment < command-line flags.

`Settings` and `Webhook` are plain objects; what makes them (types, ranges, patterns, defaults,
the layers) is pydantic-settings' model in `berth.config_model`, imported only to validate:
pydantic is about 6 MB of a process, and a serving process gets its settings checked already
(see `berth.workers.settings_in_child`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Webhook:
    """A target that receives every event as an HTTP POST of its JSON, signed with `secret`
    (header `Berth-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`). Checked
    when built: a name of 1 to 64 letters, digits, `_`, `.` or `-`; an http(s) URL."""

    name: str
    url: str
    secret: str = ""

    def __post_init__(self) -> None:
        from berth.config_model import check_webhook

        check_webhook(self.name, self.url, self.secret)


class Settings:
    """Every setting, with its default and constraint (see `berth.config_model`).

    `Settings(**values)` validates like `load_settings` without a config file: BERTH_*
    variables fill in what `values` leaves out; pydantic's ValidationError for a bad value.
    """

    host: str
    port: int
    data_dir: Path
    # SQLAlchemy URL; empty means SQLite in the data folder.
    database_url: str
    tls_cert: Path | None
    tls_key: Path | None
    # Public base URL of the registry, used in Location headers and (later) repositoryUri.
    public_url: str
    account_id: str
    region: str
    # Registry access: every /v2/ request needs an ECR token unless anonymous pull is on
    # (pulls only). Pushing to a missing repository creates it only with create_on_push.
    anonymous_pull: bool
    create_on_push: bool
    # Base64 master key (32+ bytes), the same on every node; empty: generated in the data folder.
    secret_key: str
    root_access_key_id: str
    root_secret_access_key: str
    # Seconds between writes of buffered lastRecordedPullTime values.
    pull_time_interval: float
    # Housekeeping, in seconds. Lifecycle policies are enforced every `lifecycle_interval` (ECR:
    # within 24 hours); garbage is collected every `gc_interval`; a blob link unreferenced for
    # less than `gc_grace` is kept, so a client that just saw a layer exist can still use it;
    # uploads idle for `upload_ttl` are abandoned. An interval of 0 turns the background job off.
    lifecycle_interval: float
    gc_interval: float
    gc_grace: float
    upload_ttl: float
    # Image scanning: an image may be scanned again `scan_rescan_interval` seconds after its last
    # scan was requested (ECR: once per 24 hours); `scan_workers` scans run at once in this
    # process (0: none, another process scans); idle workers look for queued scans every
    # `scan_poll_interval` seconds (a push to this process wakes them at once).
    scan_rescan_interval: float
    scan_workers: int
    scan_poll_interval: float
    # Event delivery: webhooks (in the config file as [[webhooks]] tables, or BERTH_WEBHOOKS as
    # JSON), a JSON-lines file, retries with exponential backoff from `event_retry_base`
    # seconds, dead letters after `event_max_attempts`; delivered events are kept
    # `event_retention` seconds.
    webhooks: list[Webhook]
    events_file: Path | None
    event_max_attempts: int
    event_retry_base: float
    event_retention: float
    # Audit records (CloudTrail's event history keeps 90 days).
    audit_retention: float
    # /metrics: with a token, scrapers send `Authorization: Bearer <token>`; without one it
    # answers loopback clients only (it names repositories). JSON access logs on stderr.
    metrics_token: str
    access_log: bool
    log_level: str
    # Server processes sharing the port (SO_REUSEPORT); 1 serves from this process.
    workers: int
    # Seconds a SIGTERM waits for in-flight requests.
    shutdown_timeout: float

    def __init__(self, **values: Any) -> None:
        from berth.config_model import validate

        self.__dict__.update(validate(values))

    @classmethod
    def checked(cls, values: Mapping[str, Any]) -> Settings:
        """Settings from values validated already (by `berth.config_model.validate`)."""
        settings = cls.__new__(cls)
        settings.__dict__.update(values)
        return settings

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Settings:
        """A copy with `update` applied, unchecked (as pydantic's `model_copy`)."""
        return Settings.checked({**self.__dict__, **(update or {})})

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.__dict__ == self.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable, as the pydantic model was

    def __repr__(self) -> str:
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'berth.db'}"

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"

    @property
    def registry_url(self) -> str:
        """How clients reach this registry: `public_url`, else the listen address."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def load_settings(config_file: Path | None = None, **flags: Any) -> Settings:
    """Build settings; `flags` left as None are not set, so lower layers show through.

    The config file comes from `config_file` or else from `BERTH_CONFIG`.
    """
    path = config_file or (
        Path(os.environ["BERTH_CONFIG"]) if os.environ.get("BERTH_CONFIG") else None
    )
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    import tomllib

    from berth.config_model import validate

    try:
        values = validate({k: v for k, v in flags.items() if v is not None}, path)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"config file {path} is not valid TOML: {exc}") from None
    return Settings.checked(values)
