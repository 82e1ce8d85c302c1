"""Configuration loading: TOML + environment, precedence, errors that name the key, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import load_settings
from bridge.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_environment_wins_over_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[clickai]\napi_key = "from-file"\nbase_url = "http://file/v1"\n')
    settings = load_settings(path, {"BRIDGE_CLICKAI__API_KEY": "from-env"})
    assert settings.clickai.api_key.get_secret_value() == "from-env"
    assert settings.clickai.base_url == "http://file/v1"


def test_env_only_without_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {
        "BRIDGE_CLICKAI__API_KEY": "k",
        "BRIDGE_TELEGRAM__ENABLED": "true",
        "BRIDGE_TELEGRAM__TOKEN": "123:abc",
        "BRIDGE_TELEGRAM__ALLOWED_USER_IDS": "[1, 2]",
        "BRIDGE_CLICKAI__INPUTS": '{"company": "ACME"}',
    }
    settings = load_settings(None, env)
    assert settings.telegram.enabled
    assert settings.telegram.allowed_user_ids == [1, 2]
    assert settings.clickai.inputs == {"company": "ACME"}
    assert settings.store.url == "sqlite:///data/bridge.db"


def test_bridge_config_env_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[clickai]\napi_key = "k"\nresponse_mode = "blocking"\n')
    settings = load_settings(None, {"BRIDGE_CONFIG": str(path)})
    assert settings.clickai.response_mode == "blocking"


@pytest.mark.parametrize(
    ("toml", "env", "needle"),
    [
        ("", {}, "clickai.api_key"),
        ('[clickai]\napi_key = "k"\nbogus = 1\n', {}, "clickai.bogus: unknown key"),
        ('[clickai]\napi_key = "k"\n', {"BRIDGE_CLICKAI__NOPE": "1"}, "clickai.nope"),
        ('[clickai]\napi_key = "k"\n', {"BRIDGE_WHAT__X": "1"}, "unknown section 'what'"),
        ('[clickai]\napi_key = "k"\nresponse_mode = "fast"\n', {}, "clickai.response_mode"),
        ('[clickai]\napi_key = "k"\n[server]\nlisten = "nope"\n', {}, "server"),
        ('[clickai]\napi_key = "CHANGE-ME"\n', {}, "clickai.api_key: still the placeholder"),
        ('[clickai]\napi_key = "k"\n[telegram]\nenabled = true\n', {}, "telegram"),
        (
            '[clickai]\napi_key = "k"\n[telegram]\nenabled = true\ntoken = "t"\n'
            'mode = "webhook"\n',
            {},
            "webhook_secret",
        ),
        ('[clickai]\napi_key = "k"\n[slack]\nenabled = true\nbot_token = "x"\n', {}, "app_token"),
        ("[clickai\n", {}, "cannot read TOML"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, toml: str, env: dict[str, str], needle: str) -> None:
    path = write(tmp_path, toml)
    with pytest.raises(ConfigError, match=None) as info:
        load_settings(path, env)
    assert needle in str(info.value)


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "absent.toml", {"BRIDGE_CLICKAI__API_KEY": "k"})


def test_secrets_never_show_in_repr(tmp_path: Path) -> None:
    path = write(tmp_path, '[clickai]\napi_key = "sk-very-secret"\n')
    env = {"BRIDGE_TELEGRAM__TOKEN": "999:tg-secret", "BRIDGE_SLACK__SIGNING_SECRET": "sig-secret"}
    settings = load_settings(path, env)
    text = repr(settings) + str(settings)
    for secret in ("sk-very-secret", "999:tg-secret", "sig-secret"):
        assert secret not in text


def test_example_config_is_valid_once_the_key_is_set(tmp_path: Path) -> None:
    example = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    path = write(tmp_path, example.replace('api_key = "CHANGE-ME"', 'api_key = "app-real"'))
    settings = load_settings(path, {})
    assert settings.clickai.app_mode == "auto"
    assert not settings.telegram.enabled and not settings.slack.enabled
