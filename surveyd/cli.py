"""The `surveyd` command: serve, worker, api-key create, user create/telegram-link, migrate, report send,
telegram set-webhook/delete-webhook."""
from __future__ import annotations

import logging
import os
import sys

import click

from surveyd.config import ConfigError


def _configure_logging() -> None:
    logging.basicConfig(
        stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # The twilio SDK logs every request's headers at INFO: noise, and a cost on every send.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


def _app(demo: bool = False, public_url: str | None = None):
    from surveyd import create_app

    env = dict(os.environ)
    if public_url and not env.get("SURVEYD_PUBLIC_URL"):
        env["SURVEYD_PUBLIC_URL"] = public_url
    try:
        return create_app(env, demo=demo)
    except ConfigError as error:
        click.echo(f"surveyd: configuration error: {error}", err=True)
        sys.exit(2)


@click.group()
def main() -> None:
    """surveyd: customer experience surveys that close the loop."""


def _stacks_on_sigusr1() -> None:
    """`kill -USR1 <pid>` prints every thread's stack to stderr: how to see where a stuck process waits; a crash
    (or SIGABRT) prints them too, before the process ends."""
    import faulthandler
    import signal

    faulthandler.enable(all_threads=True)
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--demo", is_flag=True, help="Seed demo data and deliver every channel to the sandbox inbox.")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256),
              help="Request threads (in each process).")
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Web processes; above 1, gunicorn serves and SURVEYD_BROKER_URL is required.")
def serve(host: str, port: int, demo: bool, threads: int, processes: int) -> None:
    """Apply migrations, then serve the app (and dispatch in-process unless a broker is set)."""
    from surveyd.server import run

    _configure_logging()
    _stacks_on_sigusr1()
    shown_host = "localhost" if host in ("0.0.0.0", "::", "127.0.0.1") else host
    app = _app(demo=demo, public_url=f"http://{shown_host}:{port}")
    if processes > 1:
        from surveyd.web_processes import refusal

        reason = refusal(app, processes)
        if reason:
            click.echo(f"surveyd: configuration error: {reason}", err=True)
            sys.exit(2)
    run(app, host=host, port=port, threads=threads, processes=processes,
        make_app=lambda: _app(demo=demo, public_url=f"http://{shown_host}:{port}"))


@main.command()
@click.option("--concurrency", type=click.IntRange(1, 512), default=None,
              help="Send threads in this worker [default: SURVEYD_DISPATCH_CONCURRENCY].")
@click.option("--relay/--no-relay", default=True, show_default=True,
              help="Also lease due dispatches and queue them (safe in every worker; SKIP LOCKED).")
@click.option("--loglevel", default="INFO", show_default=True)
def worker(concurrency: int | None, relay: bool, loglevel: str) -> None:
    """Run a Celery dispatch worker (and its relay) for the scaled setup."""
    import socket

    from surveyd.server import relay_chores, start_notifier, warm_up_wording
    from surveyd.services.alerts.notifier import alerts_queue
    from surveyd.services.dispatch.relay import celery_relay

    _configure_logging()
    app = _app()
    settings = app.config["SURVEYD"]
    if not settings.broker_url:
        click.echo("surveyd: configuration error: SURVEYD_BROKER_URL is not set; "
                   "without a broker `surveyd serve` dispatches in-process", err=True)
        sys.exit(2)
    if settings.database_url.startswith("sqlite"):
        logging.getLogger("surveyd.worker").warning(
            "workers on SQLite share one file lock: fine on one machine for trying things out, "
            "slow with several workers; use PostgreSQL for the scaled setup")
    threads = concurrency or settings.dispatch_concurrency
    start_notifier(app)  # the relay's sweep hands due notifications to Celery, like the web processes do
    warm_up_wording()  # this worker's tasks read the comments' wording
    relay_thread = (celery_relay(app, max_in_flight=max(100, threads * 50), chores=relay_chores(), senders=threads)
                    if relay else None)
    if relay_thread:
        relay_thread.start()
    # Threads, not forked processes: sends wait on providers, and a fork would copy the relay's
    # thread and the database pool in a broken state.
    argv = ["worker", "--pool=threads", f"--concurrency={threads}", f"--queues={alerts_queue(settings.queue_name)},{settings.queue_name}",
            f"--hostname=surveyd-{os.getpid()}@{socket.gethostname()}", f"--loglevel={loglevel}",
            "--without-gossip", "--without-mingle"]
    try:
        app.extensions["celery"].worker_main(argv)
    finally:
        if relay_thread:
            relay_thread.stop()


@main.command()
def migrate() -> None:
    """Apply pending database migrations and exit."""
    from surveyd.server import apply_migrations

    _configure_logging()
    apply_migrations(_app())


@main.group("api-key")
def api_key() -> None:
    """Manage integrator API keys."""


@api_key.command("create")
@click.option("--name", required=True, help="Who or what the key is for.")
def api_key_create(name: str) -> None:
    """Create a key and print it on the last line (it is shown only once)."""
    from surveyd.server import apply_migrations
    from surveyd.services.access.api_keys import create_api_key

    app = _app()
    apply_migrations(app, quiet=True)
    with app.app_context():
        key, raw = create_api_key(name)
        key_id = key.id
    click.echo(f"Created API key {key_id} ({name}). Store it now; it cannot be shown again:")
    click.echo(raw)


@main.group()
def report() -> None:
    """The periodic customer experience report."""


@report.command("send")
@click.option("--month", default=None, metavar="YYYY-MM", help="The month to report (default: the last whole one).")
@click.option("--to", "to", multiple=True, metavar="EMAIL", help="A recipient (repeat; default: SURVEYD_REPORT_TO).")
def report_send(month: str | None, to: tuple[str, ...]) -> None:
    """Email a month's report now, whether or not the schedule already sent it."""
    from surveyd.models import utcnow
    from surveyd.server import apply_migrations
    from surveyd.services.errors import ServiceError
    from surveyd.services.insight import periods, reporting

    app = _app()
    apply_migrations(app, quiet=True)
    with app.app_context():
        current = app.config["SURVEYD"]
        try:
            period = (periods.parse_month(month, current.default_timezone) if month
                      else periods.last_complete(current.report_cadence, utcnow(), current.default_timezone))
            sent = reporting.send(period, to or current.report_to)
        except ServiceError as error:
            details = "; ".join(" ".join(problems) for problems in (error.fields or {}).values())
            click.echo(f"surveyd: {error.message}{': ' + details if details else ''}", err=True)
            sys.exit(2)
    click.echo(f"Sent the {period.label} report to {sent} of {len(to or current.report_to)} recipients.")
    if sent < len(to or current.report_to):
        sys.exit(1)


@main.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
def backup_command(path: str, force: bool) -> None:
    """Copy the SQLite database to PATH consistently, while surveyd serves (PostgreSQL: use pg_dump)."""
    from surveyd.backup import BackupError, backup

    settings = _app().config["SURVEYD"]
    try:
        done = backup(settings.database_url, path, force=force)
    except BackupError as error:
        click.echo(f"surveyd: {error}", err=True)
        sys.exit(2)
    click.echo(f"Backed up to {done.path}: {done.pages} pages, {done.size} bytes, integrity ok.")


@main.group()
def themes() -> None:
    """Themes of customers' comments."""


@themes.command("build")
@click.option("--month", default=None, metavar="YYYY-MM", help="The month (default: the current one so far).")
@click.option("--fresh", is_flag=True, help="Start over: drop the month's themes, names, merges and staff placements.")
def themes_build(month: str | None, fresh: bool) -> None:
    """Group a month's comments into themes, or place its new comments in the themes it has."""
    from surveyd.models import utcnow
    from surveyd.server import apply_migrations
    from surveyd.services.errors import ServiceError
    from surveyd.services.insight import periods
    from surveyd.services.insight import themes as comment_themes

    app = _app()
    apply_migrations(app, quiet=True)
    with app.app_context():
        zone = app.config["SURVEYD"].default_timezone
        try:
            period = periods.parse_month(month, zone) if month else periods.current("month", utcnow(), zone)
            done = comment_themes.build(period, fresh=fresh)
        except ServiceError as error:
            click.echo(f"surveyd: {error.message}", err=True)
            sys.exit(2)
    click.echo(f"Themes of {period.label}: {done['themes']} new, {done['assigned']} comments placed, "
               f"{done['unthemed']} in none.")


@main.group()
def user() -> None:
    """Manage staff users."""


@user.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(["admin", "designer", "agent"]))
def user_create(email: str, role: str) -> None:
    """Create a staff user; the password comes from SURVEYD_NEW_PASSWORD or a prompt."""
    from surveyd.server import apply_migrations
    from surveyd.services.access.users import create_user
    from surveyd.services.errors import ServiceError

    password = os.environ.get("SURVEYD_NEW_PASSWORD") or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    app = _app()
    apply_migrations(app, quiet=True)
    with app.app_context():
        try:
            created = create_user(email, role, password)
        except ServiceError as error:
            click.echo(f"surveyd: {error.message}", err=True)
            sys.exit(1)
        click.echo(f"Created {created.role.value} {created.email} (id {created.id}).")


@user.command("telegram-link")
@click.option("--email", required=True)
def user_telegram_link(email: str) -> None:
    """Print a one-time link (valid a day) that links the Telegram account opening it to this staff user."""
    from surveyd.server import apply_migrations
    from surveyd.services.access.staff_links import create_link
    from surveyd.services.errors import ServiceError

    app = _app()
    apply_migrations(app, quiet=True)
    with app.app_context():
        try:
            link = create_link(email)
        except ServiceError as error:
            click.echo(f"surveyd: {error.message}", err=True)
            sys.exit(1)
    click.echo("Open this link in Telegram and press Start; your taps on alert buttons will then act as you:")
    click.echo(link)


@main.group()
def telegram() -> None:
    """Point the Telegram bot at this server (webhook mode), or stop that."""


def _telegram_settings():
    settings = _app().config["SURVEYD"]
    if not settings.telegram_bot_token:
        click.echo("surveyd: configuration error: SURVEYD_TELEGRAM_BOT_TOKEN is not set", err=True)
        sys.exit(2)
    return settings


def _telegram_call(settings, method: str, **kwargs) -> None:
    """One Bot API call through a client of its own; a refusal exits 1 with Telegram's message."""
    from telegram.error import TelegramError

    from bots.telegram_client import TelegramClient

    client = TelegramClient(settings.telegram_bot_token, settings.telegram_api_base,
                            timeout=settings.send_timeout_seconds, pool_size=1)
    try:
        client.call(method, **kwargs)
    except TelegramError as error:
        said = str(error).replace(settings.telegram_bot_token, "<SURVEYD_TELEGRAM_BOT_TOKEN>")  # InvalidToken quotes it
        click.echo(f"surveyd: telegram {method} failed: {said}", err=True)
        sys.exit(1)
    finally:
        client.close()


@telegram.command("set-webhook")
@click.option("--url", default=None,
              help="Where Telegram posts updates [default: SURVEYD_PUBLIC_URL/webhooks/telegram].")
@click.option("--drop-pending", is_flag=True, help="Discard the updates Telegram is still holding.")
def telegram_set_webhook(url: str | None, drop_pending: bool) -> None:
    """Register the webhook with its secret, for messages and button taps; prints the URL."""
    from surveyd.services.answers.telegram_polling import ALLOWED_UPDATES

    settings = _telegram_settings()
    if not settings.telegram_webhook_secret:
        click.echo("surveyd: configuration error: SURVEYD_TELEGRAM_WEBHOOK_SECRET is not set "
                   "(Telegram sends it with every update; /webhooks/telegram refuses updates without it)", err=True)
        sys.exit(2)
    url = url or (f"{settings.public_url}/webhooks/telegram" if settings.public_url else None)
    if not url:
        click.echo("surveyd: configuration error: SURVEYD_PUBLIC_URL is not set; set it or pass --url", err=True)
        sys.exit(2)
    _telegram_call(settings, "set_webhook", url=url, secret_token=settings.telegram_webhook_secret,
                   allowed_updates=ALLOWED_UPDATES, drop_pending_updates=drop_pending)
    click.echo(f"Telegram webhook set: {url}")
    if settings.telegram_mode == "polling":
        # A poller deletes the webhook when it starts, so this one would not last.
        click.echo("surveyd: note: SURVEYD_TELEGRAM_MODE=polling; `surveyd serve` deletes the webhook when it "
                   "starts", err=True)


@telegram.command("delete-webhook")
@click.option("--drop-pending", is_flag=True, help="Discard the updates Telegram is still holding.")
def telegram_delete_webhook(drop_pending: bool) -> None:
    """Remove the webhook: Telegram holds updates for getUpdates (polling mode) instead."""
    settings = _telegram_settings()
    _telegram_call(settings, "delete_webhook", drop_pending_updates=drop_pending)
    click.echo("Telegram webhook deleted.")


def register_flask_commands(app) -> None:
    """Expose the same commands under `flask --app wsgi surveyd ...`."""
    app.cli.add_command(main, name="surveyd")


if __name__ == "__main__":
    main()
