"""Settings layers: defaults < TOML config file < BERTH_* environment < command-line flags."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import ValidationError

from berth import cli, config_model, workers
from berth.config import Settings, Webhook, load_settings


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
    pytest.param(
        {"env": {"BERTH_ROOT_ACCESS_KEY_ID": "AKIAEXAMPLE"}},
        "root_secret_access_key",
        id="env-root-key-without-secret",
    ),
    pytest.param(
        {"toml": 'root_secret_access_key = "secret"'},
        "root_secret_access_key",
        id="toml-root-secret-without-key",
    ),
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


def test_the_settings_object_declares_every_field_of_the_model_in_its_order() -> None:
    # `Settings` is a plain object (no pydantic in a serving process); `config_model` has the
    # rules. A field added to one and not the other would be lost or unchecked.
    model = config_model.Settings.__annotations__
    plain = {k: v for k, v in Settings.__annotations__.items() if not k.startswith("_")}
    assert plain == model
    assert list(vars(load_settings())) == list(model)


def test_settings_checked_in_a_child_process_are_the_settings_loaded_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _toml(
        tmp_path,
        'port = 6000\nlog_level = "debug"\n'
        '[[webhooks]]\nname = "ci"\nurl = "https://ci.example/hook"\nsecret = "s"\n',
    )
    monkeypatch.setenv("BERTH_DATA_DIR", "from-env")
    monkeypatch.setenv("BERTH_WORKERS", "3")
    here = load_settings(config, host="0.0.0.0", port=None)
    there = workers.settings_in_child(config, host="0.0.0.0", port=None)
    assert there == here
    assert (there.port, there.data_dir, there.workers, there.log_level) == (
        6000,
        Path("from-env"),
        3,
        "DEBUG",
    )
    assert there.webhooks == [Webhook(name="ci", url="https://ci.example/hook", secret="s")]
    assert "pydantic" not in repr(type(there).__mro__)


@pytest.mark.parametrize(("case", "field"), INVALID)
def test_a_child_process_refuses_what_load_settings_refuses_with_its_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: dict[str, object], field: str
) -> None:
    config = _apply(case, tmp_path, monkeypatch)
    flags = case.get("flags", {})
    assert isinstance(flags, dict)
    with pytest.raises(ValidationError) as here:
        load_settings(config, **flags)
    with pytest.raises(ValueError) as there:
        workers.settings_in_child(config, **flags)
    assert str(there.value) == str(here.value)


def test_a_child_process_reports_a_missing_or_malformed_config_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"config file .*nowhere\.toml does not exist"):
        workers.settings_in_child(tmp_path / "nowhere.toml")
    with pytest.raises(ValueError, match=r"is not valid TOML"):
        workers.settings_in_child(_toml(tmp_path, "port = \n"))


def test_settings_built_directly_are_validated_and_read_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BERTH_REGION", "eu-west-1")
    settings = Settings(port=6001)
    assert (settings.port, settings.region) == (6001, "eu-west-1")
    with pytest.raises(ValidationError):
        Settings(port=70000)
    with pytest.raises(ValidationError):
        Webhook(name="not a name", url="https://ci.example/")
    with pytest.raises(ValidationError):
        Webhook(name="ci", url="ftp://ci.example/")
    hook = Webhook(name="ci", url="https://ci.example/")
    assert Settings(webhooks=[hook]).webhooks == [hook]
    assert Settings(webhooks=[{"name": "ci", "url": "https://ci.example/"}]).webhooks == [hook]


def test_model_copy_changes_only_what_it_is_given() -> None:
    settings = load_settings()
    copy = settings.model_copy(update={"gc_grace": 0.5})
    assert copy.gc_grace == 0.5 and settings.gc_grace == 3_600.0
    assert copy.model_copy(update={"gc_grace": 3_600.0}) == settings
