"""Fixtures: one database per session built by the real migrations, emptied after every test.

SURVEYD_TEST_DB=sqlite (default) or postgresql picks the database; the suite runs on both.
Tables are emptied after each test rather than rolled back, because live-server and browser
tests read what the test committed from other threads and connections.
"""
from __future__ import annotations

import os
import socket
from typing import Any, Iterator

import pytest
import sqlalchemy as sa

from surveyd import create_app
from surveyd.extensions import db
from surveyd.server import apply_migrations

SECRET = "test-secret-key-0123456789"
PUBLIC_URL = "http://surveyd.test"
PG_ADMIN_URL = os.environ.get("SURVEYD_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _backend() -> str:
    backend = os.environ.get("SURVEYD_TEST_DB", "sqlite")
    if backend not in ("sqlite", "postgresql"):
        raise pytest.UsageError("SURVEYD_TEST_DB must be sqlite or postgresql")
    return backend


def pytest_report_header(config) -> str:
    return f"surveyd database: {_backend()}"


def pytest_configure(config) -> None:
    from tests import fd_trace

    fd_trace.install()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    from tests import fd_trace

    fd_trace.current_test = item.nodeid


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    """A fresh, empty database for this session."""
    if _backend() == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'surveyd.sqlite3'}"
        return
    name = f"surveyd_test_{os.getpid()}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def make_env(database_url: str, **overrides: str) -> dict[str, str]:
    """The environment a test app is built from."""
    env = {
        "SURVEYD_SECRET_KEY": SECRET,
        "SURVEYD_DATABASE_URL": database_url,
        "SURVEYD_PUBLIC_URL": PUBLIC_URL,
        "SURVEYD_SANDBOX": "1",
        "SURVEYD_CONSOLE_STREAMS": "4",  # live inboxes a test server serves at once, on threads of their own
        # No per-key rate limit on the wall clock: tests/api/test_rate_limit.py drives one with a clock it moves.
        "SURVEYD_API_RATE": "0",
    }
    env.update(overrides)
    return env


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    """The app, with the schema built by the real migrations once per session."""
    application = create_app(make_env(database_url), instance_path=str(tmp_path_factory.mktemp("instance")))
    application.config["TESTING"] = True
    apply_migrations(application, quiet=True)
    return application


def empty_tables(application) -> None:
    """Delete every row, leaving the schema."""
    with application.app_context():
        db.session.remove()
        # The configuration's generation stays: deleting the cached tables' rows moves it, as any change does.
        tables = [t for t in db.metadata.sorted_tables if t.name not in ("alembic_version", "config_generation")]
        # DELETE beats TRUNCATE on PostgreSQL for tables this small (TRUNCATE rewrites files).
        for table in reversed(tables):
            db.session.execute(table.delete())
        db.session.commit()


@pytest.fixture(autouse=True)
def _empty_database_after(request) -> Iterator[None]:
    yield
    if "app" in request.fixturenames:
        empty_tables(request.getfixturevalue("app"))


@pytest.fixture
def ctx(app) -> Iterator[None]:
    """An app context for calling services directly."""
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def client(app):
    """Flask's test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """Flask's CLI runner."""
    return app.test_cli_runner()


class ApiClient:
    """The test client with a bearer API key on every request."""

    def __init__(self, client, key: str):
        self.client = client
        self.key = key

    def _headers(self, headers: dict | None) -> dict:
        return {"Authorization": f"Bearer {self.key}", **(headers or {})}

    def get(self, path: str, **kwargs: Any):
        return self.client.get("/api/v1" + path, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, path: str, **kwargs: Any):
        return self.client.post("/api/v1" + path, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def put(self, path: str, **kwargs: Any):
        return self.client.put("/api/v1" + path, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def patch(self, path: str, **kwargs: Any):
        return self.client.patch("/api/v1" + path, headers=self._headers(kwargs.pop("headers", None)), **kwargs)


@pytest.fixture
def api_key(app) -> str:
    """A live API key."""
    from surveyd.services.access.api_keys import create_api_key

    with app.app_context():
        _, raw = create_api_key("tests")
        db.session.remove()
    return raw


@pytest.fixture
def api(client, api_key) -> ApiClient:
    """An authenticated API client."""
    return ApiClient(client, api_key)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(app, database_url, tmp_path_factory) -> Iterator[str]:
    """surveyd served by waitress on 127.0.0.1, sharing the test database; yields its base URL."""
    from tests.live import start_waitress, stop_waitress

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    live_app = create_app(make_env(database_url, SURVEYD_PUBLIC_URL=base),
                          instance_path=str(tmp_path_factory.mktemp("live")))
    server, thread = start_waitress(live_app, port, threads=4)
    yield base
    stop_waitress(server, thread)
