"""The funnel service: a reminder is no new member but its opening and answer count for its invitation; the median
time to answer runs from the invitation's sending to the first answer; refusals."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import (
    Dispatch,
    DispatchPurpose,
    Response,
    SandboxMessage,
    Survey,
    utcnow,
)
from surveyd.services.dispatch.sending import send_due
from surveyd.services.errors import Invalid
from surveyd.services.insight.funnel import funnel
from tests.api.helpers import answer, create_survey, create_trigger, fire, page_path
from tests.api.test_funnel_api import LINK, in_app


def _funnel(app, survey_id, **kwargs):
    return in_app(app, lambda: funnel(db.session.get(Survey, survey_id), kwargs.get("since"), kwargs.get("until"),
                                      kwargs.get("group_by")))


def test_a_reminder_counts_for_its_invitation(api, client, app):
    survey = create_survey(api, locales=["en"])
    create_trigger(api, survey["id"], channels=["email"], reminder={"after_seconds": 60, "channel": "email"})
    fire(api, external_id="r-1", contact={"email": "r1@example.com"})
    assert in_app(app, send_due) == 1
    assert in_app(app, lambda: send_due(now=utcnow() + timedelta(minutes=5))) == 1

    def reminder_link():
        reminder = db.session.scalar(sa.select(Dispatch).where(Dispatch.purpose == DispatchPurpose.REMINDER))
        message = db.session.scalar(sa.select(SandboxMessage).where(SandboxMessage.dispatch_id == reminder.id))
        return LINK.search(message.text).group(0)

    url = in_app(app, reminder_link)
    client.get(page_path(url))
    answer(client, url, 7)
    counts = _funnel(app, survey["id"])
    assert (counts["planned"], counts["sent"], counts["opened"], counts["answered"]) == (1, 1, 1, 1)
    assert counts["response_rate"] == 100.0


def test_the_median_runs_from_sending_to_the_answer(api, client, app):
    survey = create_survey(api, locales=["en"])
    create_trigger(api, survey["id"], channels=["web"])
    urls = [fire(api, external_id=f"m-{n}")["dispatches"][0]["url"] for n in range(4)]
    for url in urls[:3]:
        answer(client, url, 9)

    def backdate():
        # Answers 60 s, 120 s and 600 s after their invitation went out; the fourth is unanswered.
        responses = list(db.session.scalars(sa.select(Response).order_by(Response.id)))
        for response, seconds in zip(responses, (600, 60, 120)):
            dispatch = db.session.get(Dispatch, response.dispatch_id)
            response.created_at = dispatch.sent_at + timedelta(seconds=seconds)
        db.session.commit()

    in_app(app, backdate)
    counts = _funnel(app, survey["id"], group_by="channel")
    assert counts["median_seconds_to_answer"] == 120.0
    assert counts["groups"][0]["channel"] == "web" and counts["groups"][0]["median_seconds_to_answer"] == 120.0
    assert (counts["sent"], counts["answered"], counts["response_rate"]) == (4, 3, 75.0)


def test_refusals(api, app):
    survey = create_survey(api, locales=["en"])
    now = utcnow()
    for kwargs in ({"group_by": "touchpoint"}, {"since": now, "until": now}):
        with pytest.raises(Invalid):
            _funnel(app, survey["id"], **kwargs)
