"""A survey's versions: which answers each one saw, and what changed between two of them; read only."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Response, Survey, SurveyVersion
from surveyd.services.errors import NotFound

PARTS = ("locales", "questions", "alert", "email")


@dataclass(frozen=True)
class Change:
    """One difference between two versions: where (a path of keys and question or target ids), before, after;
    None stands for "not there"."""

    path: tuple[str, ...]
    before: Any
    after: Any

    @property
    def kind(self) -> str:
        """added, removed or changed."""
        return "added" if self.before is None else "removed" if self.after is None else "changed"


def get_version(survey: Survey, number: int) -> SurveyVersion:
    """One version of the survey by its number, or NotFound."""
    for version in survey.versions:
        if version.number == number:
            return version
    raise NotFound(f"survey {survey.id} has no version {number}")


def answers_per_version(survey: Survey) -> dict[int, int]:
    """How many answers each version of the survey saw, by version number (one grouped query)."""
    rows = db.session.execute(
        sa.select(SurveyVersion.number, sa.func.count(Response.id))
        .join(Response, Response.survey_version_id == SurveyVersion.id)
        .where(SurveyVersion.survey_id == survey.id)
        .group_by(SurveyVersion.number)
    )
    return {number: count for number, count in rows}


def answers_per_survey() -> dict[int, int]:
    """How many answers each survey has, by survey id (one grouped query)."""
    rows = db.session.execute(
        sa.select(SurveyVersion.survey_id, sa.func.count(Response.id))
        .join(Response, Response.survey_version_id == SurveyVersion.id)
        .group_by(SurveyVersion.survey_id)
    )
    return {survey_id: count for survey_id, count in rows}


def content(version: SurveyVersion) -> dict[str, Any]:
    """What a version says, part by part."""
    return {part: getattr(version, part) for part in PARTS}


def compare(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """What changed from one version's content to another's (see `content`), part by part, in reading order; a
    reordering of questions or options reads as one change of their order."""
    changes: list[Change] = []
    for part in PARTS:
        _walk((part,), before.get(part), after.get(part), changes)
    return changes


def _ids(value: Any) -> list[str] | None:
    """The ids of a list of things with ids (questions, options), else None."""
    if isinstance(value, list) and value and all(isinstance(item, dict) and "id" in item for item in value):
        return [str(item["id"]) for item in value]
    return None


def _by_id(items: list[dict]) -> dict[str, dict]:
    return {str(item["id"]): {k: v for k, v in item.items() if k != "id"} for item in items}


def _walk(path: tuple[str, ...], before: Any, after: Any, changes: list[Change]) -> None:
    if before == after:
        return
    before_ids, after_ids = _ids(before), _ids(after)
    if before_ids is not None and after_ids is not None:
        # By id, so an inserted or removed question reads as what it is, not as every later question changing.
        kept_before = [i for i in before_ids if i in after_ids]
        kept_after = [i for i in after_ids if i in before_ids]
        if kept_before != kept_after:
            changes.append(Change((*path, "order"), kept_before, kept_after))
        before, after = _by_id(before), _by_id(after)
    if isinstance(before, dict) and isinstance(after, dict):
        for key in [*before, *(k for k in after if k not in before)]:
            _walk((*path, str(key)), before.get(key), after.get(key), changes)
        return
    changes.append(Change(path, before, after))
