"""The console's language: the signed-in user's choice, else the browser's (Flask-Babel picks it); strings from
TOML files per locale (`strings/<locale>.toml` and one `strings/<room>.<locale>.toml` per part of the console, each
with its own top-level tables), numbers and dates in that locale's digits (Babel)."""
from __future__ import annotations

import tomllib
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import request
from flask_babel import format_datetime, format_decimal, format_timedelta, get_locale
from flask_login import current_user

from survey_templates import catalog

STRINGS = Path(__file__).parent / "strings"
LOCALES = ("en", "tr", "fa")
FALLBACK = "en"


def select_locale() -> str:
    """Flask-Babel's locale selector: the user's saved language, else Accept-Language, else English."""
    user = getattr(current_user, "user", None)
    if user is not None and user.locale in LOCALES:
        return user.locale
    return request.accept_languages.best_match(LOCALES) or FALLBACK


@lru_cache(maxsize=None)
def _strings(locale: str) -> dict[str, Any]:
    """Every string file of a locale, merged; two files may not define the same table."""
    merged: dict[str, Any] = {}
    for path in [STRINGS / f"{locale}.toml", *sorted(STRINGS.glob(f"*.{locale}.toml"))]:
        with path.open("rb") as handle:
            table = tomllib.load(handle)
        twice = merged.keys() & table.keys()
        if twice:
            raise ValueError(f"{path.name} defines {', '.join(sorted(twice))} again")
        merged.update(table)
    return merged


def _lookup(table: dict[str, Any], key: str) -> Any:
    for part in key.split("."):
        if not isinstance(table, dict) or part not in table:
            return None
        table = table[part]
    return table


def locale_code() -> str:
    """The request's console locale as a code (en, tr, fa)."""
    code = str(get_locale() or FALLBACK).split("_")[0]
    return code if code in LOCALES else FALLBACK


def t(key: str, **values: Any) -> str:
    """The console string for key in the request's locale (English when missing), placeholders filled."""
    text = _lookup(_strings(locale_code()), key)
    if not isinstance(text, str):
        text = _lookup(_strings(FALLBACK), key)
    if not isinstance(text, str):
        raise KeyError(f"no console string {key!r}")
    return text.format_map({k: number(v) if isinstance(v, int) and not isinstance(v, bool) else v
                            for k, v in values.items()}) if values else text


def say(message: str) -> str:
    """A console string when message is one of its keys, else the message itself (a service's own words)."""
    text = _lookup(_strings(locale_code()), message) or _lookup(_strings(FALLBACK), message)
    return text if isinstance(text, str) else message


def direction() -> str:
    """ltr or rtl for the request's locale."""
    return catalog.locale_info(locale_code()).direction if locale_code() in catalog.available_locales() else "ltr"


def _digits(text: str) -> str:
    """Western digits written in the locale's own (Persian ۰-۹); Babel keeps Latin digits for every locale."""
    code = locale_code()
    if code not in catalog.available_locales():
        return text
    info = catalog.locale_info(code)
    if info.direction == "rtl" and text[:1] in "-−":
        text = "\u200e" + text  # a left-to-right mark keeps the minus in front of the number in right-to-left text
    return info.localize_digits(text)


def number(value: float | int | None, digits: int = 0) -> str:
    """A number in the locale's digits and separators; an en dash for none."""
    if value is None:
        return "–"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return _digits(format_decimal(value, format=pattern))


def when(value: datetime | None, keep_zone: bool = False) -> str:
    """A date and time, short, in the locale's calendar words and digits: in UTC, or with keep_zone in the zone
    the value carries (a contact's local time)."""
    if value is None:
        return "–"
    return _digits(format_datetime(value, "medium", rebase=not keep_zone))


def until(moment: datetime | None, now: datetime) -> str:
    """How far away a moment is, in words ("in 23 minutes", "5 minutes ago"): an SLA's countdown."""
    if moment is None:
        return "–"
    moment = moment if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)
    return _digits(format_timedelta(moment - now, add_direction=True, threshold=0.9))


def label(group: str, value: str | None) -> str:
    """The console's word for a stored value (a status, an action, a channel); the value itself when it has none."""
    if value is None:
        return "–"
    text = _lookup(_strings(locale_code()), f"{group}.{value}") or _lookup(_strings(FALLBACK), f"{group}.{value}")
    return text if isinstance(text, str) else str(value)
