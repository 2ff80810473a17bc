"""Score rollups never change a figure: the database's triggers mark every change, and a figure read through the
rollups (whole unmarked days) and the responses (the rest) equals the same figure read from the responses alone,
for random answers, random changes after a partial refresh, random periods, every rolled-up group and zone."""
from __future__ import annotations

import dataclasses
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveyd.extensions import db
from surveyd.models import (
    Answer,
    Contact,
    Dispatch,
    DispatchStatusChange,
    Event,
    Response,
    RollupMark,
    RollupState,
    ScoreRollup,
    Survey,
)
from surveyd.services.insight import journey, rollups
from surveyd.services.insight.metrics import survey_metrics
from tests.services.insight.test_metrics_reference import (  # noqa: F401
    START,
    ZONES,
    _store,
    rows,
    world,
)

GROUPS = (None, "channel", "locale", "touchpoint", "stage", "agent", "attribute.agent", "sentiment",
          "contact.segment")
STAGES = ("awareness", "consideration", "purchase", "post_purchase", "support")
CHANGES = st.lists(st.tuples(st.sampled_from(("score", "delete", "mood", "agent", "unmood", "segment")),
                             st.integers(0, 10_000), st.integers(0, 10)), max_size=6)
MOMENTS = st.one_of(st.none(), st.integers(0, 60 * 24 * 70).map(lambda m: START + timedelta(minutes=m)))


@contextmanager
def zone(app, name: str):
    """The app's default time zone set to `name` for the block."""
    before = app.config["SURVEYD"]
    app.config["SURVEYD"] = dataclasses.replace(before, default_timezone=name)
    try:
        yield
    finally:
        app.config["SURVEYD"] = before


@contextmanager
def responses_only(monkeypatch):
    """Every figure read from the responses, as before rollups existed."""
    with monkeypatch.context() as patch:
        patch.setattr(rollups, "tallies", lambda *args, **kwargs: None)
        yield


def _marks() -> set[tuple[int, date]]:
    return {tuple(row) for row in db.session.execute(sa.select(RollupMark.survey_id, RollupMark.day))}


def _refresh_all() -> None:
    while rollups.refresh(batches=50):
        pass
    assert not _marks()


def _change(changes: list[tuple[str, int, int]]) -> None:
    """Random edits after the rollups were built: a new score, a deleted answer, a comment's mood set or
    cleared, an event's agent renamed."""
    for what, pick, value in changes:
        ids = db.session.scalars(sa.select(Response.id).order_by(Response.id)).all()
        if not ids:
            return
        response = db.session.get(Response, ids[pick % len(ids)])
        if what == "score":
            low, high = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}[
                db.session.get(Survey, response.survey_id).kind.value]
            response.score = low + value % (high - low + 1)
        elif what == "delete":
            db.session.delete(response)
        elif what in ("mood", "unmood"):
            answer = response.answer_to("q0")
            if answer is None:
                db.session.add(Answer(response_id=response.id, question_id="q0", value_text="later",
                                      sentiment="negative", sentiment_score=-0.5))
            else:
                answer.sentiment = None if what == "unmood" else ("negative", "neutral", "positive")[value % 3]
        elif what == "segment":
            db.session.get(Contact, response.contact_id).attributes = {"segment": ("gold", "new", 7)[value % 3]}
        else:
            event = db.session.get(Event, response.event_id)
            event.attributes = {"agent": f"agent-{value}"}
        db.session.commit()


def _figures(survey: Survey, since, until, elsewhere: str) -> list:
    out = [survey_metrics(survey, since, until, None, group_by) for group_by in GROUPS]
    out += [survey_metrics(survey, since, until, interval, None, tz=tz)
            for interval in ("day", "week", "month") for tz in (None, elsewhere)]
    out.append(journey.journey(since, until, STAGES))
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(("nps", "csat", "ces")), answers=rows("nps"), changes=CHANGES,
       refreshed=st.integers(0, 2), since=MOMENTS, until=MOMENTS, where=st.sampled_from(ZONES),
       elsewhere=st.sampled_from(ZONES))
def test_rollups_give_the_figures_the_responses_give(app, world, monkeypatch, kind, answers, changes, refreshed,
                                                     since, until, where, elsewhere):
    if since and until and since >= until:
        since, until = until, since + timedelta(hours=1)
    survey_id, version_id = world[kind]
    low, high = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}[kind]
    answers = [{**row, "score": low + row["score"] % (high - low + 1)} for row in answers]
    _store(app, kind, survey_id, version_id, answers)
    served = []
    real = rollups.tallies

    def watched(*args, **kwargs):
        result = real(*args, **kwargs)
        served.append(result is not None)
        return result

    with zone(app, where), app.app_context():
        db.session.execute(sa.delete(RollupState))
        db.session.execute(sa.delete(ScoreRollup))
        db.session.commit()
        _refresh_all()
        _change(changes)
        rollups.refresh(batches=refreshed)  # some marks rebuilt, some left: both parts of a read
        survey = db.session.get(Survey, survey_id)
        with monkeypatch.context() as patch:
            patch.setattr(rollups, "tallies", watched)
            through_rollups = _figures(survey, since, until, elsewhere)
        with responses_only(monkeypatch):
            from_responses = _figures(survey, since, until, elsewhere)
        db.session.remove()
    assert through_rollups == from_responses
    whole_day = since is None or until is None or until - since >= timedelta(days=2)
    if whole_day:
        assert all(served), "the rollups served every figure of a period with whole days"


def test_triggers_mark_each_change_of_a_scored_answer_or_an_invitation(app, world):
    survey_id, version_id = world["nps"]
    row = {"score": 9, "minutes": 60 * 25, "channel": "web", "locale": "en", "touchpoint": "order.delivered",
           "agent": "ada", "moods": []}
    _store(app, "nps", survey_id, version_id, [row, {**row, "score": None}])
    answered = (survey_id, (START + timedelta(minutes=60 * 25)).date())  # the score rollups' day
    with app.app_context():
        invited = (survey_id, db.session.scalar(sa.select(sa.func.min(Dispatch.created_at))).date())  # the funnel's
        assert answered != invited
        assert _marks() == {answered, invited}, "the answers' day for the scores, the invitations' for the funnel"
        _clear()
        scored, unscored = db.session.scalars(sa.select(Response).order_by(Response.id)).all()
        unscored.updated_at = unscored.updated_at + timedelta(seconds=1)
        db.session.commit()
        assert not _marks(), "a change that moves no figure marks nothing"
        unscored.completed = not unscored.completed
        db.session.commit()
        assert _marks() == {invited}, "(un)completing an unscored answer moves only the funnel"
        _clear()
        scored.score = 3
        db.session.commit()
        assert _marks() == {answered, invited}
        dispatch = db.session.get(Dispatch, scored.dispatch_id)
        answer = Answer(response_id=scored.id, question_id="why", value_text="late", sentiment="pending")
        steps = [("a comment not yet read", lambda: db.session.add(answer), set()),
                 ("its sentiment read", lambda: setattr(answer, "sentiment", "negative"), {answered}),
                 ("its event's agent changed", lambda: setattr(db.session.get(Event, scored.event_id),
                                                               "attributes", {"agent": "bora"}), {answered}),
                 ("its contact's segment changed", lambda: setattr(db.session.get(Contact, scored.contact_id),
                                                                   "attributes", {"segment": "gold"}), {answered}),
                 ("its invitation opened", lambda: setattr(dispatch, "opened_at", dispatch.created_at), {invited}),
                 ("its delivery reported", lambda: db.session.add(DispatchStatusChange(
                     dispatch_id=dispatch.id, status="delivered", at=dispatch.created_at)), {invited}),
                 ("the comment erased", lambda: db.session.delete(answer), {answered}),
                 ("the answer erased", lambda: db.session.delete(scored), {answered, invited})]
        for what, change, expected in steps:
            _clear()
            change()
            db.session.commit()
            assert _marks() == expected, what
        db.session.remove()


def _clear() -> None:
    db.session.execute(sa.delete(RollupMark))
    db.session.commit()


def test_a_zone_change_rebuilds_every_day_in_the_new_zone(app, world, monkeypatch):
    survey_id, version_id = world["csat"]
    base = {"channel": "sms", "locale": "tr", "touchpoint": "ticket.closed", "agent": None, "moods": []}
    # 22:30 UTC is the next day in Tehran (+03:30) and the same day in UTC.
    _store(app, "csat", survey_id, version_id, [{**base, "score": 5, "minutes": 60 * 22 + 30},
                                                {**base, "score": 1, "minutes": 60 * 12}])
    with app.app_context():
        with zone(app, "UTC"):
            _refresh_all()
            assert db.session.scalar(sa.select(RollupState.zone)) == "UTC"
            days = set(db.session.scalars(sa.select(ScoreRollup.day).where(ScoreRollup.dimension == "all")))
            assert days == {START.date()}
        with zone(app, "Asia/Tehran"):
            survey = db.session.get(Survey, survey_id)
            assert rollups.tallies([survey_id], "all", None, None, True) is None, "built for another zone"
            _refresh_all()
            assert db.session.scalar(sa.select(RollupState.zone)) == "Asia/Tehran"
            days = set(db.session.scalars(sa.select(ScoreRollup.day).where(ScoreRollup.dimension == "all")))
            assert days == {START.date(), START.date() + timedelta(days=1)}
            series = survey_metrics(survey, None, None, "day", None, tz="Asia/Tehran")["series"]
            assert [(point["period_start"], point["n"]) for point in series] == [
                (START.date().isoformat(), 1), ((START.date() + timedelta(days=1)).isoformat(), 1)]
        db.session.remove()


def test_rollups_step_aside_when_they_cannot_serve(app, world):
    survey_id, version_id = world["nps"]
    base = {"channel": "web", "locale": "en", "touchpoint": None, "agent": None, "moods": []}
    _store(app, "nps", survey_id, version_id, [{**base, "score": n % 11, "minutes": n * 24 * 60} for n in range(70)])
    with app.app_context():
        db.session.execute(sa.update(RollupState).values(zone=None))
        db.session.commit()
        assert rollups.tallies([survey_id], "all", None, None, False) is None, "never built"
        _refresh_all()
        whole = rollups.tallies([survey_id], "all", None, None, False)
        assert sum(whole[(survey_id, None, None)].values()) == 70
        narrow = rollups.tallies([survey_id], "all", START + timedelta(hours=1), START + timedelta(hours=20), False)
        assert narrow is None, "a period without one whole day reads the responses"
        for response in db.session.scalars(sa.select(Response).where(Response.created_at >= START + timedelta(days=5))):
            response.score = (response.score + 1) % 11  # 65 days marked: more than is worth the rollups
        db.session.commit()
        assert rollups.tallies([survey_id], "all", None, None, False) is None
        early = rollups.tallies([survey_id], "all", START, START + timedelta(days=3), False)
        assert early is not None, "marks far from a period do not keep it off the rollups"
        assert sum(early[(survey_id, None, None)].values()) == 3
        survey = db.session.get(Survey, survey_id)
        assert survey_metrics(survey, None, None, None, None)["overall"]["distribution"] == {
            str(score): count for score, count in
            sorted(db.session.execute(sa.select(Response.score, sa.func.count()).group_by(Response.score)).all())}
        db.session.remove()


def _refresh_with(monkeypatch, meanwhile) -> int | None:
    """One refresh, with `meanwhile(other)` run on a connection of another process right after the refresh has
    read its batch (its snapshot), before it stores anything."""
    read_batch = rollups._read_batch

    def reading(zone):
        batch = read_batch(zone)
        meanwhile()
        return batch

    monkeypatch.setattr(rollups, "_read_batch", reading)
    return rollups.refresh(batches=1)


def _marked_again(app) -> None:
    """Rollups built, then every answer's score changed: marks for a refresh to clear."""
    with app.app_context():
        _refresh_all()
        db.session.execute(sa.update(Response).values(score=(Response.score + 1) % 11))
        db.session.commit()
        assert _marks()
        db.session.remove()


def test_refresh_leaves_a_mark_committed_meanwhile(app, world, database_url, monkeypatch):
    """The refresh counts one snapshot: an answer committed after it began keeps its mark, and is read from the
    responses until the next refresh."""
    survey_id, version_id = world["nps"]
    base = {"channel": "web", "locale": "en", "touchpoint": None, "agent": None, "moods": [], "minutes": 30}
    _store(app, "nps", survey_id, version_id, [{**base, "score": 9}, {**base, "score": 0}])
    with app.app_context():
        _refresh_all()
        detractor_id = db.session.scalars(sa.select(Response.id).where(Response.score == 0)).one()
        db.session.execute(sa.update(Response).where(Response.id == detractor_id).values(score=1))
        db.session.commit()  # a mark for the refresh below to clear
        db.session.remove()
    writer = sa.create_engine(database_url)

    def answer_changes():
        with writer.begin() as other:  # commits after the refresh's snapshot
            other.execute(sa.update(Response.__table__).where(Response.__table__.c.id == detractor_id)
                          .values(score=10))

    with app.app_context():
        assert _refresh_with(monkeypatch, answer_changes) > 0  # the marks it read, not the new one
        assert (survey_id, START.date()) in _marks(), "the change committed meanwhile is still marked"
        survey = db.session.get(Survey, survey_id)
        shown = survey_metrics(survey, None, None, None, None)["overall"]["distribution"]
        assert (shown["1"], shown["9"], shown["10"]) == (0, 1, 1), "and it is read from the responses"
        db.session.remove()
        monkeypatch.undo()  # the next refreshes change nothing meanwhile
        _refresh_all()
        shown = survey_metrics(db.session.get(Survey, survey_id), None, None, None, None)["overall"]["distribution"]
        assert (shown["1"], shown["9"], shown["10"]) == (0, 1, 1)
        db.session.remove()
    writer.dispose()


def test_on_sqlite_the_refresh_counts_without_holding_the_writer(app, world, database_url, monkeypatch):
    """Counting a big day takes a while; on SQLite ingest must not wait behind it. While the refresh reads, another
    process can take the database's writer at once (a 0.1 s busy timeout would fail if it could not)."""
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL has no single writer: its refresh is one REPEATABLE READ transaction")
    survey_id, version_id = world["nps"]
    base = {"channel": "web", "locale": "en", "touchpoint": None, "agent": None, "moods": [], "minutes": 30}
    _store(app, "nps", survey_id, version_id, [{**base, "score": 9}])
    _marked_again(app)
    impatient = sa.create_engine(database_url, connect_args={"timeout": 0.1})
    took_the_writer = []

    def write_meanwhile():
        with impatient.connect() as other:
            other.exec_driver_sql("BEGIN IMMEDIATE")
            took_the_writer.append(True)
            other.rollback()

    with app.app_context():
        assert _refresh_with(monkeypatch, write_meanwhile) > 0
        assert took_the_writer == [True]
        assert not _marks()
        db.session.remove()
    impatient.dispose()


def test_a_batch_another_refresh_cleared_first_is_dropped(app, world, database_url, monkeypatch):
    """Two relays may count the same marks; the one whose marks are gone when it stores (the other stored first,
    perhaps from a newer snapshot) stores nothing."""
    survey_id, version_id = world["nps"]
    base = {"channel": "web", "locale": "en", "touchpoint": None, "agent": None, "moods": [], "minutes": 30}
    _store(app, "nps", survey_id, version_id, [{**base, "score": 9}, {**base, "score": 3}])
    _marked_again(app)
    other = sa.create_engine(database_url)

    def cleared_elsewhere():
        with other.begin() as conn:
            conn.execute(sa.delete(RollupMark.__table__))
            conn.execute(sa.delete(ScoreRollup.__table__))

    with app.app_context():
        assert _refresh_with(monkeypatch, cleared_elsewhere) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ScoreRollup)) == 0, "nothing stored"
        assert not _marks()
        db.session.remove()
    other.dispose()
