"""Surveys: create from a template or questions, change (a new version), read."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

import survey_templates
from surveyd.extensions import db
from surveyd.models import Survey, SurveyKind, SurveyVersion
from surveyd.services.design import survey_definitions as definitions
from surveyd.services.errors import Invalid, NotFound
from surveyd.services.runtime import settings

CONTENT = ("locales", "questions", "alert", "email")


def get_survey(survey_id: int) -> Survey:
    """One survey, or NotFound."""
    survey = db.session.get(Survey, survey_id)
    if survey is None:
        raise NotFound(f"survey {survey_id} does not exist")
    return survey


def list_surveys() -> list[Survey]:
    """Every survey, oldest first."""
    return list(db.session.scalars(sa.select(Survey).order_by(Survey.id)))


def create_survey(data: dict[str, Any]) -> Survey:
    """A new survey at version 1; without questions, the built-in template of its kind."""
    kind = data["kind"]
    template = data.get("template") or (None if data.get("questions") else kind)
    name = data.get("name")
    if data.get("questions"):
        if template:
            raise Invalid("give a template or questions, not both", {"template": ["Not allowed with questions."]})
        questions = data["questions"]
        locales = data.get("locales") or definitions.locales_of(questions)
        definitions.check_locales(locales)
    else:
        locales, questions, default_name = definitions.from_template(template, kind, data.get("locales"))
        name = name or default_name
    definitions.check_questions(questions, locales)
    alert = definitions.check_alert(kind, data.get("alert"), *_target_rules())
    email = definitions.check_email(data.get("email"), locales)
    survey = Survey(name=name, kind=SurveyKind(kind), template=template, current_version=1)
    survey.versions.append(SurveyVersion(number=1, locales=locales, questions=questions, alert=alert, email=email))
    db.session.add(survey)
    db.session.commit()
    return survey


def _target_rules() -> tuple[bool, tuple[str, ...]]:
    """What alert targets may name: private URLs (when this install allows them), the locales there are."""
    return settings().outbound_allow_private, survey_templates.available_locales()


def update_survey(survey_id: int, data: dict[str, Any]) -> Survey:
    """Apply a change; new content makes a new version, and answers keep the version they saw."""
    survey = get_survey(survey_id)
    if "kind" in data and data["kind"] != survey.kind.value:
        raise Invalid("the kind of a survey cannot change", {"kind": ["Create a new survey instead."]})
    if data.get("name"):
        survey.name = data["name"]
    latest = survey.latest
    locales = data.get("locales") or latest.locales
    questions = data.get("questions") or latest.questions
    definitions.check_locales(locales)
    if "questions" not in data and survey.template and locales != latest.locales:
        # New locales on a template survey take the template's texts for them.
        _, template_questions, _ = definitions.from_template(survey.template, survey.kind.value, locales)
        questions = _merge_texts(questions, template_questions)
    definitions.check_questions(questions, locales)
    alert = definitions.check_alert(survey.kind.value, {**latest.alert, **(data.get("alert") or {})},
                                    *_target_rules())
    # The email texts are replaced as a whole when given ({} or null removes them), else kept for the locales kept.
    given = data["email"] if "email" in data else _for_locales(latest.email, locales)
    email = definitions.check_email(given, locales)
    if _changed(latest, locales, questions, alert, email):
        survey.current_version = latest.number + 1
        survey.versions.append(
            SurveyVersion(number=survey.current_version, locales=locales, questions=questions, alert=alert, email=email)
        )
    db.session.commit()
    return survey


def _changed(latest: SurveyVersion, locales: list, questions: list, alert: dict, email: dict | None) -> bool:
    return (latest.locales, latest.questions, latest.alert, latest.email) != (locales, questions, alert, email)


def _for_locales(email: dict | None, locales: list[str]) -> dict | None:
    """The email texts of the locales a survey keeps."""
    if not email:
        return None
    return {part: {code: text for code, text in texts.items() if code in locales} for part, texts in email.items()}


def _merge_texts(questions: list[dict], template_questions: list[dict]) -> list[dict]:
    by_id = {q["id"]: q for q in template_questions}
    merged = []
    for question in questions:
        source = by_id.get(question["id"], {})
        combined = dict(question)
        for field in ("text", "low_label", "high_label"):
            if field in source:
                combined[field] = {**source[field], **question.get(field, {})}
        merged.append(combined)
    return merged
