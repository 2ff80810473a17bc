"""Configuration: read from the environment once, at create_app time, and nowhere else."""
from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def valid_timezone(name: str) -> bool:
    """Whether an IANA time zone of that name exists here."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


class ConfigError(ValueError):
    """The configuration cannot run: the message is one line meant for an operator."""


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be 0 or 1, not {raw!r}")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if not value >= minimum:  # also refuses nan
        raise ConfigError(f"{name} must be at least {minimum:g}, not {raw}")
    return value


SANDBOXABLE = ("sms", "email", "telegram")


def _sandbox(env: Mapping[str, str], default: bool) -> frozenset[str]:
    """SURVEYD_SANDBOX: 1 = every channel, 0 = none, or a comma list such as "email,telegram"."""
    raw = (env.get("SURVEYD_SANDBOX") or "").strip().lower()
    if "," in raw or raw in SANDBOXABLE:
        names = {part.strip() for part in raw.split(",") if part.strip()}
        unknown = names - set(SANDBOXABLE)
        if unknown:
            raise ConfigError(f"SURVEYD_SANDBOX lists unknown channels: {', '.join(sorted(unknown))}")
        return frozenset(names)
    return frozenset(SANDBOXABLE) if _flag(env, "SURVEYD_SANDBOX", default) else frozenset()


TELEGRAM_OFFERABLE = ("email", "sms")


DEFAULT_ROOT_CAUSES = ("delivery", "product_quality", "wrong_item", "staff", "billing", "website_app",
                       "communication", "policy", "other")


def _root_causes(env: Mapping[str, str]) -> tuple[str, ...]:
    """The root causes agents choose from: lower-case words with underscores, each once."""
    raw = env.get("SURVEYD_ROOT_CAUSES")
    if raw is None or not raw.strip():
        return DEFAULT_ROOT_CAUSES
    causes = tuple(dict.fromkeys(part.strip().lower() for part in raw.split(",") if part.strip()))
    bad = [c for c in causes if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", c)]
    if bad:
        raise ConfigError(f"SURVEYD_ROOT_CAUSES: {bad[0]!r} is not a name (letters, digits and _ only, up to 64)")
    return causes


DEFAULT_ROLLUP_GROUPS = ("contact.segment",)


def _rollup_groups(env: Mapping[str, str]) -> tuple[str, ...]:
    """The contact and event attributes the score rollups count answers by, beside channel, locale, touchpoint,
    agent and sentiment: `contact.<name>` or `attribute.<name>`, each once. Empty (a lone comma) rolls up none."""
    raw = env.get("SURVEYD_ROLLUP_GROUPS")
    if raw is None or not raw.strip():
        return DEFAULT_ROLLUP_GROUPS
    groups = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    bad = [g for g in groups if not re.fullmatch(r"(contact|attribute)\.[A-Za-z0-9_-]{1,64}", g)]
    if bad:
        raise ConfigError(f"SURVEYD_ROLLUP_GROUPS: {bad[0]!r} is not contact.<name> or attribute.<name>")
    return groups


JOURNEY_STAGES = ("awareness", "consideration", "purchase", "post_purchase", "support")  # models.Stage's values


def _report_to(env: Mapping[str, str]) -> tuple[str, ...]:
    """SURVEYD_REPORT_TO: the report's recipients, comma-separated email addresses."""
    addresses = tuple(part.strip() for part in (env.get("SURVEYD_REPORT_TO") or "").split(",") if part.strip())
    for address in addresses:
        if "@" not in address or any(ch.isspace() for ch in address):
            raise ConfigError(f"SURVEYD_REPORT_TO holds something that is not an email address: {address!r}")
    return addresses


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = (env.get(name) or default).strip().lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _journey_stages(env: Mapping[str, str]) -> tuple[str, ...]:
    """SURVEYD_JOURNEY_STAGES: the journey's stages in the order the journey view shows them, each once."""
    raw = env.get("SURVEYD_JOURNEY_STAGES")
    if raw is None or not raw.strip():
        return JOURNEY_STAGES
    chosen = tuple(part.strip() for part in raw.split(",") if part.strip())
    if sorted(chosen) != sorted(JOURNEY_STAGES):
        raise ConfigError(f"SURVEYD_JOURNEY_STAGES must name each of {', '.join(JOURNEY_STAGES)} once, "
                          f"in the order wanted; got {raw!r}")
    return chosen


def _telegram_offer(env: Mapping[str, str]) -> frozenset[str]:
    """SURVEYD_TELEGRAM_OFFER: the channels whose invitations carry the bot's deep link ("email" by default;
    "email,sms" adds it to SMS, where it costs a segment; "none" turns it off)."""
    raw = env.get("SURVEYD_TELEGRAM_OFFER")
    if raw is None:
        return frozenset({"email"})
    names = {part.strip().lower() for part in raw.split(",") if part.strip()} - {"none"}
    unknown = names - set(TELEGRAM_OFFERABLE)
    if unknown:
        raise ConfigError(f"SURVEYD_TELEGRAM_OFFER lists channels that cannot offer the bot: {', '.join(sorted(unknown))}")
    return frozenset(names)


def _currency(env: Mapping[str, str]) -> str:
    """SURVEYD_SMS_CURRENCY: the three-letter ISO 4217 code SMS prices are given in."""
    raw = (env.get("SURVEYD_SMS_CURRENCY") or "USD").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", raw):
        raise ConfigError(f"SURVEYD_SMS_CURRENCY must be a three-letter currency code such as USD, not {raw!r}")
    return raw


@dataclass(frozen=True)
class Settings:
    """What one surveyd process was told by its environment."""

    database_url: str
    broker_url: str | None
    secret_key: str
    public_url: str | None
    sandbox_channels: frozenset[str]
    demo: bool
    sqlite_busy_timeout_ms: int
    sqlite_synchronous: str  # "normal": a commit survives the process, "full": also a power loss (README)
    database_pool_size: int
    token_ttl_seconds: int
    default_timezone: str
    throttle_days: int
    redis_url: str | None
    queue_name: str
    dispatch_concurrency: int
    console_streams: int  # open live alert inboxes served at once, on threads of their own
    relay_poll_seconds: float
    queue_lease_seconds: float
    send_lease_seconds: float
    send_timeout_seconds: float
    max_attempts: int
    retry_base_seconds: float
    retry_max_seconds: float
    reconcile_after_seconds: float
    twilio_account_sid: str | None
    twilio_auth_token: str | None
    twilio_from: str | None
    twilio_messaging_service_sid: str | None
    twilio_api_base: str
    twilio_rate_per_second: float
    telegram_bot_token: str | None
    telegram_webhook_secret: str | None
    telegram_bot_username: str | None
    telegram_api_base: str
    telegram_offer: frozenset[str]  # channels whose invitations offer the bot's deep link to an unlinked contact
    telegram_mode: str  # "webhook" (Telegram calls /webhooks/telegram) or "polling" (serve long-polls getUpdates)
    smtp_host: str | None
    smtp_port: int
    smtp_username: str | None
    smtp_password: str | None
    smtp_starttls: bool
    smtp_ssl: bool  # implicit TLS from the first byte (SMTPS, port 465) instead of STARTTLS
    smtp_ca_file: str | None  # a private CA to trust for the SMTP server's certificate
    smtp_rate_per_second: float
    mail_from: str | None
    mail_unsubscribe: str | None  # the mailbox of the List-Unsubscribe mailto: address
    # Webhook and Slack URLs may reach loopback and private addresses (tests, intranets); refused otherwise.
    outbound_allow_private: bool = False
    # What an agent may name as the root cause when closing an alert (SURVEYD_ROOT_CAUSES, comma-separated).
    root_causes: tuple[str, ...] = DEFAULT_ROOT_CAUSES
    # The journey's stages in the order the journey view shows them (SURVEYD_JOURNEY_STAGES).
    journey_stages: tuple[str, ...] = JOURNEY_STAGES
    # The contact and event attributes the score rollups also count by (SURVEYD_ROLLUP_GROUPS, comma-separated).
    rollup_groups: tuple[str, ...] = DEFAULT_ROLLUP_GROUPS
    # What one SMS segment costs, and in which currency (ISO 4217): the designer's preview estimates a message's cost.
    sms_segment_price: float = 0.0083
    sms_currency: str = "USD"
    # Who receives the periodic report (SURVEYD_REPORT_TO, comma-separated), how often (month or week), in which
    # language; its periods follow the calendar of default_timezone.
    report_to: tuple[str, ...] = ()
    report_cadence: str = "month"
    report_locale: str = "en"
    # Requests per second each API key may make (SURVEYD_API_RATE, 0 = no limit) and how many at once beyond that
    # (SURVEYD_API_BURST, default twice the rate): a token bucket per key, shared through Redis when configured.
    api_rate: float = 100.0
    api_burst: int = 200
    # Personal data older than this many days is anonymised by the relay (SURVEYD_RETENTION_DAYS; None: kept), and
    # raw inbound payloads after SURVEYD_RAW_RETENTION_DAYS.
    retention_days: int | None = None
    raw_retention_days: int = 30

    @property
    def sandbox(self) -> bool:
        """Whether any channel delivers to the sandbox inbox."""
        return bool(self.sandbox_channels)

    def flask_config(self) -> dict:
        """The Flask and extension settings that follow from these."""
        # Connections a process keeps open (PostgreSQL), and twice as many more while a burst needs them: with the
        # default of 5, SQLAlchemy's own 5 + 10.
        engine_options: dict = {"pool_pre_ping": True, "pool_size": self.database_pool_size,
                                "max_overflow": 2 * self.database_pool_size}
        if self.database_url.startswith("sqlite"):
            engine_options = {"connect_args": {"timeout": self.sqlite_busy_timeout_ms / 1000}}
        return {
            "SECRET_KEY": self.secret_key,
            # The console's session cookie: never readable by scripts, not sent on cross-site posts, https-only
            # when surveyd is reached over https.
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": self.public_url.startswith("https://") if self.public_url else False,
            "WTF_CSRF_TIME_LIMIT": 8 * 3600,  # a form left open for a working day still posts
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
            "SURVEYD": self,
            "API_TITLE": "surveyd",
            "API_VERSION": "v1",
            "OPENAPI_VERSION": "3.0.3",
            "OPENAPI_URL_PREFIX": "/api/v1",
            "OPENAPI_JSON_PATH": "openapi.json",
            "JSON_SORT_KEYS": False,
        }


def _demo_secret(instance_path: Path) -> str:
    """A secret kept in the instance folder so demo links survive a restart."""
    path = instance_path / "demo-secret-key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    path.write_text(value)
    path.chmod(0o600)
    return value


def load_settings(instance_path: Path, env: Mapping[str, str] | None = None, demo: bool = False) -> Settings:
    """Build Settings from the environment, refusing what cannot work."""
    env = os.environ if env is None else env
    demo = demo or _flag(env, "SURVEYD_DEMO", False)
    database_url = env.get("SURVEYD_DATABASE_URL") or f"sqlite:///{instance_path / 'surveyd.sqlite3'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgres://"):]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
    if not (database_url.startswith("sqlite") or database_url.startswith("postgresql")):
        raise ConfigError("SURVEYD_DATABASE_URL must be a sqlite:// or postgresql:// URL")
    secret_key = env.get("SURVEYD_SECRET_KEY") or ""
    if not secret_key:
        if not demo:
            raise ConfigError("SURVEYD_SECRET_KEY is required (or run with --demo)")
        secret_key = _demo_secret(instance_path)
    elif len(secret_key) < 16:
        raise ConfigError("SURVEYD_SECRET_KEY must be at least 16 characters")
    public_url = (env.get("SURVEYD_PUBLIC_URL") or "").rstrip("/") or None
    if public_url and not public_url.startswith(("http://", "https://")):
        raise ConfigError("SURVEYD_PUBLIC_URL must start with http:// or https://")
    broker_url = env.get("SURVEYD_BROKER_URL") or None
    if broker_url and not broker_url.startswith(("redis://", "rediss://", "amqp://", "amqps://")):
        raise ConfigError("SURVEYD_BROKER_URL must be a redis:// or amqp:// URL")
    redis_url = env.get("SURVEYD_REDIS_URL") or None
    if redis_url is None and broker_url and broker_url.startswith(("redis://", "rediss://")):
        redis_url = broker_url
    if redis_url and not redis_url.startswith(("redis://", "rediss://")):
        raise ConfigError("SURVEYD_REDIS_URL must be a redis:// URL")
    default_timezone = env.get("SURVEYD_DEFAULT_TIMEZONE") or "UTC"
    if not valid_timezone(default_timezone):
        raise ConfigError(f"SURVEYD_DEFAULT_TIMEZONE is not an IANA time zone: {default_timezone!r}")
    twilio_from = env.get("SURVEYD_TWILIO_FROM") or None
    twilio_service = env.get("SURVEYD_TWILIO_MESSAGING_SERVICE_SID") or None
    if twilio_from and twilio_service:
        raise ConfigError("set SURVEYD_TWILIO_FROM or SURVEYD_TWILIO_MESSAGING_SERVICE_SID, not both")
    smtp_host = env.get("SURVEYD_SMTP_HOST") or None
    smtp_port = _int(env, "SURVEYD_SMTP_PORT", 587, minimum=1)
    mail_from = env.get("SURVEYD_MAIL_FROM") or None
    if smtp_host and not mail_from:
        raise ConfigError("SURVEYD_MAIL_FROM is required when SURVEYD_SMTP_HOST is set")
    if mail_from and "@" not in mail_from:
        raise ConfigError(f"SURVEYD_MAIL_FROM must be an email address, not {mail_from!r}")
    smtp_ca_file = env.get("SURVEYD_SMTP_CA_FILE") or None
    if smtp_ca_file and not Path(smtp_ca_file).is_file():
        raise ConfigError(f"SURVEYD_SMTP_CA_FILE is not a readable file: {smtp_ca_file}")
    api_rate = _float(env, "SURVEYD_API_RATE", 100.0)
    if api_rate == float("inf"):
        raise ConfigError("SURVEYD_API_RATE must be a finite number of requests per second (0 turns the limit off)")
    api_burst = _int(env, "SURVEYD_API_BURST", max(1, round(2 * api_rate)), minimum=1)
    telegram_mode = (env.get("SURVEYD_TELEGRAM_MODE") or "webhook").strip().lower()
    if telegram_mode not in ("webhook", "polling"):
        raise ConfigError("SURVEYD_TELEGRAM_MODE must be webhook or polling")
    return Settings(
        database_url=database_url,
        broker_url=broker_url,
        secret_key=secret_key,
        public_url=public_url,
        sandbox_channels=_sandbox(env, demo),
        demo=demo,
        sqlite_busy_timeout_ms=_int(env, "SURVEYD_SQLITE_BUSY_TIMEOUT_MS", 5000),
        sqlite_synchronous=_choice(env, "SURVEYD_SQLITE_SYNCHRONOUS", ("normal", "full"), "normal"),
        database_pool_size=_int(env, "SURVEYD_DATABASE_POOL_SIZE", 5, minimum=1),
        token_ttl_seconds=_int(env, "SURVEYD_TOKEN_TTL_SECONDS", 14 * 24 * 3600, minimum=60),
        default_timezone=default_timezone,
        throttle_days=_int(env, "SURVEYD_THROTTLE_DAYS", 0),
        redis_url=redis_url,
        api_rate=api_rate,
        api_burst=api_burst,
        retention_days=_int(env, "SURVEYD_RETENTION_DAYS", 0, minimum=1) if env.get("SURVEYD_RETENTION_DAYS") else None,
        raw_retention_days=_int(env, "SURVEYD_RAW_RETENTION_DAYS", 30, minimum=1),
        queue_name=env.get("SURVEYD_QUEUE") or "surveyd",
        dispatch_concurrency=_int(env, "SURVEYD_DISPATCH_CONCURRENCY", 8, minimum=1),
        console_streams=_int(env, "SURVEYD_CONSOLE_STREAMS", 50, minimum=0),
        relay_poll_seconds=_float(env, "SURVEYD_RELAY_POLL_SECONDS", 1.0, minimum=0.01),
        queue_lease_seconds=_float(env, "SURVEYD_QUEUE_LEASE_SECONDS", 120.0, minimum=1.0),
        send_lease_seconds=_float(env, "SURVEYD_SEND_LEASE_SECONDS", 120.0, minimum=1.0),
        send_timeout_seconds=_float(env, "SURVEYD_SEND_TIMEOUT_SECONDS", 15.0, minimum=0.1),
        max_attempts=_int(env, "SURVEYD_DISPATCH_MAX_ATTEMPTS", 8, minimum=1),
        retry_base_seconds=_float(env, "SURVEYD_RETRY_BASE_SECONDS", 10.0),
        retry_max_seconds=_float(env, "SURVEYD_RETRY_MAX_SECONDS", 3600.0),
        reconcile_after_seconds=_float(env, "SURVEYD_RECONCILE_AFTER_SECONDS", 30.0),
        twilio_account_sid=env.get("SURVEYD_TWILIO_ACCOUNT_SID") or None,
        twilio_auth_token=env.get("SURVEYD_TWILIO_AUTH_TOKEN") or None,
        twilio_from=twilio_from,
        twilio_messaging_service_sid=twilio_service,
        twilio_api_base=(env.get("SURVEYD_TWILIO_API_BASE") or "https://api.twilio.com").rstrip("/"),
        twilio_rate_per_second=_float(env, "SURVEYD_TWILIO_RATE", 10.0),
        telegram_bot_token=env.get("SURVEYD_TELEGRAM_BOT_TOKEN") or None,
        telegram_webhook_secret=env.get("SURVEYD_TELEGRAM_WEBHOOK_SECRET") or None,
        telegram_bot_username=env.get("SURVEYD_TELEGRAM_BOT_USERNAME") or None,
        telegram_api_base=(env.get("SURVEYD_TELEGRAM_API_BASE") or "https://api.telegram.org").rstrip("/"),
        telegram_mode=telegram_mode,
        telegram_offer=_telegram_offer(env),
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        smtp_username=env.get("SURVEYD_SMTP_USERNAME") or None,
        smtp_password=env.get("SURVEYD_SMTP_PASSWORD") or None,
        smtp_starttls=_flag(env, "SURVEYD_SMTP_STARTTLS", True),
        smtp_ssl=_flag(env, "SURVEYD_SMTP_SSL", smtp_port == 465),
        smtp_ca_file=smtp_ca_file,
        smtp_rate_per_second=_float(env, "SURVEYD_SMTP_RATE", 10.0),
        mail_from=mail_from,
        mail_unsubscribe=env.get("SURVEYD_MAIL_UNSUBSCRIBE") or None,
        outbound_allow_private=_flag(env, "SURVEYD_OUTBOUND_ALLOW_PRIVATE", False),
        root_causes=_root_causes(env),
        journey_stages=_journey_stages(env),
        rollup_groups=_rollup_groups(env),
        report_to=_report_to(env),
        report_cadence=_choice(env, "SURVEYD_REPORT_CADENCE", ("month", "week"), "month"),
        report_locale=_choice(env, "SURVEYD_REPORT_LOCALE", ("en", "tr", "fa"), "en"),
        sms_segment_price=_float(env, "SURVEYD_SMS_SEGMENT_PRICE", 0.0083),
        sms_currency=_currency(env),
    )
