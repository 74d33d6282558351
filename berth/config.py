"""Typed settings: defaults < config file (TOML) < BERTH_* environment < command-line flags."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from berth.storage.crypto import decode_key


class Webhook(BaseModel):
    """A target that receives every event as an HTTP POST of its JSON, signed with `secret`
    (header `Berth-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    url: str = Field(pattern=r"^https?://")
    secret: str = ""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BERTH_", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(5000, ge=0, le=65535)
    data_dir: Path = Path("berth-data")
    # SQLAlchemy URL; empty means SQLite in the data folder.
    database_url: str = ""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Public base URL of the registry, used in Location headers and (later) repositoryUri.
    public_url: str = ""
    account_id: str = Field("000000000000", pattern=r"^[0-9]{12}$")
    region: str = Field("us-east-1", pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
    # Registry access: every /v2/ request needs an ECR token unless anonymous pull is on
    # (pulls only). Pushing to a missing repository creates it only with create_on_push.
    anonymous_pull: bool = False
    create_on_push: bool = False
    # Base64 master key (32+ bytes), the same on every node; empty: generated in the data folder.
    secret_key: str = ""
    root_access_key_id: str = ""
    root_secret_access_key: str = ""
    # Seconds between writes of buffered lastRecordedPullTime values.
    pull_time_interval: float = Field(60.0, gt=0)
    # Housekeeping, in seconds. Lifecycle policies are enforced every `lifecycle_interval` (ECR:
    # within 24 hours); garbage is collected every `gc_interval`; a blob link unreferenced for
    # less than `gc_grace` is kept, so a client that just saw a layer exist can still use it;
    # uploads idle for `upload_ttl` are abandoned. An interval of 0 turns the background job off.
    lifecycle_interval: float = Field(86_400.0, ge=0)
    gc_interval: float = Field(3_600.0, ge=0)
    gc_grace: float = Field(3_600.0, ge=0)
    upload_ttl: float = Field(86_400.0, gt=0)
    # Image scanning: an image may be scanned again `scan_rescan_interval` seconds after its last
    # scan was requested (ECR: once per 24 hours); `scan_workers` scans run at once in this
    # process (0: none, another process scans); idle workers look for queued scans every
    # `scan_poll_interval` seconds (a push to this process wakes them at once).
    scan_rescan_interval: float = Field(86_400.0, ge=0)
    scan_workers: int = Field(2, ge=0)
    scan_poll_interval: float = Field(5.0, gt=0)
    # Event delivery: webhooks (in the config file as [[webhooks]] tables, or BERTH_WEBHOOKS as
    # JSON), a JSON-lines file, retries with exponential backoff from `event_retry_base`
    # seconds, dead letters after `event_max_attempts`; delivered events are kept
    # `event_retention` seconds.
    webhooks: list[Webhook] = []
    events_file: Path | None = None
    event_max_attempts: int = Field(8, ge=1)
    event_retry_base: float = Field(1.0, gt=0)
    event_retention: float = Field(7 * 86_400.0, gt=0)
    # Audit records (CloudTrail's event history keeps 90 days).
    audit_retention: float = Field(90 * 86_400.0, gt=0)
    # /metrics: with a token, scrapers send `Authorization: Bearer <token>`; without one it
    # answers loopback clients only (it names repositories). JSON access logs on stderr.
    metrics_token: str = ""
    access_log: bool = True
    log_level: str = "INFO"
    # Server processes sharing the port (SO_REUSEPORT); 1 serves from this process.
    workers: int = Field(1, ge=1, le=64)
    # Seconds a SIGTERM waits for in-flight requests.
    shutdown_timeout: float = Field(30.0, ge=0)

    @field_validator("secret_key")
    @classmethod
    def _master_key(cls, value: str) -> str:
        if value:
            decode_key(value.encode(), "secret_key")
        return value

    @field_validator("log_level")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML source reads `toml_file` from model_config; unset, it contributes nothing.
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls)


def load_settings(config_file: Path | None = None, **flags: Any) -> Settings:
    """Build settings; `flags` left as None are not set, so lower layers show through.

    The config file comes from `config_file` or else from `BERTH_CONFIG`.
    """
    path = config_file or (
        Path(os.environ["BERTH_CONFIG"]) if os.environ.get("BERTH_CONFIG") else None
    )
    cls = Settings
    if path is not None:
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} does not exist")

        class FileSettings(Settings):
            model_config = SettingsConfigDict(toml_file=path)

        cls = FileSettings
    try:
        return cls(**{k: v for k, v in flags.items() if v is not None})
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"config file {path} is not valid TOML: {exc}") from None
