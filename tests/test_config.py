"""Configuration: read once from the environment, bad values refused with one-line reasons."""
import pytest

from surveyd.config import ConfigError, load_settings


def test_secret_key_required_outside_demo(tmp_path):
    with pytest.raises(ConfigError, match="SURVEYD_SECRET_KEY is required"):
        load_settings(tmp_path, {})


def test_demo_keeps_a_secret_across_restarts(tmp_path):
    first = load_settings(tmp_path, {}, demo=True)
    second = load_settings(tmp_path, {}, demo=True)
    assert first.secret_key == second.secret_key and len(first.secret_key) >= 32
    assert first.sandbox is True and first.demo is True


@pytest.mark.parametrize(
    "env, message",
    [
        ({"SURVEYD_SECRET_KEY": "short"}, "at least 16"),
        ({"SURVEYD_SECRET_KEY": "x" * 20, "SURVEYD_DATABASE_URL": "mysql://x"}, "sqlite:// or postgresql://"),
        ({"SURVEYD_SECRET_KEY": "x" * 20, "SURVEYD_SANDBOX": "maybe"}, "SURVEYD_SANDBOX must be 0 or 1"),
        ({"SURVEYD_SECRET_KEY": "x" * 20, "SURVEYD_PUBLIC_URL": "surveys.example.com"}, "http"),
        ({"SURVEYD_SECRET_KEY": "x" * 20, "SURVEYD_BROKER_URL": "kafka://x"}, "redis:// or amqp://"),
        ({"SURVEYD_SECRET_KEY": "x" * 20, "SURVEYD_SMTP_PORT": "abc"}, "whole number"),
    ],
)
def test_bad_values_are_refused(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(tmp_path, env)


def test_postgres_urls_use_psycopg3(tmp_path):
    settings = load_settings(tmp_path, {"SURVEYD_SECRET_KEY": "x" * 20, "SURVEYD_DATABASE_URL": "postgres://u@h/db"})
    assert settings.database_url == "postgresql+psycopg://u@h/db"


def test_defaults(tmp_path):
    settings = load_settings(tmp_path, {"SURVEYD_SECRET_KEY": "x" * 20})
    assert settings.database_url == f"sqlite:///{tmp_path / 'surveyd.sqlite3'}"
    assert settings.sandbox is False and settings.broker_url is None
    assert settings.twilio_api_base == "https://api.twilio.com"
    assert settings.telegram_api_base == "https://api.telegram.org"
