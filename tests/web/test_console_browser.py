"""The staff console in real headless Chromium: keyboard-only sign-in and claim, axe-core (WCAG 2.2 AA) on every
console page in English and Persian at laptop and phone widths, no sideways scrolling, screenshots.

Set SURVEYD_SCREENSHOT_DIR to keep the screenshots for a person to look at.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Alert
from surveyd.services.access import users
from surveyd.services.design import surveys, triggers
from tests.web.agent_alerts import notify_agents, unhappy_answer
from tests.web.test_browser import (  # noqa: F401  (fixtures)
    axe_violations,
    chromium,
    in_live,
    live_app,
    no_horizontal_scroll,
    open_page,
)

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"


def _alert_and_agent() -> int:
    users.create_user("agent@example.com", "agent", PASSWORD)
    users.create_user("admin@example.com", "admin", PASSWORD)
    alert_id = unhappy_answer([{"channel": "email", "to": "agents@example.com"}], comment="The box was crushed")
    notify_agents(alert_id)
    return alert_id


def _trigger_of(survey_id: int) -> int:
    """The survey's trigger, given quiet hours and a condition so that its form shows every part."""
    (trigger,) = [t for t in triggers.list_triggers() if t.survey_id == survey_id]
    triggers.update_trigger(trigger.id, {"quiet_hours": {"start": "21:00", "end": "08:00"}, "conditions": [
        {"field": "event.amount", "op": "gte", "value": 10}]})
    return trigger.id


def _survey_of(alert_id: int) -> int:
    """The alert's survey, given a second version so that its history has a change to show."""
    survey_id = db.session.get(Alert, alert_id).survey_id
    surveys.update_survey(survey_id, {"locales": ["en", "tr", "fa"], "alert": {"threshold": 5}})
    return survey_id


def _theme_of(alert_id: int) -> int:
    """Two themes this month, the alert's comment in the first, so the theme pages show every part."""
    from surveyd.models import Answer, CommentTheme, Response, Theme
    from surveyd.services.insight import periods

    response_id = db.session.get(Alert, alert_id).response_id
    comment = db.session.scalar(sa.select(Answer.id).where(Answer.response_id == Response.id,
                                                           Response.id == response_id,
                                                           Answer.value_text.is_not(None)))
    month = periods.current("month", datetime.now(timezone.utc), "UTC")
    crushed = Theme(period_start=month.start, words=["box", "crushed"], embedder="lexical")
    late = Theme(period_start=month.start, words=["late", "courier"], embedder="lexical", name="Late parcels")
    db.session.add_all([crushed, late])
    db.session.flush()
    db.session.add(CommentTheme(answer_id=comment, theme_id=crushed.id, confidence=0.72, set_by="model"))
    # A consent change, so the contact page shows its ledger too.
    from surveyd.models import Channel, ConsentState
    from surveyd.services.audience import contacts

    contacts.set_consent(contacts.get_contact("cust-1"), Channel.SMS, ConsentState.OPTED_OUT, "sms_keyword",
                         {"keyword": "STOP", "message_id": "SM0123"})
    db.session.commit()
    return crushed.id


def _shots(tmp_path: Path) -> Path:
    kept = os.environ.get("SURVEYD_SCREENSHOT_DIR")
    folder = Path(kept) if kept else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def tab_to(page, selector: str, presses: int = 40) -> None:
    """Press Tab from where focus is until the element matching selector has it."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def sign_in_by_keyboard(page, base: str, path: str = "/console/alerts") -> None:
    page.goto(base + path)
    assert "/console/login?next=" in page.url
    tab_to(page, "#email")
    page.keyboard.type("agent@example.com")
    tab_to(page, "#password", 2)
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(base + path)


def test_an_agent_signs_in_and_claims_an_alert_with_the_keyboard_alone(open_page, live_app, live_server):
    alert_id = in_live(live_app, _alert_and_agent)
    page = open_page(viewport={"width": 1280, "height": 900})
    sign_in_by_keyboard(page, live_server)
    tab_to(page, f'a[href="/console/alerts/{alert_id}"]')
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/console/alerts/{alert_id}")
    tab_to(page, 'form[action$="/claim"] button')
    page.keyboard.press("Enter")
    page.wait_for_selector("text=You hold this alert now.")
    assert page.locator(".tag-claimed").first.inner_text() == "Claimed"


@pytest.mark.parametrize("locale", ["en-US", "fa-IR"])
def test_every_console_page_passes_axe_at_laptop_and_phone_widths(open_page, live_app, live_server, tmp_path,
                                                                   locale):
    alert_id = in_live(live_app, _alert_and_agent)
    survey_id = in_live(live_app, _survey_of, alert_id)
    trigger_id = in_live(live_app, _trigger_of, survey_id)
    theme_id = in_live(live_app, _theme_of, alert_id)
    folder, lang = _shots(tmp_path), locale[:2]
    for width in (1280, 390):
        page = open_page(viewport={"width": width, "height": 900}, locale=locale)
        page.goto(live_server + "/console/login")
        assert page.locator("html").get_attribute("dir") == ("rtl" if lang == "fa" else "ltr")
        pages = [("login", None)]
        assert axe_violations(page) == [], f"login, {locale}, {width} px"
        page.screenshot(path=str(folder / f"console-login-{lang}-{width}.png"), full_page=True)
        page.fill("#email", "admin@example.com")  # an admin reaches every page
        page.fill("#password", PASSWORD)
        page.locator("form button[type=submit]").last.click()
        page.wait_for_url(live_server + "/console/")
        for name, path in (("dashboard", "/console/"), ("alerts", "/console/alerts"),
                           ("alert", f"/console/alerts/{alert_id}"), ("contacts", "/console/contacts"),
                           ("contact", "/console/contacts/cust-1"), ("users", "/console/users"),
                           ("api-keys", "/console/api-keys"), ("password", "/console/password"),
                           ("surveys", "/console/surveys"), ("survey-new", "/console/surveys/new"),
                           ("survey", f"/console/surveys/{survey_id}"),
                           ("survey-versions", f"/console/surveys/{survey_id}/versions"),
                           ("survey-preview", f"/console/surveys/{survey_id}/preview?locale=fa"),
                           ("triggers", "/console/triggers"), ("trigger-new", "/console/triggers/new"),
                           ("trigger", f"/console/triggers/{trigger_id}"),
                           ("trigger-check", "/console/triggers/check?run=1&touchpoint=delivered.cust-1"
                                             "&contact=cust-1&attributes=amount%3D20"),
                           ("responses", f"/console/responses?survey={survey_id}&band=negative"),
                           ("reports", "/console/reports"),
                           ("report", f"/console/reports/{datetime.now(timezone.utc):%Y-%m}"),
                           ("themes", "/console/themes"), ("theme", f"/console/themes/{theme_id}"),
                           ("audit", "/console/audit")):
            assert page.goto(live_server + path).status == 200
            assert axe_violations(page) == [], f"{name}, {locale}, {width} px"
            no_horizontal_scroll(page)
            page.screenshot(path=str(folder / f"console-{name}-{lang}-{width}.png"), full_page=True)
            pages.append((name, path))
        # An error summary is part of the page too.
        page.goto(live_server + "/console/password")
        page.locator("main form").first.locator("button[type=submit]").click()
        page.wait_for_selector("#error-summary")
        assert axe_violations(page) == [], f"password errors, {locale}, {width} px"
        page.screenshot(path=str(folder / f"console-password-errors-{lang}-{width}.png"), full_page=True)
        # The designer's error summary, after a text was emptied.
        page.goto(live_server + f"/console/surveys/{survey_id}")
        page.fill("#q-0-text-en", "")
        page.locator(".save-bar button").first.click()
        page.wait_for_selector("#error-summary")
        assert axe_violations(page) == [], f"designer errors, {locale}, {width} px"
        no_horizontal_scroll(page)
        page.screenshot(path=str(folder / f"console-survey-errors-{lang}-{width}.png"), full_page=True)
        assert len(pages) == 24


def test_a_new_alert_appears_in_an_open_inbox_without_reloading(open_page, live_app, live_server):
    first = in_live(live_app, _alert_and_agent)
    page = open_page(viewport={"width": 1280, "height": 900})
    sign_in_by_keyboard(page, live_server)
    page.wait_for_function("() => document.querySelectorAll('table[data-live] tbody tr').length === 1")
    loaded = page.evaluate("() => performance.timeOrigin")
    second = in_live(live_app, unhappy_answer, [{"channel": "email", "to": "agents@example.com"}], "cust-2")
    page.wait_for_selector(f"#alert-{second}")  # pushed by the server: the page was never reloaded
    assert page.evaluate("() => performance.timeOrigin") == loaded
    assert [row.get_attribute("id") for row in page.locator("tbody tr").all()] == [f"alert-{second}",
                                                                                  f"alert-{first}"]
    assert page.locator("#alert-count").inner_text() == "2 alerts"
    assert page.locator("#live-status").inner_text().startswith(f"New alert: #{second} · Delivery NPS")
    assert axe_violations(page) == []
