"""Opening a survey page: the first GET of an open dispatch sets opened_at once; HEAD, bad tokens and answered or
closed dispatches record nothing."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Dispatch, utcnow
from tests.web.pages import Link, new_link, stored


@pytest.fixture
def inside(app):
    """Run a function in a fresh app context (its own session), as each request has."""

    def run(fn, *args):
        with app.app_context():
            try:
                return fn(*args)
            finally:
                db.session.remove()

    return run


def opened_at(dispatch_id: int):
    db.session.expire_all()
    return db.session.get(Dispatch, dispatch_id).opened_at


def test_the_first_get_marks_opened_once(client, inside):
    link: Link = inside(new_link)
    assert inside(opened_at, link.dispatch_id) is None
    before = inside(stored, link.dispatch_id)
    assert client.get(link.path + "?score=9").status_code == 200
    first = inside(opened_at, link.dispatch_id)
    assert first is not None
    assert client.get(link.path).status_code == 200
    assert inside(opened_at, link.dispatch_id) == first  # never overwritten
    assert inside(stored, link.dispatch_id) == before  # no answer, no status change, no alert


def test_head_records_nothing(client, inside):
    link: Link = inside(new_link)
    assert client.head(link.path).status_code == 200
    assert client.head(link.path + "?score=3").status_code == 200
    assert inside(opened_at, link.dispatch_id) is None


def test_a_bad_token_records_nothing(client, inside):
    link: Link = inside(new_link)
    forged = link.path[:-2] + ("AA" if not link.path.endswith("AA") else "BB")
    assert client.get(forged).status_code == 404
    assert client.get("/s/ünïcode").status_code == 404
    assert inside(lambda: db.session.scalar(sa.select(sa.func.count()).where(Dispatch.opened_at.is_not(None)))) == 0


def test_an_answered_dispatch_keeps_its_opened_at(client, inside):
    answered_first: Link = inside(new_link)
    assert client.post(answered_first.path, data={"score": "10"}).status_code == 200
    client.get(answered_first.path)
    assert inside(opened_at, answered_first.dispatch_id) is None  # answered before its page was shown: not opened

    opened_then_answered: Link = inside(new_link)
    client.get(opened_then_answered.path)
    first = inside(opened_at, opened_then_answered.dispatch_id)
    assert client.post(opened_then_answered.path, data={"score": "10"}).status_code == 200
    client.get(opened_then_answered.path)
    assert inside(opened_at, opened_then_answered.dispatch_id) == first


def test_an_expired_dispatch_is_not_opened(client, inside):
    link: Link = inside(new_link)

    def expire():
        db.session.get(Dispatch, link.dispatch_id).expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()

    inside(expire)
    assert client.get(link.path).status_code == 410
    assert inside(opened_at, link.dispatch_id) is None
