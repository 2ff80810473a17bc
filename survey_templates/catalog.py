"""Loads the locale folders and built-in surveys, and renders message templates.

A locale is a folder under ``locales/`` holding ``locale.toml``, ``strings.toml`` and
``surveys.toml``; adding a language is adding such a folder. Nothing here knows Flask.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

ROOT = Path(__file__).parent
FALLBACK_LOCALE = "en"


@dataclass(frozen=True)
class LocaleInfo:
    """How a locale is named and written."""

    code: str
    name: str
    direction: str
    digits: str

    def localize_digits(self, value: Any) -> str:
        """The value's ASCII digits written in this locale's digits."""
        return str(value).translate(str.maketrans("0123456789", self.digits))


def _read_toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


@lru_cache(maxsize=None)
def available_locales() -> tuple[str, ...]:
    """Every locale that has a folder, fallback first."""
    codes = sorted(p.name for p in (ROOT / "locales").iterdir() if (p / "locale.toml").exists())
    return tuple(sorted(codes, key=lambda c: c != FALLBACK_LOCALE))


@lru_cache(maxsize=None)
def locale_info(code: str) -> LocaleInfo:
    """The naming and writing facts of one locale."""
    data = _read_toml(ROOT / "locales" / code / "locale.toml")
    return LocaleInfo(code=code, name=data["name"], direction=data["direction"], digits=data["digits"])


@lru_cache(maxsize=None)
def _strings(code: str) -> dict[str, Any]:
    return _read_toml(ROOT / "locales" / code / "strings.toml")


@lru_cache(maxsize=None)
def _survey_texts(code: str) -> dict[str, Any]:
    return _read_toml(ROOT / "locales" / code / "surveys.toml")


def _lookup(tree: dict[str, Any], dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def translate(locale: str, key: str, **values: Any) -> str:
    """The UI string for key in locale (falling back to English), with {placeholders} filled."""
    text = _lookup(_strings(locale), key) if locale in available_locales() else None
    if text is None:
        text = _lookup(_strings(FALLBACK_LOCALE), key)
    if not isinstance(text, str):
        raise KeyError(f"no string {key!r} in locale {locale!r} or {FALLBACK_LOCALE!r}")
    return text.format_map(values) if values else text


def resolve_locale(wanted: str | None, offered: list[str]) -> str:
    """The best of the offered locales for a contact's locale tag ("tr-TR" matches "tr")."""
    if wanted:
        tag = wanted.replace("_", "-").lower()
        for candidate in (tag, tag.split("-")[0]):
            if candidate in offered:
                return candidate
    return offered[0]


@lru_cache(maxsize=None)
def builtin_templates() -> tuple[str, ...]:
    """The ids of the built-in surveys."""
    return tuple(sorted(p.stem for p in (ROOT / "surveys").glob("*.toml")))


def builtin_survey(template_id: str, locales: list[str]) -> dict[str, Any]:
    """A built-in survey materialised for the given locales: kind, name and questions with every text."""
    if template_id not in builtin_templates():
        raise KeyError(f"no built-in survey {template_id!r}")
    spec = _read_toml(ROOT / "surveys" / f"{template_id}.toml")
    missing = [code for code in locales if code not in available_locales()]
    if missing:
        raise KeyError(f"no locale folder for {', '.join(missing)}")
    questions = []
    for question in spec["questions"]:
        materialised = {key: value for key, value in question.items()}
        for field in ("text", "low_label", "high_label"):
            texts = {code: _lookup(_survey_texts(code), f"{template_id}.questions.{question['id']}.{field}") for code in locales}
            if any(texts.values()):
                materialised[field] = texts
        questions.append(materialised)
    name = _lookup(_survey_texts(locales[0]), f"{template_id}.name") or template_id.upper()
    return {"kind": spec["kind"], "name": name, "questions": questions}


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(ROOT / "messages"),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    return env


def render_message(name: str, locale: str, **context: Any) -> str:
    """Render messages/<name>.j2 in a locale; templates call t(key, ...) for their words."""
    info = locale_info(locale)
    template = _environment().get_template(f"{name}.j2")
    return template.render(
        t=lambda key, **values: translate(locale, key, **values),
        locale=info,
        digits=info.localize_digits,
        **context,
    ).strip()
