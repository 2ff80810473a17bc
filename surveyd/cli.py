"""The `surveyd` command: serve, api-key create, user create, migrate."""
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


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--demo", is_flag=True, help="Seed demo data and deliver every channel to the sandbox inbox.")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256), help="Request threads.")
def serve(host: str, port: int, demo: bool, threads: int) -> None:
    """Apply migrations, then serve the app with the embedded dispatcher."""
    from surveyd.server import run

    _configure_logging()
    shown_host = "localhost" if host in ("0.0.0.0", "::", "127.0.0.1") else host
    app = _app(demo=demo, public_url=f"http://{shown_host}:{port}")
    run(app, host=host, port=port, threads=threads)


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
    from surveyd.services.api_keys import create_api_key

    app = _app()
    apply_migrations(app, quiet=True)
    with app.app_context():
        key, raw = create_api_key(name)
        key_id = key.id
    click.echo(f"Created API key {key_id} ({name}). Store it now; it cannot be shown again:")
    click.echo(raw)


@main.group()
def user() -> None:
    """Manage staff users."""


@user.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(["admin", "designer", "agent"]))
def user_create(email: str, role: str) -> None:
    """Create a staff user; the password comes from SURVEYD_NEW_PASSWORD or a prompt."""
    from surveyd.server import apply_migrations
    from surveyd.services.errors import ServiceError
    from surveyd.services.users import create_user

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


def register_flask_commands(app) -> None:
    """Expose the same commands under `flask --app wsgi surveyd ...`."""
    app.cli.add_command(main, name="surveyd")


if __name__ == "__main__":
    main()
