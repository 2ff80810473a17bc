"""The console's words: every locale has every string English has, with the same placeholders."""
from __future__ import annotations

import string

import pytest

from surveyd.console import i18n


def _flat(table: dict, prefix: str = "") -> dict[str, str]:
    found = {}
    for key, value in table.items():
        if isinstance(value, dict):
            found.update(_flat(value, f"{prefix}{key}."))
        else:
            found[f"{prefix}{key}"] = value
    return found


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("locale", [code for code in i18n.LOCALES if code != i18n.FALLBACK])
def test_every_locale_says_everything_english_says_with_the_same_placeholders(locale):
    english, other = _flat(i18n._strings(i18n.FALLBACK)), _flat(i18n._strings(locale))
    assert sorted(english.keys() - other.keys()) == []
    assert sorted(other.keys() - english.keys()) == []
    assert [key for key in english if _fields(english[key]) != _fields(other[key])] == []


def test_two_string_files_may_not_define_the_same_table(tmp_path, monkeypatch):
    (tmp_path / "en.toml").write_text('[nav]\nskip = "Skip"\n')
    (tmp_path / "designer.en.toml").write_text('[nav]\nlabel = "Console"\n')
    monkeypatch.setattr(i18n, "STRINGS", tmp_path)
    i18n._strings.cache_clear()
    try:
        with pytest.raises(ValueError, match="designer.en.toml defines nav again"):
            i18n._strings("en")
    finally:
        i18n._strings.cache_clear()
