"""Email unsubscribe at /u/<token>: a GET only asks, a POST (the page's button or an RFC 8058 one-click
POST from a mail client) opts out at once; forged tokens change nothing."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Channel, Consent, Contact
from surveyd.services import tokens
from tests import factories
from tests.conftest import SECRET
from tests.web.pages import inside, parse  # noqa: F401 (inside is a fixture)

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def new_contact(external_id: str = "mail-1", **fields) -> int:
    return factories.contact(external_id, **fields).id


def token_for(contact_id: int, channel: str = "email") -> str:
    return tokens.sign_unsubscribe(contact_id, channel, SECRET)


def consents(contact_id: int) -> list[tuple[str, str, str]]:
    rows = db.session.scalars(sa.select(Consent).where(Consent.contact_id == contact_id).order_by(Consent.id))
    return [(c.channel.value, c.state.value, c.source) for c in rows]


@pytest.fixture
def contact_id(inside) -> int:
    return inside(new_contact)


def test_a_get_asks_and_records_nothing(client, inside, contact_id):
    for _ in range(3):  # link scanners open it, sometimes more than once
        response = client.get(f"/u/{token_for(contact_id)}")
        assert response.status_code == 200
    page = parse(response.get_data(as_text=True))
    assert page.texts["h1"] == ["Unsubscribe from survey emails"]
    assert "Stop sending survey emails to \u2068ada@example.com\u2069?" in page.texts["p"]
    (form,) = page.all("form")
    assert form.attrs["method"] == "post" and "action" not in form.attrs  # posts back to this same URL
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Referrer-Policy"] == "no-referrer"
    assert inside(consents, contact_id) == []


def test_the_one_click_post_opts_out_of_email_at_once_and_a_repeat_changes_nothing(client, inside, contact_id):
    response = client.post(f"/u/{token_for(contact_id)}", data=ONE_CLICK)
    assert response.status_code == 200
    assert parse(response.get_data(as_text=True)).texts["h1"] == ["You are unsubscribed"]
    assert inside(consents, contact_id) == [("email", "opted_out", "list_unsubscribe")]
    changed = inside(lambda: db.session.scalar(sa.select(Consent.changed_at)))
    assert client.post(f"/u/{token_for(contact_id)}", data=ONE_CLICK).status_code == 200
    assert client.post(f"/u/{token_for(contact_id)}").status_code == 200
    assert inside(consents, contact_id) == [("email", "opted_out", "list_unsubscribe")]
    assert inside(lambda: db.session.scalar(sa.select(Consent.changed_at))) == changed


def test_the_pages_button_opts_out_too(client, inside, contact_id):
    assert client.post(f"/u/{token_for(contact_id)}").status_code == 200
    assert inside(consents, contact_id) == [("email", "opted_out", "unsubscribe_page")]


def test_only_email_is_affected(client, inside, contact_id):
    client.post(f"/u/{token_for(contact_id)}", data=ONE_CLICK)

    def reachable():
        contact = db.session.get(Contact, contact_id)
        return {channel: contact.opted_out(channel) for channel in (Channel.EMAIL, Channel.SMS, Channel.TELEGRAM)}

    assert inside(reachable) == {Channel.EMAIL: True, Channel.SMS: False, Channel.TELEGRAM: False}


@pytest.mark.parametrize("mangle", [
    lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # a forged MAC
    lambda token: "e999999" + token[token.index("."):],  # another contact's id with this MAC
    lambda token: token.split(".")[0],  # no MAC at all
    lambda token: "x" * 300,
])
def test_a_forged_token_is_404_and_changes_nothing(client, inside, contact_id, mangle):
    bad = mangle(token_for(contact_id))
    assert client.get(f"/u/{bad}").status_code == 404
    response = client.post(f"/u/{bad}", data=ONE_CLICK)
    assert response.status_code == 404
    assert parse(response.get_data(as_text=True)).texts["h1"] == ["Link not valid"]
    assert inside(consents, contact_id) == []


def test_a_token_for_another_channel_or_another_key_does_not_unsubscribe_email(client, inside, contact_id):
    assert client.post(f"/u/{token_for(contact_id, 'sms')}", data=ONE_CLICK).status_code == 404
    other = tokens.sign_unsubscribe(contact_id, "email", "another-secret-key-0123456789")
    assert client.post(f"/u/{other}", data=ONE_CLICK).status_code == 404
    assert inside(consents, contact_id) == []


def test_an_erased_contact_is_404(client, inside, contact_id):
    token = token_for(contact_id)

    def erase():
        db.session.delete(db.session.get(Contact, contact_id))
        db.session.commit()

    inside(erase)
    assert client.post(f"/u/{token}", data=ONE_CLICK).status_code == 404


@pytest.mark.parametrize(("locale", "direction", "button"), [
    ("tr", "ltr", "Evet, abonelikten çık"), ("fa", "rtl", "بله، لغو اشتراک")])
def test_the_page_speaks_the_contacts_language(client, inside, locale, direction, button):
    contact_id = inside(new_contact, f"mail-{locale}", locale=locale)
    page = parse(client.get(f"/u/{token_for(contact_id)}").get_data(as_text=True))
    assert (page.html_attrs["lang"], page.html_attrs["dir"]) == (locale, direction)
    assert page.texts["button"] == [button]


def test_tokens_are_compact_and_never_lapse():
    token = tokens.sign_unsubscribe(123456, "email", SECRET)
    assert token.startswith("e123456.") and len(token) < 40
    assert tokens.verify_unsubscribe(token, "email", SECRET) == 123456
    assert tokens.verify_unsubscribe(token, "sms", SECRET) is None
    assert tokens.verify_unsubscribe("e12.", "email", SECRET) is None
    assert tokens.verify_unsubscribe("", "email", SECRET) is None
