"""Settings layers: defaults < TOML config file < BERTH_* environment < command-line flags."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import ValidationError

from berth import cli
from berth.config import Settings, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No BERTH_* variable from the outside; relative paths land in the test's folder."""
    for key in list(os.environ):
        if key.startswith("BERTH_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def _toml(tmp_path: Path, text: str, name: str = "berth.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.host == "127.0.0.1"
    assert settings.port == 5000
    assert settings.data_dir == Path("berth-data")
    assert settings.database_url == ""
    assert settings.sqlalchemy_url == f"sqlite:///{(tmp_path / 'berth-data').resolve()}/berth.db"
    assert settings.tls_cert is None and settings.tls_key is None
    assert settings.scheme == "http"
    assert settings.account_id == "000000000000"
    assert settings.region == "us-east-1"
    assert settings.log_level == "INFO"
    assert settings.shutdown_timeout == 30.0


def test_file_overrides_defaults(tmp_path: Path) -> None:
    config = _toml(
        tmp_path,
        'host = "0.0.0.0"\nport = 6000\ndata_dir = "from-file"\nlog_level = "debug"\n'
        'database_url = "postgresql+psycopg://db/berth"\nshutdown_timeout = 2.5\n',
    )
    settings = load_settings(config)
    assert settings.host == "0.0.0.0"
    assert settings.port == 6000
    assert settings.data_dir == Path("from-file")
    assert settings.log_level == "DEBUG"
    assert settings.sqlalchemy_url == "postgresql+psycopg://db/berth"
    assert settings.shutdown_timeout == 2.5
    assert settings.region == "us-east-1"  # untouched fields keep their defaults


def test_environment_overrides_file_field_by_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _toml(tmp_path, 'port = 6000\ndata_dir = "from-file"\nhost = "0.0.0.0"\n')
    monkeypatch.setenv("BERTH_PORT", "7000")
    monkeypatch.setenv("BERTH_DATA_DIR", "from-env")
    settings = load_settings(config)
    assert settings.port == 7000
    assert settings.data_dir == Path("from-env")
    assert settings.host == "0.0.0.0"


def test_flags_override_environment_and_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _toml(tmp_path, 'port = 6000\ndata_dir = "from-file"\n')
    monkeypatch.setenv("BERTH_PORT", "7000")
    monkeypatch.setenv("BERTH_DATA_DIR", "from-env")
    settings = load_settings(config, port=8000, host=None, data_dir=None, database_url=None)
    assert settings.port == 8000
    # Flags left as None let the lower layers show through.
    assert settings.data_dir == Path("from-env")
    assert settings.host == "127.0.0.1"


def test_berth_config_names_the_file_and_an_explicit_file_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_env = _toml(tmp_path, "port = 6001\n", "env.toml")
    explicit = _toml(tmp_path, "port = 6002\n", "explicit.toml")
    monkeypatch.setenv("BERTH_CONFIG", str(from_env))
    assert load_settings().port == 6001
    assert load_settings(explicit).port == 6002


@pytest.mark.parametrize("via_env", [False, True], ids=["argument", "BERTH_CONFIG"])
def test_missing_config_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, via_env: bool
) -> None:
    missing = tmp_path / "nowhere.toml"
    if via_env:
        monkeypatch.setenv("BERTH_CONFIG", str(missing))
    with pytest.raises(FileNotFoundError, match=r"nowhere\.toml"):
        load_settings(None if via_env else missing)


def test_unrelated_berth_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    # The test suite itself sets BERTH_TEST_DATABASE_URL next to the server's variables.
    monkeypatch.setenv("BERTH_TEST_DATABASE_URL", "postgresql://elsewhere")
    assert load_settings().database_url == ""


def test_tls_certificate_makes_the_scheme_https() -> None:
    settings = load_settings(tls_cert=Path("c.pem"), tls_key=Path("k.pem"))
    assert settings.scheme == "https"


INVALID = [
    pytest.param({"toml": 'port = "abc"\n'}, "port", id="toml-port-not-a-number"),
    pytest.param({"toml": "port = 70000\n"}, "port", id="toml-port-out-of-range"),
    pytest.param({"toml": 'colour = "red"\n'}, "colour", id="toml-unknown-key"),
    pytest.param({"env": {"BERTH_ACCOUNT_ID": "123"}}, "account_id", id="env-account-id"),
    pytest.param({"env": {"BERTH_REGION": "Mars"}}, "region", id="env-region"),
    pytest.param({"env": {"BERTH_PORT": "abc"}}, "port", id="env-port"),
    pytest.param({"env": {"BERTH_SHUTDOWN_TIMEOUT": "-1"}}, "shutdown_timeout", id="env-timeout"),
    pytest.param({"flags": {"port": 70000}}, "port", id="flag-port-out-of-range"),
]


def _apply(case: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path | None:
    env = case.get("env", {})
    assert isinstance(env, dict)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return _toml(tmp_path, str(case["toml"])) if "toml" in case else None


@pytest.mark.parametrize(("case", "field"), INVALID)
def test_invalid_values_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: dict[str, object], field: str
) -> None:
    config = _apply(case, tmp_path, monkeypatch)
    flags = case.get("flags", {})
    assert isinstance(flags, dict)
    with pytest.raises(ValidationError) as raised:
        load_settings(config, **flags)
    assert [error["loc"] for error in raised.value.errors()] == [(field,)]


@pytest.mark.parametrize(("case", "field"), INVALID)
def test_cli_reports_invalid_configuration_with_exit_code_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    case: dict[str, object],
    field: str,
) -> None:
    config = _apply(case, tmp_path, monkeypatch)
    argv = ["--config", str(config)] if config else []
    argv.append("serve")
    flags = case.get("flags", {})
    assert isinstance(flags, dict)
    for key, value in flags.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("berth: invalid configuration:")
    assert field in err
    assert not (tmp_path / "berth-data").exists()


def test_cli_reports_a_missing_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--config", str(tmp_path / "nowhere.toml"), "serve"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("berth:")
    assert "nowhere.toml" in err


layer_port = st.none() | st.integers(min_value=1, max_value=65535)


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(file_port=layer_port, env_port=layer_port, flag_port=layer_port)
def test_the_highest_layer_that_sets_a_value_wins(
    tmp_path: Path, file_port: int | None, env_port: int | None, flag_port: int | None
) -> None:
    config = None
    if file_port is not None:
        config = _toml(tmp_path, f"port = {file_port}\n")
    if env_port is not None:
        os.environ["BERTH_PORT"] = str(env_port)
    try:
        settings: Settings = load_settings(config, port=flag_port)
    finally:
        os.environ.pop("BERTH_PORT", None)
    expected = next((p for p in (flag_port, env_port, file_port) if p is not None), 5000)
    assert settings.port == expected
