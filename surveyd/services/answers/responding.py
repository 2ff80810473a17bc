"""Answers from every channel arrive here as InboundEvents and land in one response per dispatch."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from bots.channel import InboundEvent
from surveyd.extensions import db
from surveyd.models import Answer, Dispatch, DispatchStatus, Event, Response, utcnow
from surveyd.services import row_writes, tokens
from surveyd.services.alerts.raising import raise_alert_if_negative
from surveyd.services.answers import wording
from surveyd.services.design.scales import SCALES, band
from surveyd.services.dispatch.planning import record_status, settle_reminders
from surveyd.services.integrations.events import publish_response
from surveyd.services.runtime import settings

MAX_TEXT = 4000


class Stage(str, enum.Enum):
    """Where a respondent stands with a dispatch."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    OPEN = "open"
    FOLLOW_UP = "follow_up"
    COMPLETE = "complete"


@dataclass
class Progress:
    """A dispatch, its response so far, and what to ask next."""

    stage: Stage
    dispatch: Dispatch | None = None
    response: Response | None = None
    follow_ups: list[dict[str, Any]] = field(default_factory=list)
    changed: bool = False
    error: str | None = None
    locale: str | None = None  # the dispatch's, read when the state is taken

    def __post_init__(self) -> None:
        # Read now, inside the transaction: the page after a commit then needs no query (on SQLite a read after the
        # commit is a new transaction, which takes the writer's lock just to read the locale back).
        if self.locale is None and self.dispatch is not None:
            self.locale = self.dispatch.locale


# The hot paths' queries are built once (SQLAlchemy then skips building and hashing them on every request), with
# the survey and its version in the dispatch's query: every page and every answer reads them.
_BY_NONCE = (sa.select(Dispatch).where(Dispatch.token_nonce == sa.bindparam("nonce"))
             .options(joinedload(Dispatch.survey), joinedload(Dispatch.survey_version)))
_RESPONSE_OF = sa.select(Response).where(Response.dispatch_id == sa.bindparam("dispatch_id"))


def dispatch_for_token(token: str) -> Dispatch | None:
    """The dispatch a genuine token names; None when forged or unknown."""
    if not token.isascii():
        return None  # genuine tokens are URL-safe base64; hmac.compare_digest raises on non-ASCII text
    nonce = tokens.verify(token, settings().secret_key)
    if nonce is None:
        return None
    return db.session.scalar(_BY_NONCE, {"nonce": nonce})


def follow_ups_for(dispatch: Dispatch, score: int) -> list[dict[str, Any]]:
    """The follow-up questions of the score's band, in survey order."""
    score_band = band(dispatch.survey.kind.value, score)
    return [q for q in dispatch.survey_version.questions[1:] if score_band in q.get("bands", [score_band])]


def _response_of(dispatch: Dispatch) -> Response | None:
    return db.session.scalar(_RESPONSE_OF, {"dispatch_id": dispatch.id})


def progress(dispatch: Dispatch | None) -> Progress:
    """Where the respondent stands, without changing anything."""
    if dispatch is None:
        return Progress(Stage.UNKNOWN)
    response = _response_of(dispatch)
    if response is None:
        closed = dispatch.status in (DispatchStatus.EXPIRED, DispatchStatus.SUPPRESSED) or dispatch.expires_at <= utcnow()
        return Progress(Stage.EXPIRED if closed else Stage.OPEN, dispatch)
    if response.completed:
        return Progress(Stage.COMPLETE, dispatch, response)
    return Progress(Stage.FOLLOW_UP, dispatch, response, follow_ups_for(dispatch, response.score))


def _start_response(dispatch: Dispatch, score: int, questions: list[dict[str, Any]], answers: dict[str, str]) -> Response:
    """The response a score starts, with the follow-ups answered in the same post, written without a flush.

    The response and its answers are new rows that the answer writes whole, so they go in with one INSERT each
    (services/row_writes.py) and join the session as loaded rows: the alert check, the webhook payload and a later
    follow-up read and change them as usual. That spares the unit of work's flush, most of an answer's cost.
    """
    event = db.session.get(Event, dispatch.event_id) if dispatch.event_id else None
    response = Response(
        dispatch_id=dispatch.id,
        survey_id=dispatch.survey_id,
        survey_version_id=dispatch.survey_version_id,
        contact_id=dispatch.contact_id,
        event_id=dispatch.event_id,
        touchpoint_id=event.touchpoint_id if event else None,
        channel=dispatch.channel,
        locale=dispatch.locale,
        score=score,
    )
    response.answers.append(Answer(question_id=dispatch.survey_version.scale_question["id"], value_number=score))
    _add_follow_ups(response, questions, answers)
    # Without follow-ups, or with them answered in the same post, the response is whole at once.
    response.completed = not questions or any(response.answer_to(q["id"]) for q in questions)
    row_writes.insert(response)  # raises IntegrityError when a simultaneous answer got in first
    for answer in response.answers:
        answer.response_id = response.id
        row_writes.insert(answer)
    row_writes.attach(response, *response.answers)
    record_status(dispatch, DispatchStatus.ANSWERED)
    settle_reminders(dispatch)
    return response


def _add_follow_ups(response: Response, questions: list[dict[str, Any]], answers: dict[str, str]) -> bool:
    added = False
    for question in questions:
        value = (answers.get(question["id"]) or "").strip()
        if not value or response.answer_to(question["id"]) is not None:
            continue
        if question["type"] == "choice" and value not in {o["id"] for o in question["options"]}:
            continue
        answer = Answer(question_id=question["id"], value_text=value[:MAX_TEXT])
        if question["type"] == "text":  # a chosen option is the survey's words, not the customer's
            wording.later(answer, response)
        response.answers.append(answer)
        added = True
    return added


def apply_answer(dispatch: Dispatch | None, inbound: InboundEvent, current: Progress | None = None) -> Progress:
    """Apply one inbound answer in the caller's transaction (flushes, never commits).

    A score starts the response, follow-ups complete it; repeats change nothing. Raises
    IntegrityError when a simultaneous answer to the same dispatch got in first. `current` is the dispatch's
    progress when the caller has just read it in this transaction (a chat finds its thread that way).
    """
    current = current if current is not None and current.dispatch is dispatch else progress(dispatch)
    if current.stage in (Stage.UNKNOWN, Stage.EXPIRED, Stage.COMPLETE):
        return current
    if current.stage == Stage.FOLLOW_UP:
        if inbound.score is not None:
            return current  # the score is already in; a repeated score post is a double submit
        _add_follow_ups(current.response, current.follow_ups, dict(inbound.answers))
        current.response.completed = True
        raise_alert_if_negative(current.response)
        db.session.flush()
        publish_response("response.completed", current.response)
        return Progress(Stage.COMPLETE, dispatch, current.response, changed=True)
    low, high = SCALES[dispatch.survey.kind.value]
    if inbound.score is None or not low <= inbound.score <= high:
        return Progress(Stage.OPEN, dispatch, error="choose_score")
    questions = follow_ups_for(dispatch, inbound.score)
    response = _start_response(dispatch, inbound.score, questions, dict(inbound.answers))
    publish_response("response.created", response)
    if response.completed:
        publish_response("response.completed", response)
    raise_alert_if_negative(response)
    db.session.flush()
    stage = Stage.COMPLETE if response.completed else Stage.FOLLOW_UP
    return Progress(stage, dispatch, response, [] if response.completed else questions, changed=True)


def record_answer(dispatch: Dispatch | None, inbound: InboundEvent) -> Progress:
    """Apply one inbound answer and commit it; a simultaneous double submit leaves the first answer standing."""
    try:
        # Inside the try: a lazy load can autoflush the new response and meet the other request's row.
        result = apply_answer(dispatch, inbound)
    except IntegrityError:
        db.session.rollback()
        return progress(dispatch)
    if result.changed:
        db.session.commit()
    else:
        db.session.rollback()
    return result
