"""Running surveyd in one process: migrations, the embedded dispatcher thread, and waitress."""
from __future__ import annotations

import logging
import threading

from flask import Flask

log = logging.getLogger("surveyd.server")
POLL_SECONDS = 1.0


def apply_migrations(app: Flask, quiet: bool = False) -> None:
    """Bring the database schema up to the newest revision."""
    from flask_migrate import upgrade

    if quiet:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    with app.app_context():
        upgrade()


class EmbeddedDispatcher(threading.Thread):
    """Sends due dispatches from inside the web process when no broker is configured."""

    def __init__(self, app: Flask, poll_seconds: float = POLL_SECONDS):
        super().__init__(name="surveyd-dispatcher", daemon=True)
        self.app = app
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()

    def run(self) -> None:
        """Poll until stopped; a failure is logged and the loop goes on."""
        from surveyd.extensions import db
        from surveyd.services.dispatching import expire_overdue, send_due

        while not self.stopping.is_set():
            with self.app.app_context():
                try:
                    send_due()
                    expire_overdue()
                except Exception:  # the loop must outlive any one bad dispatch or a busy database
                    log.exception("embedded dispatcher: pass failed")
                    db.session.rollback()
                finally:
                    db.session.remove()
            self.stopping.wait(self.poll_seconds)

    def stop(self) -> None:
        """Ask the loop to end after its current pass."""
        self.stopping.set()


def run(app: Flask, host: str, port: int, threads: int = 8) -> None:
    """Migrate, seed the demo if asked, start the dispatcher, and serve until interrupted."""
    from waitress import serve

    settings = app.config["SURVEYD"]
    apply_migrations(app)
    if settings.demo:
        from surveyd.services.demo import seed_demo

        with app.app_context():
            key = seed_demo()
        log.info("demo: sandbox inbox at %s/sandbox", settings.public_url)
        if key:
            log.info("demo: API key for trying the API: %s", key)
    if settings.broker_url:
        # Until the Celery worker exists, leaving dispatch to it would silently stop all sending.
        log.warning("SURVEYD_BROKER_URL is set but this version has no `surveyd worker`; dispatching in-process")
    dispatcher = EmbeddedDispatcher(app)
    dispatcher.start()
    log.info("surveyd serving on http://%s:%s (public URL %s)", host, port, settings.public_url)
    try:
        serve(app, host=host, port=port, threads=threads, ident="surveyd")
    finally:
        dispatcher.stop()
