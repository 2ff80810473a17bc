"""Several web processes for the scaled setup: `surveyd serve --processes N` runs gunicorn's pre-fork master
with N worker processes of threads each, on one port.

One process is capped by Python's GIL at one core; the scaled setup grows by processes instead. Each worker
process builds its own app after the fork (nothing of the master's database pool or broker connections is
shared), hands agent notifications to Celery on commit like a single `serve` with a broker does, and ends its
open live-inbox streams as soon as it is told to stop. Sending belongs to `surveyd worker` processes, so
several web processes need SURVEYD_BROKER_URL; the master applies migrations (and seeds the demo) once,
before it forks.
"""
from __future__ import annotations

import logging
import signal
import threading
from typing import Callable

from flask import Flask
from gunicorn.app.base import BaseApplication

log = logging.getLogger("surveyd.server")


def refusal(app: Flask, processes: int) -> str | None:
    """Why this configuration cannot run `processes` web processes, or None when it can."""
    settings = app.config["SURVEYD"]
    if processes > 1 and not settings.broker_url:
        return ("--processes above 1 needs SURVEYD_BROKER_URL: web processes only serve, and `surveyd worker` "
                "processes send; without a broker run one `surveyd serve`, which sends itself")
    if processes > 1 and settings.telegram_mode == "polling":
        return ("SURVEYD_TELEGRAM_MODE=polling with --processes above 1: Telegram hands updates to one poller "
                "only; use webhook mode, or poll from a single `surveyd serve`")
    return None


def post_worker_init(worker) -> None:
    """In each worker process, once its app is loaded: the notifier, and streams that end on SIGTERM."""
    from surveyd.server import start_notifier
    from surveyd.services.alerts.feed import end_all_streams

    worker.surveyd_notifier = start_notifier(worker.wsgi)
    graceful = worker.handle_exit

    def handle_exit(signum, frame) -> None:
        # A live inbox holds its connection open; gunicorn would wait out graceful_timeout for it. Ending the
        # streams takes the feed's lock, which a signal handler must not wait for: a thread does it.
        threading.Thread(target=end_all_streams, name="surveyd-end-streams", daemon=True).start()
        graceful(signum, frame)

    signal.signal(signal.SIGTERM, handle_exit)


def worker_exit(server, worker) -> None:
    """A worker process leaves: its notifier finishes what it started."""
    notifier = getattr(worker, "surveyd_notifier", None)
    if notifier is not None:
        notifier.stop()


class WebProcesses(BaseApplication):
    """gunicorn with its settings from the command line, and an app built in each worker process."""

    def __init__(self, make_app: Callable[[], Flask], settings: dict):
        self.make_app = make_app
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        """Our settings, not gunicorn's command line or config files."""
        for name, value in self.settings.items():
            if name in self.cfg.settings:  # an older gunicorn without that setting has nothing to turn off
                self.cfg.set(name, value)

    def load(self) -> Flask:
        """A fresh app in each worker process, after the fork."""
        return self.make_app()


def settings_for(host: str, port: int, processes: int, threads: int) -> dict:
    """gunicorn's settings: gthread workers (a thread per request, like waitress), logs on stdout, our hooks."""
    return {"bind": [f"{host}:{port}"], "workers": processes, "worker_class": "gthread", "threads": threads,
            "proc_name": "surveyd", "accesslog": None, "errorlog": "-", "loglevel": "info",
            "graceful_timeout": 30, "keepalive": 5, "post_worker_init": post_worker_init,
            "worker_exit": worker_exit,
            "control_socket_disable": True}  # gunicorn 25+: a fixed path that two servers on one machine would share


def run(make_app: Callable[[], Flask], host: str, port: int, processes: int, threads: int) -> None:
    """Serve with `processes` gunicorn workers until the master is told to stop (SIGTERM, SIGINT)."""
    WebProcesses(make_app, settings_for(host, port, processes, threads)).run()
