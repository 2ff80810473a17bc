"""Contacts in the console: search by name, email, phone or external id; one customer's page; a Telegram link."""
from __future__ import annotations

import pytest

from tests.api.helpers import create_survey, create_trigger, survey_answer
from tests.console.staff import csrf, signed_in


@pytest.fixture
def people(api):
    for external_id, body in (("cust-ada", {"name": "Ada Lovelace", "email": "ada@example.com",
                                            "phone": "+905321234567", "attributes": {"tier": "gold"}}),
                              ("cust-bob", {"name": "Bob Marley", "email": "bob@example.org"})):
        assert api.put(f"/contacts/{external_id}", json=body).status_code in (200, 201)


@pytest.mark.parametrize("query, found", [("ada", ["Ada Lovelace"]), ("EXAMPLE.ORG", ["Bob Marley"]),
                                          ("+90 532 123", ["Ada Lovelace"]), ("cust-", ["Bob Marley", "Ada Lovelace"]),
                                          ("nobody", []), ("%", [])])
def test_search_finds_by_name_email_phone_digits_and_external_id(app, people, query, found):
    page = signed_in(app, "agent").get("/console/contacts", query_string={"q": query}).get_data(as_text=True)
    names = [name for name in ("Bob Marley", "Ada Lovelace") if f">{name}</a>" in page]
    assert sorted(names) == sorted(found), page
    if not found:
        assert "No contact matches." in page


def test_a_customers_page_shows_consent_and_everything_that_happened(api, client, app, people):
    survey = create_survey(api, kind="nps", locales=["en"])
    create_trigger(api, survey["id"], channels=["web"])
    survey_answer(api, client, 2, external_id="cust-ada")
    page = signed_in(app, "designer").get("/console/contacts/cust-ada").get_data(as_text=True)
    assert "<h1>Ada Lovelace</h1>" in page and "gold" in page and "+905321234567" in page
    assert "may be asked" in page
    assert "Survey sent" in page and "Answer" in page and "Alert #" in page


def test_an_unknown_customer_is_a_404(app):
    assert signed_in(app, "agent").get("/console/contacts/nobody-here").status_code == 404


def test_a_telegram_link_needs_a_configured_bot_and_a_token(app, people):
    agent = signed_in(app, "agent")
    path = "/console/contacts/cust-ada"
    assert agent.post(f"{path}/telegram-link").status_code == 400
    refused = agent.post(f"{path}/telegram-link", data={"csrf_token": csrf(agent, path)})
    assert refused.status_code == 409 and "SURVEYD_TELEGRAM_BOT_USERNAME" in refused.get_data(as_text=True)
