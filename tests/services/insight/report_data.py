"""A fixed data set for report tests: two surveys answered through the loop in September and October 2026, their
times pinned, some alerts resolved with root causes. Every figure the report shows follows from this table."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Alert, AlertStatus, Dispatch, Goal, Response
from tests.api.helpers import create_survey, create_trigger, ok, survey_answer

UTC = timezone.utc
# (survey, score, touchpoint, answered at (UTC)); the day and hour spread answers over both months.
ANSWERS = [
    ("csat", 5, "order.delivered", datetime(2026, 9, 3, 10, tzinfo=UTC)),
    ("csat", 2, "order.delivered", datetime(2026, 9, 8, 10, tzinfo=UTC)),
    ("csat", 1, "refund.paid", datetime(2026, 9, 20, 10, tzinfo=UTC)),
    ("csat", 4, "order.delivered", datetime(2026, 9, 28, 10, tzinfo=UTC)),
    ("csat", 5, "order.delivered", datetime(2026, 10, 1, 9, tzinfo=UTC)),
    ("csat", 5, "order.delivered", datetime(2026, 10, 2, 9, tzinfo=UTC)),
    ("csat", 4, "order.delivered", datetime(2026, 10, 6, 9, tzinfo=UTC)),
    ("csat", 5, "refund.paid", datetime(2026, 10, 9, 9, tzinfo=UTC)),
    ("csat", 1, "refund.paid", datetime(2026, 10, 14, 9, tzinfo=UTC)),
    ("csat", 2, "order.delivered", datetime(2026, 10, 15, 9, tzinfo=UTC)),
    ("csat", 4, "order.delivered", datetime(2026, 10, 22, 9, tzinfo=UTC)),
    ("csat", 5, "order.delivered", datetime(2026, 10, 31, 22, 30, tzinfo=UTC)),  # November 1st in Istanbul
    ("nps", 10, "ticket.closed", datetime(2026, 9, 10, 12, tzinfo=UTC)),
    ("nps", 3, "ticket.closed", datetime(2026, 9, 11, 12, tzinfo=UTC)),
    ("nps", 9, "ticket.closed", datetime(2026, 10, 5, 12, tzinfo=UTC)),
    ("nps", 10, "ticket.closed", datetime(2026, 10, 6, 12, tzinfo=UTC)),
    ("nps", 7, "ticket.closed", datetime(2026, 10, 7, 12, tzinfo=UTC)),
    ("nps", 0, "ticket.closed", datetime(2026, 10, 8, 12, tzinfo=UTC)),
]
# Alerts resolved: (index into ANSWERS, root cause, minutes after it was raised); others stay open.
RESOLVED = [(1, "delivery", 90), (2, "billing", 30), (8, "billing", 45), (9, "delivery", 600), (17, "staff", 2 * 1440)]


def build(api, client, app) -> dict[str, int]:
    """Make the data set; survey ids by kind."""
    ok(api.put("/touchpoints/order.delivered", json={"stage": "post_purchase"}), 201)
    ok(api.put("/touchpoints/refund.paid", json={"stage": "support"}), 201)
    ok(api.put("/touchpoints/ticket.closed", json={"stage": "support"}), 201)
    csat = create_survey(api, name="Delivery CSAT", kind="csat", locales=["en", "tr", "fa"])["id"]
    nps = create_survey(api, name="Support NPS", kind="nps", locales=["en", "tr", "fa"])["id"]
    for touchpoint in ("order.delivered", "refund.paid"):
        create_trigger(api, csat, touchpoint=touchpoint)
    create_trigger(api, nps, touchpoint="ticket.closed")
    for number, (_, score, touchpoint, _) in enumerate(ANSWERS):
        survey_answer(api, client, score, external_id=f"r-{number}", touchpoint=touchpoint)
    with app.app_context():
        ids = db.session.scalars(sa.select(Response.id).order_by(Response.id)).all()
        assert len(ids) == len(ANSWERS)
        for response_id, (_, _, _, at) in zip(ids, ANSWERS):
            db.session.execute(sa.update(Response).where(Response.id == response_id).values(created_at=at))
            dispatch_id = db.session.scalar(sa.select(Response.dispatch_id).where(Response.id == response_id))
            db.session.execute(sa.update(Dispatch).where(Dispatch.id == dispatch_id)
                               .values(created_at=at - timedelta(hours=2), sent_at=at - timedelta(hours=1)))
            db.session.execute(sa.update(Alert).where(Alert.response_id == response_id)
                               .values(created_at=at, due_at=at + timedelta(hours=4)))
        for index, cause, minutes in RESOLVED:
            at = ANSWERS[index][3]
            db.session.execute(sa.update(Alert).where(Alert.response_id == ids[index]).values(
                status=AlertStatus.RESOLVED, root_cause=cause, resolved_at=at + timedelta(minutes=minutes)))
        # Made straight in the table: the API refuses a goal whose deadline has passed, and this one is judged
        # as of October's end, when its deadline was still to come.
        db.session.add(Goal(name="CSAT 80 by the new year", survey_id=csat, target=80.0, starts_on=date(2026, 9, 1),
                            due_on=date(2026, 12, 31), created_at=datetime(2026, 9, 1, tzinfo=UTC)))
        db.session.commit()
        db.session.remove()
    return {"csat": csat, "nps": nps}
