"""The funnel read through the rollups (whole unmarked days of invitations) and the dispatches (the rest) equals
the funnel counted from the dispatches alone: random families, random changes after a partial refresh (an
opening, a delivery report, an answer given, changed or erased, a status moved on), random periods and zones."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveyd.extensions import db
from surveyd.models import (
    Dispatch,
    DispatchStatusChange,
    Response,
    RollupMark,
    RollupState,
    Survey,
)
from surveyd.services.insight import funnel, rollups
from tests.services.insight.test_funnel_reference import (
    FAMILIES,
    START,
    _store,
    one_survey,
)
from tests.services.insight.test_metrics_reference import ZONES
from tests.services.insight.test_rollups import zone

CHANGES = st.lists(st.tuples(st.sampled_from(("open", "report", "answer", "rescore", "erase", "fail")),
                             st.integers(0, 10_000), st.integers(0, 10)), max_size=5)
MOMENTS = st.one_of(st.none(), st.integers(0, 60 * 24 * 22).map(lambda m: START + timedelta(minutes=m)))


def _change(changes) -> None:
    for what, pick, value in changes:
        ids = db.session.scalars(sa.select(Dispatch.id).order_by(Dispatch.id)).all()
        if not ids:
            return
        dispatch = db.session.get(Dispatch, ids[pick % len(ids)])
        response = db.session.scalars(sa.select(Response).where(Response.dispatch_id == dispatch.id)).first()
        if what == "open":
            dispatch.opened_at = dispatch.created_at + timedelta(minutes=value)
        elif what == "report":
            db.session.add(DispatchStatusChange(dispatch_id=dispatch.id, status="delivered",
                                                at=dispatch.created_at))
        elif what == "answer" and response is None:
            db.session.add(Response(dispatch_id=dispatch.id, survey_id=dispatch.survey_id,
                                    survey_version_id=dispatch.survey_version_id, contact_id=dispatch.contact_id,
                                    channel=dispatch.channel, locale="en", score=value, completed=value % 2 == 0,
                                    created_at=dispatch.created_at + timedelta(minutes=value * 7)))
        elif what == "rescore" and response is not None:
            response.score, response.completed = (None if value == 10 else value), not response.completed
        elif what == "erase" and response is not None:
            db.session.delete(response)
        elif what == "fail" and dispatch.status.value != "suppressed":
            dispatch.status, dispatch.reason = "suppressed", "opted_out"
        db.session.commit()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(families=FAMILIES, changes=CHANGES, refreshed=st.integers(0, 2), since=MOMENTS, until=MOMENTS,
       where=st.sampled_from(ZONES), grouped=st.booleans())
def test_the_funnel_through_rollups_is_the_funnel_from_dispatches(app, monkeypatch, families, changes, refreshed,
                                                                   since, until, where, grouped):
    if since and until and since >= until:
        since, until = until, since + timedelta(hours=1)
    survey_id, version_id = one_survey(app)
    _store(app, survey_id, version_id, families)
    group_by = "channel" if grouped else None
    with zone(app, where), app.app_context():
        db.session.execute(sa.delete(RollupState))
        db.session.commit()
        while rollups.refresh(batches=50):
            pass
        assert not db.session.scalar(sa.select(sa.func.count()).select_from(RollupMark))
        _change(changes)
        rollups.refresh(batches=refreshed)
        survey = db.session.get(Survey, survey_id)
        served = rollups.split([survey_id], since, until) is not None
        through_rollups = funnel.funnel(survey, since, until, group_by)
        with monkeypatch.context() as patch:
            patch.setattr(rollups, "split", lambda *args, **kwargs: None)
            from_dispatches = funnel.funnel(survey, since, until, group_by)
        db.session.remove()
    assert through_rollups == from_dispatches
    if since is None or until is None or until - since >= timedelta(days=2):
        assert served or len(changes) > 0, "a period with whole days reads the rollups when little changed"
