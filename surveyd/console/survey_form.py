"""The survey designer's form: read the posted fields into a draft (the content a version holds), apply the
editing buttons that work without JavaScript (add, remove and move questions, options and alert targets), and say
which field each service error belongs to.

A draft is {"name", "locales", "questions", "alert", "email"}: the shape `SurveyPatchSchema` loads and a
`SurveyVersion` holds, so the page, the preview and the save all read the same thing. Slack and webhook URLs are
secrets and never leave the server: a target's address field stays empty, and `keep` names the saved target
whose URL (and `when` filter) it carries on.
"""
from __future__ import annotations

import re
from typing import Any

import survey_templates
from surveyd.models import Survey, SurveyVersion
from surveyd.services.design import survey_definitions as definitions
from surveyd.services.errors import Invalid

MAX_QUESTIONS, MAX_OPTIONS, MAX_TARGETS = 30, 20, 20
TEXT_FIELDS = ("text", "low_label", "high_label")
FIELD_IDS = {"text": "text", "low_label": "low", "high_label": "high"}
ADDRESS = {"email": "to", "telegram": "chat_id", "slack": "url", "webhook": "url"}
SECRET_CHANNELS = ("slack", "webhook")
PARTS = ("notify", "escalate")
ACTION = re.compile(r"^(save|preview|locales|add-text|add-choice|add-notify|add-escalate|"
                    r"(remove|up|down)-q-\d+|add-opt-\d+|remove-opt-\d+-\d+|remove-(notify|escalate)-\d+)$")


def from_version(survey: Survey, version: SurveyVersion) -> dict[str, Any]:
    """A draft holding what a saved version says; secret URLs blanked, each target remembering where it came from."""
    alert = dict(version.alert)
    for part in PARTS:
        alert[part] = [_shown_target(target, index) for index, target in enumerate(alert.get(part) or [])]
    return {"name": survey.name, "locales": list(version.locales), "questions": _copy(version.questions),
            "alert": alert, "email": _copy(version.email or {})}


def _shown_target(target: dict, index: int) -> dict:
    shown = {**target, "keep": index}
    if target.get("channel") in SECRET_CHANNELS:
        shown["url"] = ""
        shown["saved_url"] = True
    return shown


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _count(form, name: str, limit: int) -> int:
    raw = form.get(name, "")
    return min(int(raw), limit) if raw.isdigit() else 0


def _text(form, name: str, limit: int = 2000) -> str:
    return (form.get(name) or "").strip()[:limit]


def read(form, survey: Survey) -> dict[str, Any]:
    """The draft the posted form describes (nothing checked yet beyond lengths; the services check the rest)."""
    offered = survey_templates.available_locales()
    # The columns the page had, in the page's order (the survey's), then any language newly ticked.
    shown = [key.removeprefix("q-0-text-") for key in form if key.removeprefix("q-0-text-") in offered]
    ticked = form.getlist("locales")
    chosen = [code for code in shown if code in ticked] + [c for c in offered if c in ticked and c not in shown]
    first = form.get("default-locale")
    if first in chosen:
        chosen = [first, *[code for code in chosen if code != first]]
    questions = []
    for i in range(_count(form, "q-count", MAX_QUESTIONS)):
        kind = _text(form, f"q-{i}-type", 10)
        if kind not in ("scale", "text", "choice"):  # only a tampered form says otherwise
            kind = "scale" if i == 0 else "text"
        question: dict[str, Any] = {"id": _text(form, f"q-{i}-id", 64), "type": kind}
        for field in TEXT_FIELDS:
            texts = {code: _text(form, f"q-{i}-{FIELD_IDS[field]}-{code}") for code in shown
                     if f"q-{i}-{FIELD_IDS[field]}-{code}" in form}
            if texts or field == "text":
                question[field] = texts
        if i > 0:
            question["bands"] = [b for b in definitions.BANDS if b in form.getlist(f"q-{i}-bands")]
        if question["type"] == "choice":
            question["options"] = [
                {"id": _text(form, f"q-{i}-opt-{j}-id", 64),
                 "label": {code: _text(form, f"q-{i}-opt-{j}-label-{code}") for code in shown}}
                for j in range(_count(form, f"q-{i}-opt-count", MAX_OPTIONS))]
        questions.append(question)
    saved = survey.latest.alert
    alert: dict[str, Any] = {
        "threshold": _text(form, "alert-threshold", 10),
        "keywords": [word.strip() for word in _text(form, "alert-keywords").split(",") if word.strip()],
        "sla_minutes": _text(form, "alert-sla", 10),
        "sentiment": form.get("alert-sentiment") == "1",
    }
    for part in PARTS:
        alert[part] = [_read_target(form, f"{part}-{i}", saved.get(part) or [])
                       for i in range(_count(form, f"{part}-count", MAX_TARGETS))]
    email = {part: {code: _text(form, f"email-{part}-{code}", 600) for code in shown
                    if _text(form, f"email-{part}-{code}", 600)} for part in definitions.EMAIL_TEXTS}
    draft = {"name": _text(form, "name", 200), "locales": chosen or list(survey.latest.locales),
             "questions": questions, "alert": alert, "email": email, "none_ticked": not chosen}
    return with_locales(draft, survey, [code for code in chosen if code not in shown])


def _read_target(form, prefix: str, saved: list[dict]) -> dict[str, Any]:
    channel = _text(form, f"{prefix}-channel", 20)
    target: dict[str, Any] = {"channel": channel, ADDRESS.get(channel, "to"): _text(form, f"{prefix}-address")}
    locale = _text(form, f"{prefix}-locale", 16)
    if locale:
        target["locale"] = locale
    keep = form.get(f"{prefix}-keep", "")
    if keep.isdigit() and int(keep) < len(saved):
        before = saved[int(keep)]
        target["keep"] = int(keep)
        if before.get("when"):
            target["when"] = before["when"]
        if channel in SECRET_CHANNELS and before.get("channel") == channel:
            target["saved_url"] = True
    return target


def with_locales(draft: dict[str, Any], survey: Survey, fresh: list[str]) -> dict[str, Any]:
    """Every text field holds a (possibly empty) text for each of the draft's locales; on a template survey the
    `fresh` locales (just ticked) start from the template's words. A text staff emptied stays empty."""
    template: dict[str, dict] = {}
    if survey.template and fresh:
        try:
            _, questions, _ = definitions.from_template(survey.template, survey.kind.value, draft["locales"])
            template = {q["id"]: q for q in questions}
        except Invalid:  # a template that cannot give these locales gives no words; the check says what is missing
            template = {}
    for question in draft["questions"]:
        source = template.get(question.get("id"), {})
        for field in TEXT_FIELDS:
            if field not in question and field not in source:
                continue
            texts = question.setdefault(field, {})
            for code in draft["locales"]:
                if code in fresh and not texts.get(code):
                    texts[code] = (source.get(field) or {}).get(code, "")
            question[field] = {code: texts.get(code, "") for code in draft["locales"]}
        for option in question.get("options") or []:
            option["label"] = {code: (option.get("label") or {}).get(code, "") for code in draft["locales"]}
    email = draft.get("email") or {}
    draft["email"] = {part: {code: text for code, text in (email.get(part) or {}).items() if code in draft["locales"]}
                      for part in definitions.EMAIL_TEXTS}
    return draft


def apply(action: str, draft: dict[str, Any]) -> str | None:
    """Carry out an editing button on the draft; the id of the element that should take the focus afterwards."""
    questions = draft["questions"]
    verb, _, rest = action.partition("-")
    numbers = [int(n) for n in re.findall(r"\d+", rest)]
    if action in ("add-text", "add-choice") and len(questions) < MAX_QUESTIONS:
        kind = action.split("-")[1]
        question = {"id": _free_id(questions), "type": kind, "text": {code: "" for code in draft["locales"]},
                    "bands": list(definitions.BANDS)}
        if kind == "choice":
            question["options"] = [{"id": f"option_{n}", "label": {code: "" for code in draft["locales"]}}
                                   for n in (1, 2)]
        questions.append(question)
        return f"q-{len(questions) - 1}-id"
    if rest.startswith("q-") and numbers and 0 < numbers[0] < len(questions):
        i = numbers[0]
        if verb == "remove":
            questions.pop(i)
            return "add-text" if len(questions) == 1 else f"q-{min(i, len(questions) - 1)}-id"
        j = i - 1 if verb == "up" else i + 1
        if 0 < j < len(questions):
            questions[i], questions[j] = questions[j], questions[i]
            still = j > 1 if verb == "up" else j < len(questions) - 1  # the same button at the new place
            return f"{verb}-q-{j}" if still else f"q-{j}-id"
        return f"q-{i}-id"
    if verb == "add" and rest.startswith("opt-") and numbers and numbers[0] < len(questions):
        options = questions[numbers[0]].setdefault("options", [])
        if len(options) < MAX_OPTIONS:
            options.append({"id": _free_option(options), "label": {code: "" for code in draft["locales"]}})
        return f"q-{numbers[0]}-opt-{len(options) - 1}-id"
    if verb == "remove" and rest.startswith("opt-") and len(numbers) == 2 and numbers[0] < len(questions):
        options = questions[numbers[0]].get("options") or []
        if numbers[1] < len(options):
            options.pop(numbers[1])
        return f"add-opt-{numbers[0]}"
    for part in PARTS:
        targets = draft["alert"][part]
        if action == f"add-{part}" and len(targets) < MAX_TARGETS:
            targets.append({"channel": "email", "to": ""})
            return f"{part}-{len(targets) - 1}-channel"
        if action.startswith(f"remove-{part}-") and numbers and numbers[0] < len(targets):
            targets.pop(numbers[0])
            return f"add-{part}"
    return None


def _free_id(questions: list[dict]) -> str:
    taken = {q.get("id") for q in questions}
    return next(f"follow_up_{n}" for n in range(1, MAX_QUESTIONS + 2) if f"follow_up_{n}" not in taken)


def _free_option(options: list[dict]) -> str:
    taken = {o.get("id") for o in options}
    return next(f"option_{n}" for n in range(1, MAX_OPTIONS + 2) if f"option_{n}" not in taken)


def to_data(draft: dict[str, Any], survey: Survey) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The draft as the PATCH body the API would take, and the errors found on the way (field id: messages):
    numbers that are not numbers, a kept secret URL filled back in from the saved version."""
    errors: dict[str, list[str]] = {}
    alert: dict[str, Any] = {"keywords": draft["alert"]["keywords"], "sentiment": bool(draft["alert"].get("sentiment"))}
    for field, key, name in (("threshold", "threshold", "alert-threshold"), ("sla_minutes", "sla_minutes", "alert-sla")):
        raw = str(draft["alert"].get(field) or "")
        if raw.lstrip("-").isdigit():
            alert[key] = int(raw)
        elif raw:
            errors[name] = ["designer.whole_number"]
        elif key == "sla_minutes":
            alert[key] = None
    saved = survey.latest.alert
    for part in PARTS:
        alert[part] = []
        for index, target in enumerate(draft["alert"][part]):
            channel = target.get("channel")
            field = ADDRESS.get(channel)
            if field is None:
                errors[f"{part}-{index}-channel"] = ["designer.channel_unknown"]
                continue
            kept = {"channel": channel, field: target.get(field) or ""}
            if not kept[field] and target.get("saved_url") and "keep" in target:
                kept[field] = saved[part][target["keep"]].get("url", "")
            if not kept[field]:
                errors[f"{part}-{index}-address"] = [f"designer.address_{channel}"]
            for extra in ("locale", "when"):
                if target.get(extra):
                    kept[extra] = target[extra]
            alert[part].append(kept)
    data = {"name": draft["name"], "locales": draft["locales"], "questions": _strip(draft["questions"]),
            "alert": alert, "email": {part: texts for part, texts in draft["email"].items() if texts} or None}
    if not draft["name"]:
        errors["name"] = ["designer.name_missing"]
    if draft.get("none_ticked"):  # the page keeps showing the saved languages' columns meanwhile
        errors["locales"] = ["designer.locales_missing"]
    return data, errors


def _strip(questions: list[dict]) -> list[dict]:
    """Questions without label fields nobody filled (a follow-up has no end labels)."""
    kept = []
    for question in questions:
        question = dict(question)
        for field in ("low_label", "high_label"):
            if field in question and not any(question[field].values()):
                del question[field]
        kept.append(question)
    return kept


def field_id(path: str, draft: dict[str, Any]) -> str:
    """The id of the form control a service's dotted error path names ("questions.1.text" -> "q-1-text-en");
    "form" when none does."""
    parts = path.split(".")
    first_locale = _empty(None, draft)
    if parts[0] in ("name", "locales") and len(parts) == 1:
        return parts[0]
    if parts[0] == "questions":
        if len(parts) == 1 or not parts[1].isdigit():
            return "add-text"
        i, rest = parts[1], parts[2:]
        if not rest:
            return f"q-{i}"
        question = _item(draft["questions"], i)
        if rest[0] in FIELD_IDS:
            code = rest[1] if len(rest) > 1 and rest[1] in draft["locales"] else _empty(question.get(rest[0]), draft)
            return f"q-{i}-{FIELD_IDS[rest[0]]}-{code}"
        if rest[0] == "options":
            if len(rest) > 2 and rest[1].isdigit():
                if rest[2] == "label":
                    option = _item(question.get("options") or [], rest[1])
                    return f"q-{i}-opt-{rest[1]}-label-{_empty(option.get('label'), draft)}"
                return f"q-{i}-opt-{rest[1]}-id"
            return f"add-opt-{i}"
        if rest[0] == "bands":
            return f"q-{i}-bands-negative"
        if rest[0] == "id":
            return f"q-{i}-id" if i != "0" else "q-0"
        return f"q-{i}"
    if parts[0] == "alert" and len(parts) > 1:
        if parts[1] in ("threshold", "keywords"):
            return f"alert-{parts[1]}"
        if parts[1] == "sla_minutes":
            return "alert-sla"
        if parts[1] in PARTS and len(parts) > 2 and parts[2].isdigit():
            field = parts[3] if len(parts) > 3 else "channel"
            suffix = "locale" if field == "locale" else "address" if field in ("to", "chat_id", "url") else "channel"
            return f"{parts[1]}-{parts[2]}-{suffix}"
        if parts[1] in PARTS:
            return f"add-{parts[1]}"
    if parts[0] == "email" and len(parts) > 1 and parts[1] in definitions.EMAIL_TEXTS:
        code = parts[2] if len(parts) > 2 and parts[2] in draft["locales"] else first_locale
        return f"email-{parts[1]}-{code}"
    return "form"


def _item(items: list, index: str) -> dict:
    position = int(index)
    return items[position] if position < len(items) and isinstance(items[position], dict) else {}


def _empty(texts: Any, draft: dict[str, Any]) -> str:
    """The first of the draft's locales whose text is missing (where a "missing text" error should lead), else the
    first locale."""
    texts = texts if isinstance(texts, dict) else {}
    missing = [code for code in draft["locales"] if not str(texts.get(code) or "").strip()]
    return (missing or draft["locales"] or ["en"])[0]


def flatten(messages: Any, prefix: str = "", dict_entries: bool = True) -> dict[str, list[str]]:
    """Marshmallow's nested error messages as dotted paths, as the services write theirs. With dict_entries, a
    "value" or "key" level is a Dict field's entry (texts per locale) and belongs to the entry itself; schemas with
    a field named value (trigger conditions) say False."""
    if isinstance(messages, dict):
        found: dict[str, list[str]] = {}
        for key, value in messages.items():
            if dict_entries and key in ("value", "key") and prefix:
                found.update(flatten(value, prefix, dict_entries))
                continue
            found.update(flatten(value, f"{prefix}.{key}" if prefix else str(key), dict_entries))
        return found
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "form": list(messages)}
    if isinstance(messages, list):
        found = {}
        for item in messages:
            found.update(flatten(item, prefix, dict_entries))
        return found
    return {prefix or "form": [str(messages)]}


def by_field(errors: dict[str, list[str]], draft: dict[str, Any]) -> dict[str, list[str]]:
    """Dotted-path errors placed on the form's controls."""
    placed: dict[str, list[str]] = {}
    for path, messages in errors.items():
        placed.setdefault(field_id(path, draft), []).extend(messages)
    return placed
