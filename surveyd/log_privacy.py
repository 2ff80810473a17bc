"""No secret and no customer's address in any log line. Every log record, from any logger, is rewritten when it is
made (a log record factory, so every handler sees the same text: files, stderr, Celery's, pytest's): message,
arguments, traceback and stack. Masked:

- the secrets this process was configured with (SURVEYD_SECRET_KEY, the Twilio auth token, the Telegram bot
  token, the SMTP password), wherever they appear;
- API keys (`sk_...`), bearer credentials, passwords in URLs, Telegram bot tokens (`<digits>:<secret>`);
- survey and unsubscribe tokens in paths (`/s/<token>`, `/u/<token>`);
- email addresses (first letter and domain kept: `a…@example.com`);
- phone numbers in E.164 (`+905321234567` → `…67`) and bare runs of 9 to 15 digits, which is what phone numbers
  and Telegram chat ids look like in provider texts (`…67`).

Ids, counts, timestamps and durations stay readable. Masking is idempotent. One logger is left as it is: the demo's
(`surveyd serve --demo`), which prints the made-up staff accounts, their passwords and an API key it has just
created so that whoever tries the demo can sign in; it names no customer and runs only in the sandbox."""
from __future__ import annotations

import logging
import re
import threading
import traceback
from typing import Iterable

_lock = threading.Lock()
_secrets: set[str] = set()
_installed = False
UNMASKED = frozenset({"surveyd.services.sandbox.demo"})

_RULES: list[tuple[re.Pattern, object]] = [
    (re.compile(r"(?i)(/bot)\d{5,12}:[A-Za-z0-9_-]{20,}"), r"\1…"),
    (re.compile(r"\b\d{5,12}:[A-Za-z0-9_-]{30,}"), "…:…"),
    (re.compile(r"\bsk_[A-Za-z0-9_-]{6,}"), "sk_…"),
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[^\s\"',;]+"), r"\1\2…"),
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@"), r"\1…@"),
    (re.compile(r"(/(?:s|u)/)[^/\s?#\"'<>]{6,}"), r"\1…"),
    (re.compile(r"([\w.+-]+)@([\w-]+(?:\.[\w-]+)+)"), lambda m: f"{m.group(1)[0]}…@{m.group(2)}"),
    (re.compile(r"\+\d{7,15}\b"), lambda m: "…" + m.group(0)[-2:]),
    (re.compile(r"(?<![\w.:/-])\d{9,15}(?![\w.])"), lambda m: "…" + m.group(0)[-2:]),
]


def remember_secrets(values: Iterable[str | None]) -> None:
    """Mask these exact strings from now on (at least 8 characters: shorter ones would mask ordinary words)."""
    with _lock:
        _secrets.update(value for value in values if value and len(value) >= 8)


def redact(text: str) -> str:
    """The text with every secret and personal string masked."""
    if not text:
        return text
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "…")
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def install() -> None:
    """Make every log record of this process pass through `redact`; once per process."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
        previous = logging.getLogRecordFactory()

    def masked_record(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.name in UNMASKED:
            return record
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: logging reports it when the record is handled
            return record
        record.msg, record.args = redact(message), ()
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record

    logging.setLogRecordFactory(masked_record)
