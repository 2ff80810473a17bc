"""The configuration cache: what events read on every request comes from memory, and is never stale.

"Another process" is played by a connection of its own that the app's session knows nothing of: a change written
there, as by another web process, a worker, the CLI or psql, must reach the next request here.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import ApiKey, Event
from surveyd.services import config_cache
from surveyd.services.access.api_keys import create_api_key
from tests import factories, sql_trace
from tests.api.helpers import create_survey, create_trigger, error_of, ok, post_event


@pytest.fixture
def other_process(app):
    """A connection of another process, committing on its own."""
    with app.app_context():
        engine = sa.create_engine(app.config["SURVEYD"].database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def statements(app):
    """The SQL this process runs, as the database receives it."""
    with app.app_context():
        engine = db.engine
    with sql_trace.statements(engine) as seen:
        yield seen


def _generation(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT n FROM config_generation WHERE id = 1")).scalar_one()


def test_every_change_to_a_cached_table_moves_the_generation_in_its_own_transaction(app, other_process):
    tables = {
        "api_keys": "UPDATE api_keys SET name = name",
        "touchpoints": "UPDATE touchpoints SET name = name",
        "triggers": "UPDATE triggers SET enabled = enabled",
        "surveys": "UPDATE surveys SET name = name",
        "survey_versions": "UPDATE survey_versions SET number = number",
    }
    with app.app_context():
        survey = factories.survey()
        factories.trigger(survey.id)
        create_api_key("other")
        db.session.remove()
    for table, statement in tables.items():
        before = _generation(other_process)
        with other_process.connect() as conn:
            conn.execute(sa.text(statement))
            conn.rollback()
        assert _generation(other_process) == before, f"a rolled-back change to {table} moved it"
        with other_process.begin() as conn:
            conn.execute(sa.text(statement))
        assert _generation(other_process) > before, table


def test_a_key_revoked_by_another_process_is_refused_by_the_next_request(api, other_process, statements):
    ok(api.get("/surveys"), 200)
    statements.clear()
    ok(api.get("/surveys"), 200)
    assert not [s for s in statements if "api_keys" in s]  # the key came from memory
    with other_process.begin() as conn:
        conn.execute(sa.update(ApiKey.__table__).values(revoked_at=sa.func.current_timestamp()))
    assert error_of(api.get("/surveys"), 401)["message"] == "The API key is not valid."


def test_a_trigger_added_or_disabled_by_another_process_plans_the_next_event(app, api, other_process, statements):
    survey = create_survey(api)
    trigger = create_trigger(api, survey["id"])
    assert len(ok(post_event(api, external_id="c-1"), 202)["dispatches"]) == 1
    statements.clear()
    assert len(ok(post_event(api, external_id="c-2"), 202)["dispatches"]) == 1
    assert not [s for s in statements if "FROM triggers" in s or "FROM touchpoints" in s]  # both from memory
    with other_process.begin() as conn:
        conn.execute(sa.text("UPDATE triggers SET enabled = :no WHERE id = :id"), {"no": False, "id": trigger["id"]})
    assert ok(post_event(api, external_id="c-3"), 202)["dispatches"] == []
    with other_process.begin() as conn:
        conn.execute(sa.text("UPDATE triggers SET enabled = :yes, channels = :channels WHERE id = :id"),
                     {"yes": True, "channels": '["sms"]', "id": trigger["id"]})
    planned = ok(post_event(api, external_id="c-4"), 202)["dispatches"]
    assert [(d["channel"], d["status"]) for d in planned] == [("sms", "suppressed")]  # no phone: the new channel


def test_a_new_survey_version_is_what_the_next_event_asks(app, api, other_process):
    survey = create_survey(api)
    create_trigger(api, survey["id"])
    first = ok(post_event(api, external_id="c-1"), 202)["dispatches"][0]
    ok(api.patch(f"/surveys/{survey['id']}", json={"locales": ["en", "tr"]}), 200)
    second = ok(post_event(api, external_id="c-2"), 202)["dispatches"][0]
    with app.app_context():
        versions = dict(db.session.execute(sa.text("SELECT id, survey_version_id FROM dispatches")).all())
        db.session.remove()
    assert versions[second["id"]] != versions[first["id"]]


def test_a_touchpoint_made_in_a_transaction_that_rolls_back_is_not_remembered(app):
    from surveyd.services.design.touchpoints import touchpoint_id

    with app.app_context():
        made = touchpoint_id("visit.store")
        assert db.session.execute(sa.text("SELECT count(*) FROM touchpoints")).scalar_one() == 1
        db.session.rollback()
        again = touchpoint_id("visit.store")  # made anew: the id of the rolled-back row was not kept
        db.session.commit()
        assert db.session.execute(sa.text("SELECT id FROM touchpoints")).scalar_one() == again
        assert isinstance(made, int)
        db.session.remove()


def test_refused_events_leave_the_cache_and_the_database_as_they_were(app, api):
    survey = create_survey(api)
    create_trigger(api, survey["id"])
    ok(post_event(api, external_id="c-1"), 202)
    error_of(api.post("/events", data="{not json", content_type="application/json"), 400)
    error_of(api.post("/events", json={"touchpoint": "order.delivered"}), 422)
    assert error_of(api.client.post("/api/v1/events", json={}, headers={"Authorization": "Bearer sk_forged"}),
                    401)["message"] == "The API key is not valid."
    ok(post_event(api, external_id="c-2"), 202)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == 2
        db.session.remove()


def test_without_the_generation_row_nothing_is_kept_and_every_request_still_works(app, api, other_process,
                                                                                  statements):
    with other_process.begin() as conn:
        conn.execute(sa.text("DELETE FROM config_generation"))
    try:
        config_cache.forget()
        ok(api.get("/surveys"), 200)
        statements.clear()
        ok(api.get("/surveys"), 200)
        assert [s for s in statements if "api_keys" in s]  # looked up again: nothing is cached without a counter
    finally:
        with other_process.begin() as conn:
            conn.execute(sa.text("INSERT INTO config_generation (id, n) VALUES (1, 0)"))
        config_cache.forget()
