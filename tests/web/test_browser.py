"""Real headless Chromium (Playwright) against the live server: phone layout, keyboard-only answering,
email score links and the sandbox inbox, as a customer would use them.

Data goes in through the HTTP API or the real services, committed, so the live server sees it.
"""
from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from typing import Any

import pytest
import sqlalchemy as sa

import survey_templates
from surveyd import create_app
from surveyd.extensions import db
from surveyd.models import Response, SandboxMessage
from surveyd.services.dispatch import sending
from tests import factories
from tests.conftest import make_env
from tests.web.pages import parse

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 10_000
STAFF_PASSWORD = "correct horse battery"


class Chromium:
    """One headless Chromium per module, started by the first test that opens a page.

    Starting inside the test (not in fixture setup) makes a missing binary a FAILED test with a clear
    message, never a skip or a setup error.
    """

    def __init__(self) -> None:
        self._playwright = None
        self.browser = None

    def get(self):
        if self.browser is None:
            if not os.path.exists(CHROMIUM):
                pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's chromium package "
                            "(apt-get install chromium)", pytrace=False)
            from playwright.sync_api import sync_playwright

            self._playwright = sync_playwright().start()
            self.browser = self._playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        return self.browser

    def stop(self) -> None:
        if self.browser is not None:
            self.browser.close()
        if self._playwright is not None:
            self._playwright.stop()


@pytest.fixture(scope="module")
def chromium():
    holder = Chromium()
    yield holder
    holder.stop()


@pytest.fixture
def open_page(chromium):
    """A fresh browser context and page per call (phone viewport unless told); closed after the test."""
    contexts = []

    def make(viewport: dict[str, int] | None = None, locale: str = "en-US"):
        context = chromium.get().new_context(viewport=viewport or PHONE, locale=locale)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def live_app(live_server, database_url, tmp_path_factory):
    """An app configured like the live server (same public URL), for sending due dispatches in its context."""
    sender = create_app(make_env(database_url, SURVEYD_PUBLIC_URL=live_server),
                        instance_path=str(tmp_path_factory.mktemp("browser-sender")))
    yield sender
    with sender.app_context():
        db.engine.dispose()


def in_live(live_app, fn, *args, **kwargs):
    """Run fn in an app context of the live-like app, then drop the session."""
    with live_app.app_context():
        try:
            return fn(*args, **kwargs)
        finally:
            db.session.remove()


class Api:
    """The JSON API of the live server over urllib."""

    def __init__(self, base: str, key: str):
        self.base, self.key = base, key

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + "/api/v1" + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.key}", "Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        got, answer = self.call(method, path, body)
        assert got == status, (method, path, got, answer)
        return answer


@pytest.fixture
def live_api(live_server, api_key) -> Api:
    return Api(live_server, api_key)


@pytest.fixture
def staff_page(open_page, live_app, live_server):
    """open_page, signed in as a staff member first: outside --demo the sandbox needs one."""
    from surveyd.services.access import users

    made: list = []

    def make(**kwargs):
        if not made:
            made.append(in_live(live_app, users.create_user, "sandbox-staff@example.com", "admin", STAFF_PASSWORD))
        page = open_page(**kwargs)
        page.goto(live_server + "/console/login")
        page.fill("#email", "sandbox-staff@example.com")
        page.fill("#password", STAFF_PASSWORD)
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(live_server + "/console/")
        return page

    return make


def no_horizontal_scroll(page) -> None:
    width, inner = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"page scrolls sideways: scrollWidth {width} > innerWidth {inner}"


def screenshot(page, tmp_path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000


# --- (a) Persian NPS on a phone, keyboard only ------------------------------------------------


def test_persian_nps_on_a_phone_with_the_keyboard_only(open_page, live_api, live_server, tmp_path):
    survey = live_api.ok("POST", "/surveys", {"name": "Delivery NPS", "kind": "nps", "locales": ["fa", "en"]}, 201)
    live_api.ok("POST", "/triggers", {"touchpoint": "order.delivered", "survey_id": survey["id"], "channels": ["web"],
                                      "delay_seconds": 0}, 201)
    answer = live_api.ok("POST", "/events", {"touchpoint": "order.delivered", "contact": {
        "external_id": "dariush", "name": "داریوش رضایی", "locale": "fa-IR"}}, 202)
    (dispatch,) = answer["dispatches"]
    url = dispatch["url"]
    assert url.startswith(live_server + "/s/")

    page = open_page()
    response = page.goto(url)
    assert response.status == 200
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("html").get_attribute("lang") == "fa"
    legend = page.locator("legend")
    assert legend.inner_text().strip() == "چقدر احتمال دارد ما را به دوستان یا همکاران خود توصیه کنید؟"
    assert page.locator("label[for=score-10]").inner_text() == "۱۰"
    no_horizontal_scroll(page)
    # right to left: 0 sits at the right edge, 10 further left
    zero = page.locator("label[for=score-0]").bounding_box()
    one = page.locator("label[for=score-1]").bounding_box()
    assert zero["x"] > one["x"]
    # every score is big enough to tap
    for n in range(11):
        box = page.locator(f"label[for=score-{n}]").bounding_box()
        assert box["width"] >= 40 and box["height"] >= 40, (n, box)

    # keyboard only: Tab into the radio group, arrows to 3, Enter submits
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "score-0"
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.id") == "score-3"
    assert page.locator("#score-3").is_checked()
    assert live_api.ok("GET", "/responses")["items"] == []  # choosing is not answering
    with page.expect_navigation():
        page.keyboard.press("Enter")

    # the detractor's follow-up, still right to left
    assert page.locator("html").get_attribute("dir") == "rtl"
    question = page.locator("label[for=q-improve]")
    assert "چه چیزی را باید بهتر انجام می‌دادیم؟" in question.inner_text()
    no_horizontal_scroll(page)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "q-improve"
    page.keyboard.type("بسته دو روز دیر رسید")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "ارسال پاسخ"
    with page.expect_navigation():
        page.keyboard.press("Enter")

    heading = page.locator("h1")
    assert heading.inner_text() == "سپاسگزاریم!"
    assert heading.is_visible()
    no_horizontal_scroll(page)
    screenshot(page, tmp_path, "fa-thanks")

    (item,) = live_api.ok("GET", "/responses")["items"]
    assert item["score"] == 3 and item["completed"] is True and item["locale"] == "fa"
    assert {a["question_id"]: a["value"] for a in item["answers"]} == {"score": 3, "improve": "بسته دو روز دیر رسید"}
    (alert,) = live_api.ok("GET", "/alerts?status=open")["items"]
    assert alert["score"] == 3 and alert["contact"] == "dariush"
    assert alert["comments"] == ["بسته دو روز دیر رسید"]

    # coming back: already answered, nothing changes
    page.reload()
    assert page.locator("h1").inner_text() == "قبلاً پاسخ داده‌اید"
    page.goto(url + "?score=10")
    assert page.locator("h1").inner_text() == "قبلاً پاسخ داده‌اید"
    assert page.locator("input[type=radio]").count() == 0
    screenshot(page, tmp_path, "fa-already")
    (again,) = live_api.ok("GET", "/responses")["items"]
    assert again["score"] == 3 and again["answers"] == item["answers"]
    assert len(live_api.ok("GET", "/alerts")["items"]) == 1


# --- (b) English CSAT email with ?score=4 -----------------------------------------------------


def _email_for_csat() -> int:
    survey = factories.survey(name="Support CSAT", kind="csat", locales=["en"])
    factories.trigger(survey.id, touchpoint="ticket.closed", channels=["email"])
    factories.contact("emma", name="Emma Clarke", email="emma@example.com")
    (dispatch,) = factories.event(touchpoint="ticket.closed", external_id="emma")["dispatches"]
    assert sending.send_due() == 1
    return dispatch["id"]


def _email_html(dispatch_id: int) -> str:
    return db.session.scalar(sa.select(SandboxMessage.html).where(SandboxMessage.dispatch_id == dispatch_id))


def test_english_csat_email_link_preselects_and_records_nothing_until_send(open_page, live_app, live_api,
                                                                            live_server, tmp_path):
    dispatch_id = in_live(live_app, _email_for_csat)
    html = in_live(live_app, _email_html, dispatch_id)
    links = [a.attrs["href"] for a in parse(html).all("a") if "/s/" in a.attrs.get("href", "")]
    link = links[-1]  # "Or open this link", after one link per score
    assert link.startswith(live_server + "/s/") and "?" not in link
    assert links[:-1] == [f"{link}?score={n}" for n in range(1, 6)]
    before = live_api.ok("GET", f"/dispatches/{dispatch_id}")

    page = open_page(viewport={"width": 1280, "height": 800})
    assert page.goto(links[3]).status == 200
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#score-4").is_checked()
    assert [page.locator(f"#score-{n}").is_checked() for n in range(1, 6)] == [False, False, False, True, False]
    assert page.get_by_text("How satisfied are you with your recent experience?").is_visible()
    page.reload()  # a second look, as a mail scanner or the customer might
    assert live_api.ok("GET", "/responses")["items"] == []
    after = live_api.ok("GET", f"/dispatches/{dispatch_id}")
    assert after["status"] == before["status"] == "delivered"
    assert after["history"] == before["history"]

    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/s/"))
    assert page.get_by_text("Glad to hear it! What went well?").is_visible()
    assert page.get_by_role("status").inner_text() == "Thanks, your score is saved."
    screenshot(page, tmp_path, "csat-follow-up")
    (item,) = live_api.ok("GET", "/responses")["items"]
    assert item["score"] == 4 and item["completed"] is False and item["channel"] == "email"
    assert live_api.ok("GET", f"/dispatches/{dispatch_id}")["status"] == "answered"
    assert live_api.ok("GET", "/alerts")["items"] == []


# --- (c) the sandbox inbox --------------------------------------------------------------------


def _sms_setup() -> None:
    survey = factories.survey(name="Delivery NPS", locales=["en", "tr", "fa"])
    factories.trigger(survey.id, touchpoint="order.delivered", channels=["sms", "email"])
    factories.contact("ayse", name="Ayşe Yılmaz", locale="tr", phone="+905321000001")


def test_sandbox_lists_the_sms_and_its_link_opens_the_survey(staff_page, live_app, live_server, tmp_path):
    in_live(live_app, _sms_setup)
    page = staff_page(viewport={"width": 1280, "height": 900})
    assert page.goto(live_server + "/sandbox").status == 200
    assert page.get_by_text("Nothing delivered yet.").is_visible()

    # fire the event with the page's own form, then let the dispatcher send what is due
    page.locator("#fire-touchpoint").select_option("order.delivered")
    page.locator("#fire-contact").select_option("ayse")
    with page.expect_navigation():
        page.get_by_role("button", name="Send event").click()
    assert page.url == live_server + "/sandbox"
    assert in_live(live_app, sending.send_due) == 1
    page.reload()

    thread = page.locator(".thread[data-phone='+905321000001']")
    assert "to +905321000001" in thread.inner_text()
    sms = thread.locator("article[data-channel=sms]")
    assert sms.count() == 1
    assert "segments · UCS-2" in sms.inner_text()  # Turkish letters force UCS-2
    bubble = sms.locator(".bubble")
    assert "Bizi bir arkadaşınıza veya iş arkadaşınıza tavsiye etme olasılığınız nedir?" in bubble.inner_text()
    link = bubble.locator("a")
    href = link.get_attribute("href")
    assert href.startswith(live_server + "/s/")
    screenshot(page, tmp_path, "sandbox-inbox")

    with page.expect_navigation():
        link.click()
    assert page.url == href
    assert page.locator("html").get_attribute("lang") == "tr"
    legend = page.locator("legend")
    assert legend.is_visible()
    assert legend.inner_text().strip() == "Bizi bir arkadaşınıza veya iş arkadaşınıza tavsiye etme olasılığınız nedir?"
    assert page.locator("input[type=radio][name=score]").count() == 11
    screenshot(page, tmp_path, "sandbox-survey")


def test_a_reply_typed_in_the_sandbox_thread_answers_the_survey(staff_page, live_app, live_server, tmp_path):
    in_live(live_app, _sms_setup)
    page = staff_page(viewport={"width": 1280, "height": 900})
    page.goto(live_server + "/sandbox")
    page.locator("#fire-touchpoint").select_option("order.delivered")
    page.locator("#fire-contact").select_option("ayse")
    with page.expect_navigation():
        page.get_by_role("button", name="Send event").click()
    assert in_live(live_app, sending.send_due) == 1
    page.reload()

    thread = page.locator(".thread[data-phone='+905321000001']")
    reply = thread.get_by_label("Reply as +905321000001")
    reply.fill("dokuz")
    with page.expect_navigation():
        reply.press("Enter")
    thread = page.locator(".thread[data-phone='+905321000001']")
    assert thread.locator(".bubble.inbound").inner_text() == "dokuz"
    assert thread.locator("article[data-direction=reply] .bubble").inner_text() == (
        "Bunu duymak harika! En çok neyi beğendiniz?")
    screenshot(page, tmp_path, "sandbox-sms-thread")
    scores = in_live(live_app, lambda: [(r.score, r.channel.value) for r in db.session.scalars(sa.select(Response))])
    assert scores == [(9, "sms")]


def _telegram_setup() -> None:
    survey = factories.survey(name="Delivery NPS", locales=["en", "tr", "fa"])
    factories.trigger(survey.id, touchpoint="order.delivered", channels=["telegram", "email"])
    factories.contact("dariush", name="داریوش", locale="fa", telegram_chat_id="98765")
    factories.event(external_id="dariush")


def test_a_telegram_score_tapped_in_the_sandbox(staff_page, live_app, live_server, tmp_path):
    in_live(live_app, _telegram_setup)
    assert in_live(live_app, sending.send_due) == 1
    page = staff_page(viewport={"width": 1280, "height": 900})
    page.goto(live_server + "/sandbox#telegram-heading")
    chat = page.locator(".thread[data-chat='98765']")
    keys = chat.locator("button.key")
    assert keys.count() == 11  # NPS 0-10, in Persian digits
    assert [keys.nth(i).inner_text() for i in (0, 10)] == ["۰", "۱۰"]
    screenshot(page, tmp_path, "sandbox-telegram")
    with page.expect_navigation():
        chat.get_by_role("button", name="Tap ۹").click()
    chat = page.locator(".thread[data-chat='98765']")
    assert chat.locator("button.key").count() == 0
    assert chat.locator("article").first.inner_text().find("پاسخ شما: ۹") >= 0
    assert chat.locator("article[data-direction=reply] .bubble").inner_text() == "خوشحالیم که این را می‌شنویم! چه چیزی را بیش از همه پسندیدید؟"
    scores = in_live(live_app, lambda: [(r.score, r.channel.value) for r in db.session.scalars(sa.select(Response))])
    assert scores == [(9, "telegram")]


# --- (d) email: the sandbox's rendered email, its links, and its layout on a phone --------------


def _email_for_nps(locale: str, external_id: str) -> int:
    survey = factories.survey(name=f"Email NPS {locale}", kind="nps", locales=["en", "tr", "fa"])
    factories.trigger(survey.id, touchpoint=f"visit.{locale}", channels=["email"])
    factories.contact(external_id, name="Dariush", email=f"{external_id}@example.com", locale=locale)
    (dispatch,) = factories.event(touchpoint=f"visit.{locale}", external_id=external_id)["dispatches"]
    assert sending.send_due() == 1
    return dispatch["id"]


def test_a_score_link_in_the_sandbox_email_opens_the_survey_with_that_score(staff_page, live_app, live_api,
                                                                           live_server, tmp_path):
    in_live(live_app, _email_for_nps, "fa", "dariush-mail")
    page = staff_page(viewport={"width": 1280, "height": 900})
    page.goto(live_server + "/sandbox")
    email = page.locator("article[data-channel=email]")
    headers = email.locator("details.headers")
    headers.locator("summary").click()  # closed until asked, like "show original" in a mail client
    assert "List-Unsubscribe-Post" in headers.inner_text()
    frame = page.frame_locator("article[data-channel=email] iframe")
    eight = frame.get_by_role("link", name="۸", exact=True)
    with page.expect_popup() as opened:  # a mail client opens links in a new tab, and so does the sandbox
        eight.click()
    survey = opened.value
    survey.wait_for_load_state()
    assert survey.url.endswith("?score=8")
    assert survey.locator("html").get_attribute("dir") == "rtl"
    assert survey.locator("#score-8").is_checked()
    assert live_api.ok("GET", "/responses")["items"] == []  # opening the link answered nothing
    survey.get_by_role("button", name=survey_templates.translate("fa", "page.submit")).click()
    survey.wait_for_load_state()
    (item,) = live_api.ok("GET", "/responses")["items"]
    assert (item["score"], item["channel"], item["locale"]) == (8, "email", "fa")
    screenshot(survey, tmp_path, "email-link-answered")


@pytest.mark.parametrize("locale", ["en", "tr", "fa"])
def test_the_email_fits_a_small_phone_with_score_targets_of_at_least_24_px(open_page, live_app, tmp_path, locale):
    dispatch_id = in_live(live_app, _email_for_nps, locale, f"phone-{locale}")
    html = in_live(live_app, _email_html, dispatch_id)
    page = open_page(viewport={"width": 320, "height": 640})
    page.set_content(html)
    assert page.evaluate("document.documentElement.scrollWidth") <= 320  # no sideways scrolling
    boxes = page.eval_on_selector_all("a[href*='?score=']", "links => links.map(a => a.getBoundingClientRect().toJSON())")
    assert len(boxes) == 11
    assert all(box["width"] >= 24 and box["height"] >= 24 for box in boxes), boxes  # WCAG 2.2 target size
    xs = [box["x"] for box in boxes]
    assert xs == (sorted(xs, reverse=True) if locale == "fa" else sorted(xs))  # 0 at the reading start
    assert len({round(box["y"]) for box in boxes}) == 1  # one row
    screenshot(page, tmp_path, f"email-{locale}-320")


# --- (e) the sandbox's Agents view: WCAG 2.2 AA by axe-core, Claim by keyboard -------------------

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def axe_violations(page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.0-2.2 A and AA violations on the page, each with the first nodes it names."""
    from importlib.resources import files

    try:
        # axe-core as the axe-playwright-python package bundles it; we run it ourselves with our own tags.
        script = (files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")
    except ModuleNotFoundError:
        pytest.fail("axe-core is missing: the browser tests need the axe-playwright-python package "
                    "(pip install axe-playwright-python)", pytrace=False)
    page.evaluate(script)
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, "
                           "resultTypes: ['violations']})", AXE_TAGS)
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [node["target"] for node in v["nodes"]][:5]} for v in result["violations"]]


def painted_screenshot(page, tmp_path, name: str) -> None:
    """A full-page screenshot taken through a viewport as tall as the page: Chromium does not paint the email
    frames of a full-page capture that lie outside the viewport, and a blank email would hide the real page."""
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": page.evaluate("document.scrollingElement.scrollHeight")})
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    screenshot(page, tmp_path, name)
    page.set_viewport_size(size)


def _agents_setup() -> int:
    """An alert told by email, Telegram and Slack and a webhook endpoint subscribed to it, all sent to the
    sandbox; the sandbox's Telegram account linked to an agent. The alert's id."""
    from surveyd.services.integrations import endpoints
    from tests.web.agent_alerts import linked_agent, notify_agents, unhappy_answer

    linked_agent()
    endpoints.create_endpoint("https://hooks.example.com/surveyd", ["alert.created"])
    alert_id = unhappy_answer([{"channel": "email", "to": "agents@example.com"},
                               {"channel": "telegram", "chat_id": "-100200300"},
                               {"channel": "slack", "url": "https://hooks.slack.com/services/T1/B2/sandbox"}],
                              comment="The box was crushed & wet <again>")
    assert notify_agents(alert_id) == ["sent", "sent", "sent", "delivered"]
    return alert_id


@pytest.mark.parametrize("view", ["/sandbox", "/sandbox?view=agents"])
def test_the_sandbox_views_pass_axe_at_desktop_and_phone_widths(staff_page, live_app, live_server, tmp_path, view):
    in_live(live_app, _agents_setup)
    in_live(live_app, _telegram_setup)  # and the customers' side: a Telegram survey and an email invitation
    assert in_live(live_app, sending.send_due) == 1
    in_live(live_app, _email_for_csat)
    name = "agents" if "agents" in view else "customers"
    for width in (1280, 375):
        page = staff_page(viewport={"width": width, "height": 900})
        assert page.goto(live_server + view).status == 200
        assert axe_violations(page) == [], f"{view} at {width} px"
        no_horizontal_scroll(page)
        painted_screenshot(page, tmp_path, f"sandbox-{name}-{width}")
    if name == "agents":
        assert [page.locator(f"article[data-channel={kind}]").count() for kind in ("email", "telegram", "slack",
                                                                                   "webhook")] == [1, 1, 1, 1]
        assert page.locator(".slack-header").inner_text() == "Ada Lovelace gave 2/10 on Delivery NPS"


def test_claim_on_the_agents_view_by_keyboard_acts_as_the_linked_agent(staff_page, live_app, live_server, tmp_path):
    alert_id = in_live(live_app, _agents_setup)
    page = staff_page(viewport={"width": 1280, "height": 900})
    page.goto(live_server + "/sandbox?view=agents")
    claim = f"Claim alert #{alert_id}"
    for _ in range(60):  # Tab from the top until the Claim button has focus (no pointer anywhere)
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('aria-label')") == claim:
            break
    else:
        pytest.fail(f"Tab never reached the {claim} button")
    assert page.evaluate("document.activeElement.tagName") == "BUTTON"
    with page.expect_navigation():
        page.keyboard.press("Enter")

    telegram = page.locator("article[data-channel=telegram]")
    assert page.url.split("#")[1] == telegram.get_attribute("id")  # back at the tapped message
    assert telegram.get_by_role("status").inner_text() == "Telegram shows the tapper: “You hold this alert now.”"
    assert "Assignee: agent@demo.test" in telegram.locator(".bubble").inner_text()
    assert [telegram.locator("button.key").nth(i).inner_text() for i in range(telegram.locator("button.key").count())] \
        == ["Resolve"]
    assert axe_violations(page) == []
    painted_screenshot(page, tmp_path, "sandbox-agents-claimed")

    def held():
        from surveyd.models import Alert

        alert = db.session.get(Alert, alert_id)
        return alert.status.value, alert.assignee, alert.activity[-1].actor

    assert in_live(live_app, held)[:2] == ("claimed", "agent@demo.test")
