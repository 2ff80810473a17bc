"""The whole loop through the console in real Chromium: a designer creates a survey and a trigger, an event fires,
the customer answers in the sandbox, the alert appears live in an agent's open inbox, and the agent claims it,
replies to the customer and resolves it."""
from __future__ import annotations

import pytest

from surveyd.services.access import users
from surveyd.services.audience import contacts
from surveyd.services.dispatch import sending
from tests.web.agent_alerts import notify_agents
from tests.web.test_browser import (  # noqa: F401  (fixtures)
    chromium,
    in_live,
    live_api,
    live_app,
    open_page,
)

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"
PHONE = "+15550001234"


def _people() -> None:
    users.create_user("designer@example.com", "designer", PASSWORD)
    users.create_user("agent@example.com", "agent", PASSWORD)
    contacts.put_contact("cust-ada", {"name": "Ada Lovelace", "phone": PHONE, "locale": "en"})


def sign_in(page, base: str, email: str, path: str) -> None:
    page.goto(base + path)
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(base + path)


def test_designer_to_customer_to_agent_through_the_console(open_page, live_app, live_api, live_server):
    in_live(live_app, _people)

    # A designer creates a CSAT survey from its template, in English only, whose alerts go to the agents.
    designer = open_page(viewport={"width": 1280, "height": 900})
    sign_in(designer, live_server, "designer@example.com", "/console/surveys/new")
    designer.fill("#name", "Delivery CSAT")
    designer.check("#template-csat")
    for code in ("tr", "fa"):
        designer.uncheck(f"#locales-{code}")
    designer.get_by_role("button", name="Create survey").click()
    designer.wait_for_selector("text=The survey is created.")
    survey_id = int(designer.url.rsplit("/", 1)[1])
    designer.get_by_role("button", name="Add a target").first.click()
    designer.fill("#notify-0-address", "agents@example.com")
    designer.fill("#alert-keywords", "broken")
    designer.locator(".save-bar").get_by_role("button", name="Save").click()
    designer.wait_for_selector("text=Saved as a new version.")
    survey = live_api.ok("GET", f"/surveys/{survey_id}")
    assert survey["alert"]["notify"] == [{"channel": "email", "to": "agents@example.com"}]

    # ... and a trigger that asks by SMS when an order is delivered.
    create_trigger_in_console(designer, live_server, survey_id)
    (trigger,) = live_api.ok("GET", "/triggers")["items"]
    assert (trigger["touchpoint"], trigger["survey_id"], trigger["channels"]) == ("order.delivered", survey_id,
                                                                                 ["sms", "email"])

    # An agent keeps the inbox open.
    agent = open_page(viewport={"width": 1280, "height": 900})
    sign_in(agent, live_server, "agent@example.com", "/console/alerts")
    loaded = agent.evaluate("() => performance.timeOrigin")
    agent.wait_for_selector("#live-status")

    # The shop's system reports the delivery; the survey goes out by SMS (to the sandbox).
    live_api.ok("POST", "/events", {"touchpoint": "order.delivered", "contact": {"external_id": "cust-ada"},
                                    "attributes": {"order_id": "A-1042"}}, status=202)
    assert in_live(live_app, sending.send_due) == 1

    # The customer opens the link in the sandbox's phone thread and answers unhappily.
    designer.goto(live_server + "/sandbox")
    link = designer.locator(f".thread[data-phone='{PHONE}'] article[data-channel=sms] .bubble a")
    with designer.expect_navigation():
        link.click()
    designer.locator("label[for=score-1]").click()
    with designer.expect_navigation():
        designer.get_by_role("button", name="Send").click()
    designer.locator("textarea").first.fill("The box arrived broken")
    with designer.expect_navigation():
        designer.get_by_role("button", name="Send").click()

    # The alert appears in the open inbox, pushed by the server: the page was never reloaded.
    (alert,) = live_api.ok("GET", "/alerts")["items"]
    row = agent.locator(f"#alert-{alert['id']}")
    row.wait_for()
    assert agent.evaluate("() => performance.timeOrigin") == loaded
    assert "Delivery CSAT" in row.inner_text()

    # The agent claims it, replies to the customer and resolves it with a root cause.
    with agent.expect_navigation():
        row.locator("a").first.click()
    agent.get_by_role("button", name="Claim").click()
    agent.wait_for_selector("text=You hold this alert now.")
    agent.fill("#text", "Sorry about the box, Ada. A new one is on its way.")
    agent.get_by_role("button", name="Send to the customer").click()
    agent.wait_for_selector("text=Your message is on its way to the customer.")
    agent.select_option("#root_cause", index=1)
    agent.fill("#resolution", "Sent a replacement.")
    agent.get_by_role("button", name="Resolve").click()
    agent.wait_for_selector("text=The alert is resolved.")
    final = live_api.ok("GET", f"/alerts/{alert['id']}")
    assert final["status"] == "resolved" and final["root_cause"] and final["resolution"] == "Sent a replacement."
    assert [a["action"] for a in final["activity"]].count("replied") == 1

    # The agents' email and the reply go out through the alert sender; the reply reaches the customer's phone.
    assert in_live(live_app, notify_agents, alert["id"]) == ["sent", "sent"]
    designer.goto(live_server + "/sandbox")
    assert "A new one is on its way." in designer.locator(f".thread[data-phone='{PHONE}']").inner_text()


def create_trigger_in_console(page, base: str, survey_id: int) -> None:
    """order.delivered asks the survey by SMS, then email: channels added and moved with the form's buttons."""
    page.goto(base + "/console/triggers/new")
    page.fill("#touchpoint", "order.delivered")
    page.select_option("#survey_id", str(survey_id))
    page.select_option("#add-channel-choice", "sms")
    page.get_by_role("button", name="Add channel").click()
    page.wait_for_selector("text=Changed on this page only.")
    page.get_by_role("button", name="Move SMS up").click()
    page.wait_for_selector("#channel-0 >> text=SMS")
    page.get_by_role("button", name="Save trigger").last.click()
    page.wait_for_selector("text=The trigger is created.")
