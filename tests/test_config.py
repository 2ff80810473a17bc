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
        ({"SURVEYD_SECRET_KEY": "x" * 20, "SURVEYD_SANDBOX": "email,fax"}, "unknown channels: fax"),
        ({"SURVEYD_SECRET_KEY": "x" * 20, "SURVEYD_DEFAULT_TIMEZONE": "Mars/Olympus"}, "IANA time zone"),
        ({"SURVEYD_SECRET_KEY": "x" * 20, "SURVEYD_THROTTLE_DAYS": "-3"}, "at least 0"),
        ({"SURVEYD_SECRET_KEY": "x" * 20, "SURVEYD_DATABASE_POOL_SIZE": "0"}, "at least 1"),
        ({"SURVEYD_SECRET_KEY": "x" * 20, "SURVEYD_SQLITE_SYNCHRONOUS": "off"}, "one of normal, full"),
        ({"SURVEYD_SECRET_KEY": "x" * 20, "SURVEYD_RETRY_BASE_SECONDS": "soon"}, "must be a number"),
        ({"SURVEYD_SECRET_KEY": "x" * 20, "SURVEYD_RELAY_POLL_SECONDS": "nan"}, "at least"),
        ({"SURVEYD_SECRET_KEY": "x" * 20, "SURVEYD_REDIS_URL": "memcached://x"}, "redis://"),
        ({"SURVEYD_SECRET_KEY": "x" * 20, "SURVEYD_TWILIO_FROM": "+15005550006",
          "SURVEYD_TWILIO_MESSAGING_SERVICE_SID": "MG123"}, "not both"),
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


def test_the_postgresql_pool_is_sized_per_process(tmp_path):
    base = {"SURVEYD_SECRET_KEY": "x" * 20, "SURVEYD_DATABASE_URL": "postgresql://u@h/db"}
    assert load_settings(tmp_path, base).flask_config()["SQLALCHEMY_ENGINE_OPTIONS"] == {
        "pool_pre_ping": True, "pool_size": 5, "max_overflow": 10}
    options = load_settings(tmp_path, {**base, "SURVEYD_DATABASE_POOL_SIZE": "2"}).flask_config()
    assert (options["SQLALCHEMY_ENGINE_OPTIONS"]["pool_size"], options["SQLALCHEMY_ENGINE_OPTIONS"]["max_overflow"]) == (2, 4)
    sqlite = load_settings(tmp_path, {"SURVEYD_SECRET_KEY": "x" * 20}).flask_config()
    assert "pool_size" not in sqlite["SQLALCHEMY_ENGINE_OPTIONS"]


def test_the_sandbox_can_cover_some_channels_only(tmp_path):
    settings = load_settings(tmp_path, {"SURVEYD_SECRET_KEY": "x" * 20, "SURVEYD_SANDBOX": "Email, telegram"})
    assert settings.sandbox_channels == {"email", "telegram"} and settings.sandbox is True
    assert load_settings(tmp_path, {"SURVEYD_SECRET_KEY": "x" * 20, "SURVEYD_SANDBOX": "1"}).sandbox_channels == {
        "sms", "email", "telegram"}


def test_a_redis_broker_also_holds_the_rate_limits_unless_told_otherwise(tmp_path):
    base = {"SURVEYD_SECRET_KEY": "x" * 20}
    assert load_settings(tmp_path, {**base, "SURVEYD_BROKER_URL": "redis://r:6379/2"}).redis_url == "redis://r:6379/2"
    assert load_settings(tmp_path, {**base, "SURVEYD_BROKER_URL": "amqp://q"}).redis_url is None
    assert load_settings(tmp_path, {**base, "SURVEYD_BROKER_URL": "amqp://q",
                                    "SURVEYD_REDIS_URL": "redis://r"}).redis_url == "redis://r"


def test_dispatch_defaults(tmp_path):
    settings = load_settings(tmp_path, {"SURVEYD_SECRET_KEY": "x" * 20})
    assert (settings.throttle_days, settings.max_attempts, settings.twilio_rate_per_second) == (0, 8, 10.0)
    assert settings.send_lease_seconds > settings.send_timeout_seconds  # a slow send is not taken for a crash


def test_telegram_mode_is_webhook_or_polling(tmp_path):
    base = {"SURVEYD_SECRET_KEY": "k" * 32, "SURVEYD_DATABASE_URL": "sqlite:///x.db"}
    assert load_settings(tmp_path, base).telegram_mode == "webhook"
    assert load_settings(tmp_path, {**base, "SURVEYD_TELEGRAM_MODE": "Polling"}).telegram_mode == "polling"
    with pytest.raises(ConfigError, match="SURVEYD_TELEGRAM_MODE"):
        load_settings(tmp_path, {**base, "SURVEYD_TELEGRAM_MODE": "push"})


def test_the_telegram_offer_goes_in_email_by_default_and_sms_only_when_asked(tmp_path):
    base = {"SURVEYD_SECRET_KEY": "x" * 20}
    assert load_settings(tmp_path, base).telegram_offer == {"email"}
    assert load_settings(tmp_path, {**base, "SURVEYD_TELEGRAM_OFFER": "Email, SMS"}).telegram_offer == {"email", "sms"}
    assert load_settings(tmp_path, {**base, "SURVEYD_TELEGRAM_OFFER": "none"}).telegram_offer == frozenset()
    assert load_settings(tmp_path, {**base, "SURVEYD_TELEGRAM_OFFER": ""}).telegram_offer == frozenset()
    with pytest.raises(ConfigError, match="SURVEYD_TELEGRAM_OFFER.*telegram"):
        load_settings(tmp_path, {**base, "SURVEYD_TELEGRAM_OFFER": "sms,telegram"})


def test_smtp_needs_a_sender_address(tmp_path):
    base = {"SURVEYD_SECRET_KEY": "x" * 20, "SURVEYD_SMTP_HOST": "mail.example.com"}
    with pytest.raises(ConfigError, match="SURVEYD_MAIL_FROM is required"):
        load_settings(tmp_path, base)
    with pytest.raises(ConfigError, match="SURVEYD_MAIL_FROM must be an email address"):
        load_settings(tmp_path, {**base, "SURVEYD_MAIL_FROM": "Acme CX"})
    settings = load_settings(tmp_path, {**base, "SURVEYD_MAIL_FROM": "cx@acme.example", "SURVEYD_SMTP_PORT": "465",
                                        "SURVEYD_SMTP_RATE": "2.5"})
    assert (settings.smtp_ssl, settings.smtp_rate_per_second, settings.mail_unsubscribe) == (True, 2.5, None)
    with pytest.raises(ConfigError, match="SURVEYD_SMTP_CA_FILE"):
        load_settings(tmp_path, {**base, "SURVEYD_MAIL_FROM": "cx@acme.example", "SURVEYD_SMTP_CA_FILE": "/no/such.pem"})
    with pytest.raises(ConfigError, match="SURVEYD_SMTP_SSL"):
        load_settings(tmp_path, {**base, "SURVEYD_MAIL_FROM": "cx@acme.example", "SURVEYD_SMTP_SSL": "maybe"})
