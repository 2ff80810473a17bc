"""Checks and completes a survey's content (locales, questions, alert rule); pure, no database."""
from __future__ import annotations

import re
from typing import Any

import survey_templates
from bots.outbound_http import OutboundRefused, check_url
from surveyd.services.design import placeholders
from surveyd.services.design.scales import SCALES
from surveyd.services.errors import Invalid

BANDS = ("negative", "neutral", "positive")
QUESTION_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
DEFAULT_THRESHOLDS = {"nps": 6, "csat": 2, "ces": 3}


def scale_of(kind: str) -> dict[str, Any]:
    """The fixed scale of a kind; every kind reads higher as better."""
    low, high = SCALES[kind]
    return {"min": low, "max": high, "direction": "higher_is_better"}


def _texts(value: Any, locales: list[str], where: str, errors: dict) -> None:
    if not isinstance(value, dict):
        errors[where] = ["Must be an object of text per locale."]
        return
    missing = [code for code in locales if not isinstance(value.get(code), str) or not value[code].strip()]
    if missing:
        errors[where] = [f"Missing text for locale(s): {', '.join(missing)}."]


def check_questions(questions: list[dict[str, Any]], locales: list[str]) -> None:
    """Raise Invalid unless there is one scale question first and well-formed follow-ups after it."""
    errors: dict[str, list[str]] = {}
    if not questions:
        raise Invalid("a survey needs at least its score question", {"questions": ["Must not be empty."]})
    seen: set[str] = set()
    for index, question in enumerate(questions):
        where = f"questions.{index}"
        qid, qtype = question.get("id"), question.get("type")
        if not isinstance(qid, str) or not QUESTION_ID.match(qid):
            errors[f"{where}.id"] = ["Must be lower-case letters, digits and _ (starting with a letter)."]
        elif qid in seen:
            errors[f"{where}.id"] = [f"Duplicate question id {qid!r}."]
        seen.add(qid if isinstance(qid, str) else "")
        if index == 0 and qtype != "scale":
            errors[f"{where}.type"] = ["The first question must be the scale question."]
        elif index > 0 and qtype not in ("text", "choice"):
            errors[f"{where}.type"] = ["Follow-up questions are 'text' or 'choice'."]
        if index > 0 and qid == "score":
            errors[f"{where}.id"] = ["'score' is reserved for the scale question."]
        _texts(question.get("text"), locales, f"{where}.text", errors)
        bands = question.get("bands", list(BANDS))
        if not isinstance(bands, list) or not bands or any(b not in BANDS for b in bands):
            errors[f"{where}.bands"] = [f"Must be a non-empty list of {', '.join(BANDS)}."]
        if qtype == "choice":
            options = question.get("options")
            if not isinstance(options, list) or len(options) < 2:
                errors[f"{where}.options"] = ["A choice question needs at least two options."]
            else:
                for o_index, option in enumerate(options):
                    if not isinstance(option, dict) or not QUESTION_ID.match(str(option.get("id", ""))):
                        errors[f"{where}.options.{o_index}.id"] = ["Each option needs an id."]
                    else:
                        _texts(option.get("label"), locales, f"{where}.options.{o_index}.label", errors)
    if errors:
        raise Invalid("the questions are not valid", errors)


def check_alert(kind: str, alert: dict[str, Any] | None, allow_private: bool = False,
                locales: tuple[str, ...] = ()) -> dict[str, Any]:
    """The alert rule with defaults filled in; Invalid if the threshold or a filter is off the scale, or a
    target's URL is one surveyd would refuse to call."""
    alert = dict(alert or {})
    low, high = SCALES[kind]
    threshold = alert.get("threshold")
    if threshold is None:
        threshold = DEFAULT_THRESHOLDS[kind]
    if not low <= threshold < high:
        raise Invalid("alert threshold off the scale", {"alert.threshold": [f"Must be from {low} to {high - 1}."]})
    keywords = [k.strip().lower() for k in alert.get("keywords") or [] if k.strip()]
    errors: dict[str, list[str]] = {}
    targets = {part: _check_targets(alert.get(part) or [], part, (low, high), allow_private, locales, errors)
               for part in ("notify", "escalate")}
    if errors:
        raise Invalid("the alert targets are not valid", errors)
    rule = {"threshold": threshold, "keywords": keywords, **targets}
    if alert.get("sla_minutes"):
        rule["sla_minutes"] = alert["sla_minutes"]
    if alert.get("sentiment"):
        rule["sentiment"] = True
    return rule


def _check_targets(targets: list[dict[str, Any]], part: str, scale: tuple[int, int], allow_private: bool,
                   locales: tuple[str, ...], errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The targets as kept; each problem noted under alert.<part>.<index>.<field>."""
    low, high = scale
    for index, target in enumerate(targets):
        where = f"alert.{part}.{index}"
        if target.get("url"):
            try:
                check_url(target["url"], allow_private)
            except OutboundRefused as refused:
                errors[f"{where}.url"] = [URL_REFUSALS.get(refused.code, str(refused))]
        if target.get("locale") and locales and target["locale"] not in locales:
            errors[f"{where}.locale"] = [f"One of: {', '.join(locales)}."]
        when = target.get("when") or {}
        for bound in ("score_min", "score_max"):
            if bound in when and not low <= when[bound] <= high:
                errors[f"{where}.when.{bound}"] = [f"Must be from {low} to {high}."]
        if when.get("keywords"):
            when["keywords"] = [k.strip().lower() for k in when["keywords"] if k.strip()]
    return [dict(target) for target in targets]


# What the owner of a refused outgoing URL is told: for alert targets here, for webhook endpoints in integrations.
URL_REFUSALS = {
    "scheme": "Use an https:// URL.",
    "https_required": "Use an https:// URL (plain http only with SURVEYD_OUTBOUND_ALLOW_PRIVATE=1).",
    "credentials": "Leave user and password out of the URL; the endpoint's secret signs each delivery.",
    "loopback": "This address is this machine; surveyd does not call it (SURVEYD_OUTBOUND_ALLOW_PRIVATE=1 allows it).",
    "private": "This is a private address; surveyd does not call it (SURVEYD_OUTBOUND_ALLOW_PRIVATE=1 allows it).",
    "link_local": "Link-local addresses are refused.",
    "metadata": "Cloud metadata addresses are refused.",
    "multicast": "Multicast addresses are refused.",
    "reserved": "Reserved addresses are refused.",
}


EMAIL_TEXTS = {"subject": 150, "intro": 500}  # what a survey may word itself, and how long per locale


def check_email(email: dict[str, Any] | None, locales: list[str]) -> dict[str, Any] | None:
    """The survey's own email texts, kept only for its locales; Invalid for unknown parts, locales or placeholders."""
    if not email:
        return None
    errors: dict[str, list[str]] = {}
    kept: dict[str, dict[str, str]] = {}
    for part, texts in email.items():
        if part not in EMAIL_TEXTS:
            errors[f"email.{part}"] = [f"Unknown part; offered: {', '.join(EMAIL_TEXTS)}."]
            continue
        for locale, text in (texts or {}).items():
            where = f"email.{part}.{locale}"
            if locale not in locales:
                errors[where] = [f"The survey has no locale {locale!r}."]
            elif not isinstance(text, str) or not text.strip() or len(text) > EMAIL_TEXTS[part]:
                errors[where] = [f"Must be text of 1 to {EMAIL_TEXTS[part]} characters."]
            elif part == "subject" and ("\n" in text or "\r" in text):
                errors[where] = ["A subject is one line."]
            elif placeholders.fields_of(text) is None:
                errors[where] = ["Placeholders are bare names in braces, such as {name} or {order_id}; "
                                 "write {{ and }} for a brace."]
            else:
                kept.setdefault(part, {})[locale] = text.strip()
    if errors:
        raise Invalid("the email texts are not valid", errors)
    return kept or None


def check_locales(locales: list[str]) -> None:
    """Raise Invalid for an empty list, duplicates, or a locale with no folder."""
    if not locales:
        raise Invalid("a survey needs a locale", {"locales": ["Must not be empty."]})
    if len(set(locales)) != len(locales):
        raise Invalid("duplicate locale", {"locales": ["Must not repeat a locale."]})
    unknown = [code for code in locales if code not in survey_templates.available_locales()]
    if unknown:
        offered = ", ".join(survey_templates.available_locales())
        raise Invalid("unknown locale", {"locales": [f"Unknown: {', '.join(unknown)}. Offered: {offered}."]})


def from_template(template_id: str, kind: str, locales: list[str] | None) -> tuple[list[str], list[dict[str, Any]], str]:
    """Locales, questions and a default name from a built-in template."""
    if template_id not in survey_templates.builtin_templates():
        offered = ", ".join(survey_templates.builtin_templates())
        raise Invalid("unknown template", {"template": [f"Unknown template {template_id!r}. Offered: {offered}."]})
    locales = locales or list(survey_templates.available_locales())
    check_locales(locales)
    built = survey_templates.builtin_survey(template_id, locales)
    if built["kind"] != kind:
        raise Invalid("template of another kind", {"template": [f"Template {template_id!r} is a {built['kind']} survey."]})
    return locales, built["questions"], built["name"]


def locales_of(questions: list[dict[str, Any]]) -> list[str]:
    """The locales the score question has text in, English first; used when none are named."""
    texts = questions[0].get("text") if questions and isinstance(questions[0], dict) else None
    codes = list(texts) if isinstance(texts, dict) else []
    return sorted(codes, key=lambda code: code != "en")

