"""The surveyd console script, run as a real subprocess the way operators run it."""
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import ApiKey, User
from surveyd.services.access.api_keys import authenticate
from tests.fakes.telegram_api import FakeTelegram


def _surveyd(database_url, *args, extra_env=None, secret=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEYD_")}
    env["SURVEYD_DATABASE_URL"] = database_url
    if secret:
        env["SURVEYD_SECRET_KEY"] = "cli-secret-0123456789"
    env.update(extra_env or {})
    return subprocess.run([sys.executable, "-m", "surveyd.cli", *args], env=env, capture_output=True, text=True, timeout=120)


def test_api_key_create_prints_a_working_key_last(app, database_url):
    result = _surveyd(database_url, "api-key", "create", "--name", "shop")
    assert result.returncode == 0, result.stderr
    raw = result.stdout.strip().splitlines()[-1]
    with app.app_context():
        key_id = authenticate(raw)
        assert key_id is not None and db.session.get(ApiKey, key_id).name == "shop"
        assert raw not in {k for (k,) in db.session.execute(sa.text("SELECT key_hash FROM api_keys"))}
        db.session.remove()


def test_user_create_reads_the_password_from_the_environment(app, database_url):
    result = _surveyd(database_url, "user", "create", "--email", "Agent@Example.com", "--role", "agent",
                      extra_env={"SURVEYD_NEW_PASSWORD": "correct horse battery"})
    assert result.returncode == 0, result.stderr
    with app.app_context():
        user = db.session.scalar(sa.select(User))
        assert user.email == "agent@example.com" and user.role.value == "agent"
        assert "correct horse" not in user.password_hash
        db.session.remove()
    again = _surveyd(database_url, "user", "create", "--email", "agent@example.com", "--role", "agent",
                     extra_env={"SURVEYD_NEW_PASSWORD": "correct horse battery"})
    assert again.returncode == 1 and "already exists" in again.stderr


def test_bad_configuration_exits_non_zero_with_one_line(database_url):
    result = _surveyd(database_url, "serve", "--port", "1", secret=False)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["surveyd: configuration error: SURVEYD_SECRET_KEY is required (or run with --demo)"]


def test_worker_without_a_broker_exits_with_one_line(database_url):
    result = _surveyd(database_url, "worker")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "surveyd: configuration error: SURVEYD_BROKER_URL is not set; without a broker `surveyd serve` dispatches in-process"]


HTTPS_HOOK = "https://surveys.example.test/webhooks/telegram"
HOOK_SECRET = "hook-secret_0123456789"


@pytest.fixture
def telegram():
    with FakeTelegram() as fake:
        yield fake


def _telegram_env(fake, **overrides):
    env = {"SURVEYD_TELEGRAM_BOT_TOKEN": fake.token, "SURVEYD_TELEGRAM_API_BASE": fake.base_url,
           "SURVEYD_TELEGRAM_WEBHOOK_SECRET": HOOK_SECRET, "SURVEYD_PUBLIC_URL": "https://surveys.example.test"}
    env.update(overrides)
    return {name: value for name, value in env.items() if value is not None}


def test_telegram_set_webhook_registers_url_secret_and_updates(database_url, telegram):
    telegram.push_update({"update_id": 41})
    result = _surveyd(database_url, "telegram", "set-webhook", extra_env=_telegram_env(telegram))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == f"Telegram webhook set: {HTTPS_HOOK}"
    assert telegram.webhook == {"url": HTTPS_HOOK, "secret_token": HOOK_SECRET,
                                "allowed_updates": ["message", "callback_query"], "drop_pending_updates": False,
                                "max_connections": None}
    assert len(telegram.pending_updates) == 1  # kept unless asked
    other = "https://other.example.test:8443/webhooks/telegram"
    moved = _surveyd(database_url, "telegram", "set-webhook", "--url", other, "--drop-pending",
                     extra_env=_telegram_env(telegram, SURVEYD_PUBLIC_URL=None))
    assert moved.returncode == 0, moved.stderr
    assert telegram.webhook["url"] == other
    assert telegram.webhook["drop_pending_updates"] is True and telegram.pending_updates == []


@pytest.mark.parametrize(("unset", "reason"), [
    ("SURVEYD_TELEGRAM_WEBHOOK_SECRET", "SURVEYD_TELEGRAM_WEBHOOK_SECRET is not set"),
    ("SURVEYD_TELEGRAM_BOT_TOKEN", "SURVEYD_TELEGRAM_BOT_TOKEN is not set"),
    ("SURVEYD_PUBLIC_URL", "SURVEYD_PUBLIC_URL is not set; set it or pass --url"),
])
def test_telegram_set_webhook_without_its_configuration_exits_2(database_url, telegram, unset, reason):
    result = _surveyd(database_url, "telegram", "set-webhook", extra_env=_telegram_env(telegram, **{unset: None}))
    assert result.returncode == 2
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("surveyd: configuration error: ") and reason in line
    assert telegram.requests == [] and telegram.webhook is None  # Telegram was never asked


def test_telegram_refusing_an_http_url_exits_1_with_its_message(database_url, telegram):
    result = _surveyd(database_url, "telegram", "set-webhook",
                      extra_env=_telegram_env(telegram, SURVEYD_PUBLIC_URL="http://surveys.example.test"))
    assert result.returncode == 1
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("surveyd: telegram set_webhook failed: ")
    assert "https url must be provided" in line.lower()  # Telegram's own words
    assert "Telegram webhook set" not in result.stdout
    assert telegram.webhook is None
    assert [r["params"].get("url") for r in telegram.requests if r["method"] == "setWebhook"] == [
        "http://surveys.example.test/webhooks/telegram"]


def test_telegram_delete_webhook(database_url, telegram):
    assert _surveyd(database_url, "telegram", "set-webhook", extra_env=_telegram_env(telegram)).returncode == 0
    assert telegram.webhook is not None
    result = _surveyd(database_url, "telegram", "delete-webhook", extra_env=_telegram_env(telegram))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "Telegram webhook deleted."
    assert telegram.webhook is None
    wrong = _surveyd(database_url, "telegram", "delete-webhook",
                     extra_env=_telegram_env(telegram, SURVEYD_TELEGRAM_BOT_TOKEN="123:not-the-token"))
    assert wrong.returncode == 1 and wrong.stderr.startswith("surveyd: telegram delete_webhook failed: ")
    assert "not-the-token" not in wrong.stderr  # a rejected token is still a secret


def test_user_telegram_link_prints_a_one_time_deep_link_last(app, database_url):
    created = _surveyd(database_url, "user", "create", "--email", "lead@example.com", "--role", "agent",
                       extra_env={"SURVEYD_NEW_PASSWORD": "correct horse battery"})
    assert created.returncode == 0, created.stderr
    bot = {"SURVEYD_TELEGRAM_BOT_USERNAME": "acme_cx_bot"}
    result = _surveyd(database_url, "user", "telegram-link", "--email", "Lead@Example.com", extra_env=bot)
    assert result.returncode == 0, result.stderr
    link = result.stdout.strip().splitlines()[-1]
    assert link.startswith("https://t.me/acme_cx_bot?start=") and len(link.rsplit("=", 1)[1]) == 16
    unknown = _surveyd(database_url, "user", "telegram-link", "--email", "nobody@example.com", extra_env=bot)
    assert unknown.returncode == 1 and "nobody@example.com" in unknown.stderr
    no_bot = _surveyd(database_url, "user", "telegram-link", "--email", "lead@example.com")
    assert no_bot.returncode == 1 and "SURVEYD_TELEGRAM_BOT_USERNAME" in no_bot.stderr
