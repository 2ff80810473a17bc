"""The funnel the database counts equals a slow reference walked family by family in Python: random invitations
(sent or suppressed, opened, delivery reported, answered, completed), some with a reminder that is opened or
answered instead, in random periods; the counts per channel, the suppression reasons and the medians must match."""
from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveyd.extensions import db
from surveyd.models import Contact, Dispatch, DispatchStatusChange, Response, Survey
from surveyd.services.design import surveys
from surveyd.services.insight.funnel import funnel

START = datetime(2026, 5, 1, tzinfo=timezone.utc)
CHANNELS = ("web", "sms", "email", "telegram")


def _answers():
    return st.one_of(st.none(), st.fixed_dictionaries({
        "score": st.one_of(st.none(), st.integers(0, 10)),
        "completed": st.booleans(),
        "after_ms": st.integers(-5_000, 3 * 86_400_000),  # an answer may be stamped before its sending
    }))


def _copy():
    return {"opened": st.booleans(), "reported": st.booleans(), "response": _answers()}


FAMILIES = st.lists(st.fixed_dictionaries({
    "channel": st.sampled_from(CHANNELS),
    "minutes": st.integers(0, 60 * 24 * 20),
    "suppressed": st.sampled_from((None, None, "quiet_hours", "opted_out", None)),
    "sent": st.booleans(),
    **_copy(),
    "reminder": st.one_of(st.none(), st.fixed_dictionaries({"after_minutes": st.integers(1, 60 * 24 * 3),
                                                            **_copy()})),
}), max_size=30)
PERIODS = st.sampled_from(((None, None), (START + timedelta(days=5), None), (None, START + timedelta(days=12)),
                           (START + timedelta(days=3), START + timedelta(days=9))))


def one_survey(app) -> tuple[int, int]:
    """The NPS survey (and the contact) every example of a test reuses: (survey id, its version id)."""
    with app.app_context():
        if not db.session.scalar(sa.select(Contact.id)):
            surveys.create_survey({"kind": "nps", "template": "nps", "locales": ["en"], "name": "f"})
            db.session.add(Contact(external_id="someone"))
            db.session.commit()
        survey = db.session.scalars(sa.select(Survey)).first()
        ids = survey.id, survey.latest.id
        db.session.remove()
    return ids


def _store(app, survey_id: int, version_id: int, families: list[dict]) -> None:
    with app.app_context():
        for table in (DispatchStatusChange, Response, Dispatch):
            db.session.execute(sa.delete(table))
        contact_id = db.session.scalar(sa.select(Contact.id))
        n = 0

        def add(family: dict, copy: dict, created: datetime, parent_id: int | None) -> int:
            nonlocal n
            n += 1
            sent = not family["suppressed"] and family["sent"]
            sent_at = created if sent else None
            dispatch = Dispatch(survey_id=survey_id, survey_version_id=version_id, contact_id=contact_id,
                                channel=family["channel"], locale="en",
                                purpose="reminder" if parent_id else "invitation",
                                status="suppressed" if family["suppressed"] else ("sent" if sent else "scheduled"),
                                reason=family["suppressed"], token_nonce=f"f-{n}", due_at=created,
                                expires_at=created + timedelta(days=14), sent_at=sent_at,
                                opened_at=created if copy["opened"] else None, parent_id=parent_id,
                                created_at=created)
            db.session.add(dispatch)
            db.session.flush()
            if copy["reported"]:
                db.session.add(DispatchStatusChange(dispatch_id=dispatch.id, status="delivered", at=created))
            if copy["response"]:
                answer = copy["response"]
                db.session.add(Response(dispatch_id=dispatch.id, survey_id=survey_id, survey_version_id=version_id,
                                        contact_id=contact_id, channel=family["channel"], locale="en",
                                        score=answer["score"], completed=answer["completed"],
                                        created_at=family["sent_at"] + timedelta(milliseconds=answer["after_ms"])))
            return dispatch.id

        for family in families:
            created = START + timedelta(minutes=family["minutes"])
            family["sent_at"] = created
            invitation = add(family, family, created, None)
            if family["reminder"]:
                add(family, family["reminder"], created + timedelta(minutes=family["reminder"]["after_minutes"]),
                    invitation)
        db.session.commit()
        db.session.remove()


def _reference(families: list[dict], since: datetime | None, until: datetime | None) -> dict:
    """Walk every invitation of the period and its reminder, as the funnel's docstring defines each stage."""
    groups: dict[str, dict] = {}
    waits: dict[str | None, list[int]] = defaultdict(list)
    for family in families:
        created = START + timedelta(minutes=family["minutes"])
        if (since and created < since) or (until and created >= until):
            continue
        copies = [family] + ([family["reminder"]] if family["reminder"] else [])
        responses = [copy["response"] for copy in copies if copy["response"]]
        sent = not family["suppressed"] and family["sent"]
        reported = any(copy["reported"] for copy in copies)
        opened = any(copy["opened"] for copy in copies)
        answered = any(response["score"] is not None for response in responses)
        group = groups.setdefault(family["channel"], {
            "planned": 0, "sent": 0, "delivered": 0, "delivery_reported": 0, "opened": 0, "answered": 0,
            "completed": 0, "suppressed": 0, "reasons": defaultdict(int)})
        group["planned"] += 1
        group["sent"] += sent
        group["delivered"] += sent and (reported or opened or answered)
        group["delivery_reported"] += sent and reported
        group["opened"] += opened
        group["answered"] += answered
        group["completed"] += any(response["completed"] for response in responses)
        if family["suppressed"]:
            group["suppressed"] += 1
            group["reasons"][family["suppressed"]] += 1
        if sent and answered:
            # The first response of the family, scored or not, against the invitation's sending.
            first = min(response["after_ms"] for response in responses)
            for key in (family["channel"], None):
                waits[key].append(max(0, first))
    return {"groups": groups, "medians": {key: round(statistics.median(values) / 1000, 1)
                                          for key, values in waits.items()}}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(families=FAMILIES, period=PERIODS)
def test_the_funnel_counts_what_a_family_by_family_reference_counts(app, families, period):
    survey_id, version_id = one_survey(app)
    _store(app, survey_id, version_id, families)
    since, until = period
    with app.app_context():
        counted = funnel(db.session.get(Survey, survey_id), since, until, "channel")
        db.session.remove()
    expected = _reference(families, since, until)

    stages = ("planned", "sent", "delivered", "delivery_reported", "opened", "answered", "completed", "suppressed")
    total = {stage: sum(group[stage] for group in expected["groups"].values()) for stage in stages}
    assert {stage: counted[stage] for stage in stages} == total
    assert counted["median_seconds_to_answer"] == expected["medians"].get(None)
    assert [group["channel"] for group in counted["groups"]] == sorted(expected["groups"])
    for group in counted["groups"]:
        reference = expected["groups"][group["channel"]]
        assert {stage: group[stage] for stage in stages} == {stage: reference[stage] for stage in stages}
        assert group["reasons"] == dict(reference["reasons"])
        assert group["median_seconds_to_answer"] == expected["medians"].get(group["channel"])
        assert group["response_rate"] == (round(reference["answered"] / reference["sent"] * 100, 2)
                                          if reference["sent"] else None)
