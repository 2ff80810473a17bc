"""Locale folders are complete and consistent, and the catalog's lookups behave."""
from __future__ import annotations

import string
import tomllib
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from survey_templates import catalog
from survey_templates.catalog import (
    FALLBACK_LOCALE,
    available_locales,
    builtin_survey,
    builtin_templates,
    locale_info,
    resolve_locale,
    translate,
)

LOCALES_DIR = Path(catalog.__file__).parent / "locales"
LOCALE_FOLDERS = sorted(p.name for p in LOCALES_DIR.iterdir() if p.is_dir())
TEXT_FILES = ("strings.toml", "surveys.toml")
SHIPPED = ["en", "tr", "fa"]


def _load(code: str, filename: str) -> dict[str, Any]:
    with (LOCALES_DIR / code / filename).open("rb") as handle:
        return tomllib.load(handle)


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def _literal(text: str) -> str:
    """The text without its {placeholders}."""
    return "".join(part for part, *_ in string.Formatter().parse(text))


def test_shipped_locales_are_available_with_fallback_first():
    assert available_locales()[0] == FALLBACK_LOCALE
    assert set(SHIPPED) <= set(available_locales())
    assert set(LOCALE_FOLDERS) == set(available_locales()), "every locale folder needs a locale.toml"


@pytest.mark.parametrize("filename", TEXT_FILES)
@pytest.mark.parametrize("code", LOCALE_FOLDERS)
def test_locale_has_exactly_the_english_keys(code, filename):
    english = _flatten(_load(FALLBACK_LOCALE, filename))
    other = _flatten(_load(code, filename))
    missing = sorted(set(english) - set(other))
    extra = sorted(set(other) - set(english))
    assert not missing, f"{code}/{filename} lacks {missing}"
    assert not extra, f"{code}/{filename} has keys English does not: {extra}"


@pytest.mark.parametrize("filename", TEXT_FILES)
@pytest.mark.parametrize("code", LOCALE_FOLDERS)
def test_locale_strings_keep_the_english_placeholders(code, filename):
    english = _flatten(_load(FALLBACK_LOCALE, filename))
    other = _flatten(_load(code, filename))
    for key, text in other.items():
        assert isinstance(text, str) and text.strip(), f"{code}/{filename} {key} is empty or not a string"
        assert text == text.strip(), f"{code}/{filename} {key} has leading/trailing whitespace"
        assert _placeholders(text) == _placeholders(english[key]), (
            f"{code}/{filename} {key}: placeholders {_placeholders(text)} != English {_placeholders(english[key])}"
        )


@pytest.mark.parametrize("code", LOCALE_FOLDERS)
def test_locale_toml_describes_the_script(code):
    data = _load(code, "locale.toml")
    assert set(data) == {"name", "direction", "digits"}
    assert isinstance(data["name"], str) and data["name"].strip()
    assert data["direction"] in ("ltr", "rtl")
    digits = data["digits"]
    assert isinstance(digits, str) and len(digits) == 10 and len(set(digits)) == 10
    # The digits must be a real 0-9 run, in order.
    assert [unicodedata.decimal(ch, None) for ch in digits] == list(range(10))
    info = locale_info(code)
    assert (info.code, info.name, info.direction, info.digits) == (code, data["name"], data["direction"], digits)


@pytest.mark.parametrize(
    ("code", "name", "direction", "digits"),
    [
        ("en", "English", "ltr", "0123456789"),
        ("tr", "Türkçe", "ltr", "0123456789"),
        ("fa", "فارسی", "rtl", "۰۱۲۳۴۵۶۷۸۹"),
    ],
)
def test_shipped_locale_facts(code, name, direction, digits):
    info = locale_info(code)
    assert (info.name, info.direction, info.digits) == (name, direction, digits)


def test_persian_uses_persian_letters_digits_and_punctuation():
    for filename in TEXT_FILES:
        for key, text in _flatten(_load("fa", filename)).items():
            bare = _literal(text)
            assert not set(bare) & {"\u064a", "\u0643"}, f"fa {key}: Arabic yeh/kaf, use Persian ی/ک"
            assert not any(ch in "0123456789" for ch in bare), f"fa {key}: ASCII digits, use ۰-۹"
            assert "?" not in bare and "," not in bare, f"fa {key}: use ؟ and ، in Persian"
            assert bare.lstrip()[:1] == "" or unicodedata.bidirectional(bare.lstrip()[0]) in ("AL", "R"), (
                f"fa {key}: starts with a non-RTL character, plain-text channels would show it left-to-right"
            )


def test_translations_are_not_copies_of_english():
    for filename in TEXT_FILES:
        english = _flatten(_load(FALLBACK_LOCALE, filename))
        for code in ("tr", "fa"):
            other = _flatten(_load(code, filename))
            same = [k for k, v in other.items() if v == english[k] and _literal(v).strip()]
            assert not same, f"{code}/{filename} left in English: {same}"


@pytest.mark.parametrize("template_id", ["nps", "csat", "ces"])
def test_builtin_survey_has_every_text_in_every_locale(template_id):
    assert template_id in builtin_templates()
    survey = builtin_survey(template_id, SHIPPED)
    assert survey["kind"] == template_id
    assert survey["name"] == _load("en", "surveys.toml")[template_id]["name"]
    questions = survey["questions"]
    scale = [q for q in questions if q["type"] == "scale"]
    follow_ups = [q for q in questions if q["type"] == "text"]
    assert len(scale) == 1 and follow_ups
    fields_by_type = {"scale": ("text", "low_label", "high_label"), "text": ("text",)}
    for question in questions:
        for field in fields_by_type[question["type"]]:
            texts = question[field]
            assert set(texts) == set(SHIPPED), f"{template_id}.{question['id']}.{field}"
            for code, text in texts.items():
                assert isinstance(text, str) and text.strip(), f"{template_id}.{question['id']}.{field} [{code}]"
            assert len(set(texts.values())) == len(SHIPPED), f"{template_id}.{question['id']}.{field} not translated"
    assert all(q["bands"] for q in follow_ups)


def test_builtin_survey_name_comes_from_the_first_locale():
    assert builtin_survey("csat", ["tr", "en"])["name"] == "Müşteri Memnuniyeti"
    assert builtin_survey("csat", ["fa", "en"])["name"] == "رضایت مشتری"


def test_builtin_survey_rejects_unknown_template_and_locale():
    with pytest.raises(KeyError):
        builtin_survey("nope", ["en"])
    with pytest.raises(KeyError):
        builtin_survey("nps", ["en", "xx"])


@pytest.mark.parametrize(
    ("wanted", "offered", "expected"),
    [
        ("tr-TR", ["en", "tr", "fa"], "tr"),
        ("FA", ["en", "tr", "fa"], "fa"),
        ("fa_IR", ["en", "tr", "fa"], "fa"),
        ("tr", ["fa", "tr"], "tr"),
        ("de", ["tr", "en"], "tr"),
        ("de-DE", ["fa", "en"], "fa"),
        (None, ["fa", "en"], "fa"),
        ("", ["tr", "en"], "tr"),
        ("pt_BR", ["en"], "en"),
    ],
)
def test_resolve_locale(wanted, offered, expected):
    assert resolve_locale(wanted, offered) == expected


def test_translate_reads_the_locale():
    assert translate("tr", "page.submit") == "Gönder"
    assert translate("fa", "page.submit") == "ارسال"
    assert translate("en", "page.submit") == "Send"


def test_translate_fills_placeholders():
    assert translate("tr", "messages.greeting", name="Ayşe") == "Merhaba Ayşe,"
    assert translate("fa", "messages.greeting", name="Ayşe") == "سلام Ayşe عزیز،"
    assert "500" in translate("tr", "page.error_too_long", limit=500)
    assert "{limit}" not in translate("fa", "page.error_too_long", limit="۵۰۰")


def test_translate_falls_back_to_english_for_unknown_locale():
    assert translate("xx", "page.submit") == translate("en", "page.submit") == "Send"


def test_translate_falls_back_to_english_for_a_key_missing_in_a_locale(monkeypatch):
    real = catalog._strings

    def without_submit(code):
        tree = real(code)
        if code != "tr":
            return tree
        return {**tree, "page": {k: v for k, v in tree["page"].items() if k != "submit"}}

    monkeypatch.setattr(catalog, "_strings", without_submit)
    assert translate("tr", "page.submit") == "Send"
    assert translate("tr", "page.skip") == "Atla"


@pytest.mark.parametrize("key", ["page.nope", "nope", "page", "page.submit.extra"])
def test_translate_raises_for_unknown_key(key):
    with pytest.raises(KeyError):
        translate("tr", key)


def test_localize_digits():
    assert locale_info("fa").localize_digits("10") == "۱۰"
    assert locale_info("fa").localize_digits(2024) == "۲۰۲۴"
    assert locale_info("fa").localize_digits("v1.5") == "v۱.۵"
    assert locale_info("en").localize_digits(10) == "10"
    assert locale_info("tr").localize_digits("0-10") == "0-10"
