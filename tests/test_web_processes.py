"""`surveyd serve --processes N`: the scaled web tier under gunicorn, live, on the test database with Redis as the
broker: it refuses to start without what it needs, serves from N processes that each hand notifications to Celery,
replaces a process that dies, and stops cleanly with a live inbox open."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
import redis
import requests

from surveyd.services.alerts.notifier import alerts_queue
from tests.conftest import free_port, make_env
from tests.console.staff import PASSWORD, TOKEN, make_user
from tests.live import wait_until

REDIS_URL = os.environ.get("SURVEYD_TEST_REDIS", "redis://127.0.0.1:6379/14")


def children(pid: int) -> set[int]:
    """The processes whose parent is `pid`."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


class Web:
    """One `surveyd serve --processes 2` and its log."""

    def __init__(self, database_url: str, logs: Path):
        self.port = free_port()
        self.database_url = database_url
        self.base = f"http://127.0.0.1:{self.port}"
        self.queue = f"test-{uuid.uuid4().hex}"
        env = {**os.environ, **make_env(database_url, SURVEYD_SANDBOX="1", SURVEYD_BROKER_URL=REDIS_URL,
                                        SURVEYD_QUEUE=self.queue, SURVEYD_PUBLIC_URL=self.base)}
        self.log = logs / "serve.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "surveyd.cli", "serve", "--processes", "2", "--port", str(self.port)],
            env=env, stdout=open(self.log, "wb"), stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-12000:]

    def up(self) -> bool:
        try:
            return requests.get(self.base + "/healthz", timeout=5).status_code == 200
        except requests.ConnectionError:
            return False

    def serving(self, processes: int = 2) -> set[int]:
        """Wait for /healthz and `processes` worker processes; their pids."""
        wait_until(lambda: self.process.poll() is not None or (self.up() and len(children(self.process.pid)) == processes),
                   timeout=90, what="two web processes")
        assert self.process.poll() is None, self.output()
        return children(self.process.pid)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


@pytest.fixture
def web(database_url, tmp_path):
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError:
        pytest.fail(f"Redis is not answering at {REDIS_URL}; `./dev test` starts it")
    server = Web(database_url, tmp_path)
    yield server
    server.stop()
    redis.Redis.from_url(REDIS_URL).delete(server.queue, alerts_queue(server.queue))


def _serve(database_url: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SURVEYD_")}
    environ.update(make_env(database_url, **env))
    return subprocess.run([sys.executable, "-m", "surveyd.cli", "serve", "--processes", "2", "--port",
                           str(free_port())], env=environ, capture_output=True, text=True, timeout=120)


def test_more_than_one_process_without_a_broker_is_refused_before_anything_is_touched(tmp_path):
    database = tmp_path / "untouched.sqlite3"
    done = _serve(f"sqlite:///{database}", tmp_path)
    assert done.returncode == 2
    assert "--processes above 1 needs SURVEYD_BROKER_URL" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not database.exists() or database.stat().st_size == 0  # no migration ran


def test_telegram_polling_with_several_processes_is_refused(tmp_path):
    database = tmp_path / "untouched.sqlite3"
    done = _serve(f"sqlite:///{database}", tmp_path, SURVEYD_BROKER_URL=REDIS_URL, SURVEYD_TELEGRAM_MODE="polling",
                  SURVEYD_TELEGRAM_BOT_TOKEN="123:abc")
    assert done.returncode == 2
    assert "Telegram hands updates to one poller only" in done.stderr
    assert not database.exists() or database.stat().st_size == 0


def _planned_link(base: str, key: str) -> str:
    """A survey that alerts by email, a web trigger and one event: the token of its link."""
    auth = {"Authorization": f"Bearer {key}"}
    survey = requests.post(f"{base}/api/v1/surveys", json={
        "name": "Scaled NPS", "kind": "nps", "alert": {"notify": [{"channel": "email", "to": "cx@example.com"}]}},
        headers=auth, timeout=30)
    assert survey.status_code == 201, survey.text
    trigger = requests.post(f"{base}/api/v1/triggers", json={
        "touchpoint": "order.delivered", "survey_id": survey.json()["id"], "channels": ["web"], "delay_seconds": 0},
        headers=auth, timeout=30)
    assert trigger.status_code == 201, trigger.text
    event = requests.post(f"{base}/api/v1/events", json={"touchpoint": "order.delivered",
                                                         "contact": {"external_id": "scaled-1"}},
                          headers={**auth, "Idempotency-Key": "scaled-1"}, timeout=30)
    assert event.status_code == 202, event.text
    return event.json()["dispatches"][0]["url"].rsplit("/s/", 1)[1]


def test_two_processes_serve_hand_alerts_to_celery_and_a_killed_one_is_replaced(web, api_key):
    first = web.serving()
    on_sqlite = "take turns at its one writer lock" in web.output()
    assert on_sqlite == web.database_url.startswith("sqlite"), web.output()  # and PostgreSQL is not warned about
    token = _planned_link(web.base, api_key)
    refused = requests.post(f"{web.base}/s/{token}-forged", data={"score": "0"}, timeout=30)
    assert refused.status_code == 404
    answered = requests.post(f"{web.base}/s/{token}", data={"score": "0"}, timeout=30)
    assert answered.status_code == 200, answered.text
    broker = redis.Redis.from_url(REDIS_URL)
    # The web process's notifier published the send on commit; no worker runs, so it waits on the alerts queue.
    tasks = [json.loads(m)["headers"]["task"] for m in broker.lrange(alerts_queue(web.queue), 0, -1)]
    assert tasks == ["surveyd.send_notification"], web.output()

    gone = min(first)
    os.kill(gone, signal.SIGKILL)
    wait_until(lambda: len(children(web.process.pid) - first) == 1 and len(children(web.process.pid)) == 2,
               timeout=90, what="gunicorn replacing the killed process")
    again = requests.post(f"{web.base}/api/v1/events", json={"touchpoint": "order.delivered",
                                                             "contact": {"external_id": "scaled-2"}},
                          headers={"Authorization": f"Bearer {api_key}", "Idempotency-Key": "scaled-2"}, timeout=30)
    assert again.status_code == 202, again.text
    assert web.stop() == 0, web.output()


def test_sigterm_ends_an_open_live_inbox_and_stops_every_process(web, app):
    workers = web.serving()
    make_user(app, "agent@example.com", "agent")
    browser = requests.Session()
    page = browser.get(f"{web.base}/console/login", timeout=30)
    signed = browser.post(f"{web.base}/console/login", data={
        "csrf_token": TOKEN.search(page.text).group(1), "email": "agent@example.com", "password": PASSWORD},
        allow_redirects=False, timeout=30)
    assert signed.status_code == 302, signed.text
    stream = browser.get(f"{web.base}/console/alerts/stream", stream=True, timeout=60)
    assert stream.status_code == 200
    lines = stream.iter_lines(decode_unicode=True)
    assert re.match(r"retry: \d+", next(lines))  # the stream is open and waiting in one of the processes
    ended = threading.Event()

    def read_to_the_end() -> None:
        for _ in lines:  # heartbeats, until the server ends the stream; a cut connection raises instead
            pass
        ended.set()

    reader = threading.Thread(target=read_to_the_end, daemon=True)
    reader.start()
    web.process.send_signal(signal.SIGTERM)
    assert web.process.wait(timeout=60) == 0, web.output()
    reader.join(timeout=30)
    assert ended.is_set(), "the stream was cut, not ended:\n" + web.output()
    assert "SIGKILL" not in web.output() and "WORKER TIMEOUT" not in web.output(), web.output()
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]  # the master reaped them all
