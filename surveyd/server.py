"""Running surveyd in one process: migrations, the embedded relay and send threads, and waitress."""
from __future__ import annotations

import logging

from flask import Flask

from surveyd.relay import embedded_relay

log = logging.getLogger("surveyd.server")


def apply_migrations(app: Flask, quiet: bool = False) -> None:
    """Bring the database schema up to the newest revision."""
    from flask_migrate import upgrade

    if quiet:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    with app.app_context():
        upgrade()


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
    relay = None
    if settings.broker_url:
        log.info("SURVEYD_BROKER_URL is set: dispatching is left to `surveyd worker` processes")
    else:
        relay = embedded_relay(app)
        relay.start()
        log.info("dispatching in this process (%d send threads)", settings.dispatch_concurrency)
    log.info("surveyd serving on http://%s:%s (public URL %s)", host, port, settings.public_url)
    try:
        serve(app, host=host, port=port, threads=threads, ident="surveyd")
    finally:
        if relay:
            relay.stop()
