"""The rules of `berth.config`: pydantic-settings' model of every setting (types, ranges,
patterns, defaults) and of its layers (defaults < TOML file < BERTH_* environment < flags).

Only what validates settings imports this module (`berth.config.load_settings`, or building a
`berth.config.Settings` directly); a serving process gets its settings already checked (see
`berth.workers.settings_in_child`) and never holds pydantic, about 6 MB of memory.

The models keep the names `Settings` and `Webhook` because pydantic names the model in its
messages ("1 validation error for Settings"), which `berth serve` shows as they are.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from berth.storage.crypto import decode_key


class Webhook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    url: str = Field(pattern=r"^https?://")
    secret: str = ""


class Settings(BaseSettings):
    """Every field of `berth.config.Settings`, which documents them."""

    model_config = SettingsConfigDict(env_prefix="BERTH_", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(5000, ge=0, le=65535)
    data_dir: Path = Path("berth-data")
    database_url: str = ""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    public_url: str = ""
    account_id: str = Field("000000000000", pattern=r"^[0-9]{12}$")
    region: str = Field("us-east-1", pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
    anonymous_pull: bool = False
    create_on_push: bool = False
    secret_key: str = ""
    root_access_key_id: str = ""
    # Checked even when unset: a key id alone would store a root key with an empty secret.
    root_secret_access_key: str = Field("", validate_default=True)
    pull_time_interval: float = Field(60.0, gt=0)
    lifecycle_interval: float = Field(86_400.0, ge=0)
    gc_interval: float = Field(3_600.0, ge=0)
    gc_grace: float = Field(3_600.0, ge=0)
    upload_ttl: float = Field(86_400.0, gt=0)
    scan_rescan_interval: float = Field(86_400.0, ge=0)
    scan_workers: int = Field(2, ge=0)
    scan_poll_interval: float = Field(5.0, gt=0)
    webhooks: list[Webhook] = []
    events_file: Path | None = None
    event_max_attempts: int = Field(8, ge=1)
    event_retry_base: float = Field(1.0, gt=0)
    event_retention: float = Field(7 * 86_400.0, gt=0)
    audit_retention: float = Field(90 * 86_400.0, gt=0)
    metrics_token: str = ""
    access_log: bool = True
    log_level: str = "INFO"
    workers: int = Field(1, ge=1, le=64)
    shutdown_timeout: float = Field(30.0, ge=0)

    @field_validator("secret_key")
    @classmethod
    def _master_key(cls, value: str) -> str:
        if value:
            decode_key(value.encode(), "secret_key")
        return value

    @field_validator("root_secret_access_key")
    @classmethod
    def _root_key_pair(cls, value: str, info: ValidationInfo) -> str:
        if bool(value) != bool(info.data.get("root_access_key_id")):
            raise ValueError("root_access_key_id and root_secret_access_key go together")
        return value

    @field_validator("log_level")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

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


def validate(values: dict[str, Any], toml_file: Path | None = None) -> dict[str, Any]:
    """Every setting, from `values` over the environment over `toml_file` over the defaults;
    webhooks as `berth.config.Webhook`. Raises pydantic's ValidationError (a ValueError) for a
    bad value, tomllib.TOMLDecodeError for a file that is not TOML."""
    from berth import config

    cls = Settings
    if toml_file is not None:

        class FileSettings(Settings):
            model_config = SettingsConfigDict(toml_file=toml_file)

        cls = FileSettings
    if values.get("webhooks"):  # the plain kind, as `Settings(webhooks=[Webhook(...)])` gives
        hooks = values["webhooks"]
        as_dicts = [asdict(h) if isinstance(h, config.Webhook) else h for h in hooks]
        values = {**values, "webhooks": as_dicts}
    model = cls(**values)
    fields = dict(model)
    fields["webhooks"] = [config.Webhook(**dict(hook)) for hook in model.webhooks]
    return fields


def check_webhook(name: str, url: str, secret: str) -> None:
    """ValidationError unless the three make a webhook `Settings` would accept."""
    Webhook(name=name, url=url, secret=secret)
