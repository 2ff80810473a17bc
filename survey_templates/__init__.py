"""Built-in surveys, locales and per-channel message templates; data files plus a small loader."""
from survey_templates.catalog import (
    LocaleInfo,
    available_locales,
    builtin_survey,
    builtin_templates,
    locale_info,
    render_message,
    resolve_locale,
    translate,
)

__all__ = [
    "LocaleInfo", "available_locales", "builtin_survey", "builtin_templates", "locale_info",
    "render_message", "resolve_locale", "translate",
]
