"""Running surveyd in one process: migrations, the embedded relay and send threads, the Telegram poller, waitress."""
from __future__ import annotations

import logging
import threading
from typing import Callable

from flask import Flask

from surveyd.services.dispatch.relay import Chore, embedded_relay

log = logging.getLogger("surveyd.server")


def apply_migrations(app: Flask, quiet: bool = False) -> None:
    """Bring the database schema up to the newest revision."""
    from flask_migrate import upgrade

    if quiet:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    with app.app_context():
        upgrade()


def relay_chores() -> list[Chore]:
    """What every relay does now and then beside the outbox: act on kept webhook deliveries nothing acted on,
    hand out agent notifications and integrators' webhook deliveries that are due (retries, and any whose
    hand-off on commit was lost), escalate alerts past their SLA, read the wording of comments
    whose hand-off was lost, send the periodic report once its period is over, keep comment themes current and the score rollups up to date, watch the pipeline's health, and keep personal data no longer than configured."""
    from surveyd.services.alerts import escalation, notifying
    from surveyd.services.answers import inbound_recovery, wording
    from surveyd.services.health import checks as health_checks
    from surveyd.services.insight import reporting, rollups
    from surveyd.services.insight.themes import upkeep
    from surveyd.services.integrations import delivering
    from surveyd.services.privacy import retention

    return [Chore("inbound recovery", inbound_recovery.EVERY_SECONDS, inbound_recovery.recover),
            Chore("alert notifications", notifying.SWEEP_EVERY_SECONDS, notifying.sweep),
            Chore("webhook deliveries", delivering.SWEEP_EVERY_SECONDS, delivering.sweep),
            Chore("alert escalation", escalation.EVERY_SECONDS, escalation.escalate_overdue),
            Chore("periodic report", reporting.EVERY_SECONDS, reporting.send_due),
            Chore("comment wording", wording.SWEEP_EVERY_SECONDS, wording.sweep),
            Chore("comment themes", upkeep.EVERY_SECONDS, upkeep.keep_up),
            Chore("score rollups", rollups.EVERY_SECONDS, rollups.refresh),
            Chore("pipeline health", health_checks.EVERY_SECONDS, health_checks.check),
            Chore("retention", retention.EVERY_SECONDS, retention.housekeep)]


def start_notifier(app: Flask):
    """The sender agent notifications are handed to on commit: threads here, or Celery with a broker."""
    from surveyd.services.alerts.notifier import CeleryNotifier, ThreadNotifier

    notifier = CeleryNotifier(app) if app.config["SURVEYD"].broker_url else ThreadNotifier(app)
    app.extensions["surveyd.notifier"] = notifier
    if isinstance(notifier, ThreadNotifier):
        warm_up_wording()  # this process reads the comments' wording itself
    return notifier


def warm_up_wording() -> None:
    """Load the sentiment model on a thread of its own while the process starts serving."""
    from surveyd.services.answers.wording import warm_up

    threading.Thread(target=warm_up, name="surveyd-wording-warm-up", daemon=True).start()


def server_threads(app: Flask, threads: int) -> int:
    """waitress threads for `threads` requests at once: open live inboxes each hold a thread, so they get threads
    of their own (SURVEYD_CONSOLE_STREAMS) and the API and survey pages never wait behind them."""
    return threads + app.config["SURVEYD"].console_streams


def stop_on_signals() -> None:
    """SIGTERM (systemd, Docker, Kubernetes) and SIGINT (Ctrl-C) both stop the server the same orderly way:
    waitress stops serving, then the relay and the senders finish what they started. Installed explicitly,
    because a process started in the background by a shell inherits SIGINT as ignored, and Python then
    never turns it into KeyboardInterrupt; and SIGTERM's default would end the process mid-send."""
    import signal

    def stop(signum, frame):
        log.info("%s: stopping", signal.Signals(signum).name)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def run(app: Flask, host: str, port: int, threads: int = 8, processes: int = 1,
        make_app: Callable[[], Flask] | None = None) -> None:
    """Migrate, seed the demo if asked, start the dispatcher (and the Telegram poller), and serve until interrupted;
    with several `processes` (scaled setup), gunicorn serves, each process with its own app from `make_app`."""
    from waitress import serve

    settings = app.config["SURVEYD"]
    apply_migrations(app)
    if settings.demo:
        from surveyd.services.sandbox.demo import seed_demo

        with app.app_context():
            key = seed_demo()
        log.info("demo: sandbox inbox at %s/sandbox", settings.public_url)
        if key:
            log.info("demo: API key for trying the API: %s", key)
    if processes > 1:
        run_processes(app, make_app or (lambda: app), host, port, threads, processes)
        return
    background = start_background(app)
    stop_on_signals()
    log.info("surveyd serving on http://%s:%s (public URL %s)", host, port, settings.public_url)
    try:
        serve(app, host=host, port=port, threads=server_threads(app, threads), ident="surveyd")
    finally:
        from surveyd.services.alerts.feed import end_all_streams

        end_all_streams()
        for thread in reversed(background):
            thread.stop()


def run_processes(app: Flask, make_app: Callable[[], Flask], host: str, port: int, threads: int,
                  processes: int) -> None:
    """The scaled web tier: gunicorn's master forks `processes` workers, which each build their own app."""
    from surveyd import web_processes
    from surveyd.extensions import db

    with app.app_context():
        db.engine.dispose()  # the master keeps no connection a forked worker could share by accident
    if app.config["SURVEYD"].database_url.startswith("sqlite") and processes > 1:
        log.warning("%d web processes on SQLite take turns at its one writer lock, and a request that waits longer "
                    "than SURVEYD_SQLITE_BUSY_TIMEOUT_MS gets 503: use PostgreSQL for several processes "
                    "(bench/README.md, \"Scale-out\")", processes)
    log.info("surveyd serving on http://%s:%s with %d web processes (public URL %s); sending is left to "
             "`surveyd worker` processes", host, port, processes, app.config["SURVEYD"].public_url)
    web_processes.run(make_app, host, port, processes, server_threads(app, threads))


def start_background(app: Flask) -> list:
    """Start what runs beside the web server (each has stop()): the notification sender, the relay, the
    Telegram poller."""
    settings = app.config["SURVEYD"]
    started: list = [start_notifier(app)]
    if settings.broker_url:
        log.info("SURVEYD_BROKER_URL is set: dispatching is left to `surveyd worker` processes")
    else:
        relay = embedded_relay(app, relay_chores())
        relay.start()
        started.append(relay)
        log.info("dispatching in this process (%d send threads)", settings.dispatch_concurrency)
    if settings.telegram_bot_token and settings.telegram_mode == "webhook" and not settings.telegram_webhook_secret:
        log.warning("SURVEYD_TELEGRAM_BOT_TOKEN is set without SURVEYD_TELEGRAM_WEBHOOK_SECRET: /webhooks/telegram "
                    "refuses every update; set a secret (and run `surveyd telegram set-webhook`) or use polling")
    if settings.telegram_mode == "polling":
        from surveyd.services.answers.telegram_polling import Poller, telegram_channel

        if telegram_channel(app) is None:
            log.warning("SURVEYD_TELEGRAM_MODE=polling, but no Telegram bot is configured here (no "
                        "SURVEYD_TELEGRAM_BOT_TOKEN, or telegram is sandboxed): not polling")
        else:
            poller = Poller(app)
            poller.start()
            started.append(poller)
            log.info("telegram: polling is on (SURVEYD_TELEGRAM_MODE=polling): this process fetches updates "
                     "with getUpdates; no webhook or SURVEYD_TELEGRAM_WEBHOOK_SECRET is needed")
    return started
