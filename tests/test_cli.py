"""The surveyd console script, run as a real subprocess the way operators run it."""
import os
import subprocess
import sys

import sqlalchemy as sa

from surveyd.services.api_keys import authenticate
from surveyd.extensions import db
from surveyd.models import ApiKey, User


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
