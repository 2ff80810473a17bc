"""The sandbox inbox page, its 'fire an event' form, demo seeding, and the app without the sandbox."""
from __future__ import annotations

import re
from collections import Counter
from html import unescape

import pytest
import sqlalchemy as sa

import survey_templates
from surveyd import create_app
from surveyd.extensions import db
from surveyd.models import (
    Alert,
    ApiKey,
    Channel,
    Contact,
    Dispatch,
    Event,
    Response,
    SandboxMessage,
    Survey,
    Trigger,
)
from surveyd.services.design.scales import band
from surveyd.services.dispatch import sending
from surveyd.services.sandbox.demo import COMMENTS, seed_demo
from tests import factories
from tests.conftest import make_env
from tests.web.pages import inside, parse, path_of  # noqa: F401 (inside is a fixture)


@pytest.fixture
def client(app):
    """A staff member's browser: the sandbox needs a signed-in user and CSRF tokens outside --demo."""
    from tests.console.staff import sandbox_staff

    return sandbox_staff(app)


def counts() -> dict[str, int]:
    """Rows per table that the form or the seeding could add."""
    return {model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Event, Dispatch, Contact, Response, SandboxMessage, Survey, Trigger, Alert, ApiKey)}


def _sms_and_email_loop() -> dict:
    """An NPS survey asked by SMS and a CSAT survey asked by email, both on order.delivered, one event, sent."""
    nps = factories.survey(name="Delivery NPS", locales=["en", "tr", "fa"])
    csat = factories.survey(name="Delivery CSAT", kind="csat", locales=["en"])
    factories.trigger(nps.id, channels=["sms", "email"])
    factories.trigger(csat.id, channels=["email", "sms"])
    factories.contact("cust-1", name="Ada Lovelace")
    answer = factories.event(external_id="cust-1")
    assert [d["status"] for d in answer["dispatches"]] == ["scheduled", "scheduled"]
    assert [d["channel"] for d in answer["dispatches"]] == ["sms", "email"]
    sent = sending.send_due()
    return {"sent": sent, "nps": nps.id, "csat": csat.id}


def _articles(html: str) -> dict[str, list[dict]]:
    """The inbox messages by channel: each with its links, iframes and bubble text."""
    page = parse(html)
    result: dict[str, list[dict]] = {}
    current = None
    for element in page.elements:
        if element.tag == "article" and "data-channel" in element.attrs:
            current = {"links": [], "iframes": []}
            result.setdefault(element.attrs["data-channel"], []).append(current)
        elif current is not None and element.tag == "a":
            current["links"].append(element.attrs.get("href"))
        elif current is not None and element.tag == "iframe":
            current["iframes"].append(element.attrs)
    return result


def test_sandbox_shows_the_sms_and_the_email(client, inside):
    loop = inside(_sms_and_email_loop)
    assert loop["sent"] == 2
    response = client.get("/sandbox")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    page = parse(html)
    articles = _articles(html)
    assert sorted(articles) == ["email", "sms"]
    (sms,) = articles["sms"]
    (email,) = articles["email"]
    # the SMS bubble: the question and a clickable signed link
    (sms_link,) = sms["links"]
    assert sms_link.startswith("http://surveyd.test/s/")
    bubbles = [e for e in page.elements if e.tag == "div" and "bubble" in e.attrs.get("class", "").split()]
    assert len(bubbles) == 1 and "sms" in bubbles[0].attrs["class"]
    assert "How likely are you to recommend us to a friend or colleague?" in page.text
    assert "to +447700900123" in page.text
    # the email: its subject and the HTML part in an iframe's srcdoc
    assert survey_templates.translate("en", "messages.email_subject") in page.text
    (frame,) = email["iframes"]
    srcdoc = frame["srcdoc"]
    assert srcdoc.lstrip().startswith("<!DOCTYPE html>")
    assert "How satisfied are you with your recent experience?" in srcdoc
    assert "Hi Ada Lovelace," in srcdoc
    assert '<head><base target="_blank">' in srcdoc  # links open a tab, as in a mail client
    email_links = [a.attrs["href"] for a in parse(srcdoc).all("a")]
    survey_links = [href for href in email_links if href.startswith("http://surveyd.test/s/")]
    assert len(survey_links) == 6 and [href.split("?")[-1] for href in survey_links[:5]] == [
        f"score={n}" for n in range(1, 6)]
    assert [href for href in email_links if href not in survey_links] == [unsubscribe_link(srcdoc)]
    assert set(email_links).isdisjoint({sms_link})  # two dispatches, two tokens
    assert "sandbox" in frame  # the email's HTML is framed without script
    assert "allow-scripts" not in frame["sandbox"]
    assert "to ada@example.com" in page.text


def test_following_the_sms_link_answers_and_staff_see_it(client, inside):
    inside(_sms_and_email_loop)
    (sms_link,) = _articles(client.get("/sandbox").get_data(as_text=True))["sms"][0]["links"]
    survey_page = client.get(path_of(sms_link))
    assert survey_page.status_code == 200
    assert parse(survey_page.get_data(as_text=True)).html_attrs["lang"] == "en"
    assert client.post(path_of(sms_link), data={"score": "2"}).status_code == 200
    done = client.post(path_of(sms_link), data={"improve": "Box was crushed"})
    assert survey_templates.translate("en", "page.thanks_title") in done.get_data(as_text=True)

    page = parse(client.get("/sandbox").get_data(as_text=True))
    # the response, with who, score, channel and comment
    assert page.table_rows("response") == [["Ada Lovelace", "2", "sms · en", "“Box was crushed”"]]
    # the open alert for the detractor
    assert "Open alerts (1)" in page.texts["h2"]
    ((alert_id, who, score, status),) = page.table_rows("alert")
    assert (who, score, status) == ("Ada Lovelace", "score 2", "open · score")
    assert alert_id.startswith("#")
    # the scores: one detractor makes NPS -100 with n 1; the unanswered CSAT has no score yet
    scores = {cells[0]: cells[1:3] for attrs, cells in page.rows if "data-survey" in attrs}
    assert scores == {"Delivery NPS (NPS)": ["-100.0", "1"], "Delivery CSAT (CSAT)": ["–", "0"]}
    assert inside(lambda: db.session.scalar(sa.select(Alert.reasons))) == ["score"]


def test_sandbox_without_messages_says_so(client):
    page = parse(client.get("/sandbox").get_data(as_text=True))
    assert "Messages (0)" in page.text and "Nothing delivered yet." in page.text
    assert "No open alerts." in page.text and "No responses yet." in page.text


def test_fire_an_event_form_creates_an_event(client, inside):
    def setup():
        survey = factories.survey()
        factories.trigger(survey.id, touchpoint="ticket.closed", channels=["sms"])
        factories.contact("cust-9", name="Grace Hopper")

    inside(setup)
    page = parse(client.get("/sandbox").get_data(as_text=True))
    options = [e for e in page.elements if e.tag == "option"]
    assert len(options) == 2  # one touchpoint with a trigger, one contact
    assert page.all("select", name="touchpoint") and page.all("select", name="contact")
    before = inside(counts)
    response = client.post("/sandbox/events", data={"touchpoint": "ticket.closed", "contact": "cust-9"})
    assert response.status_code in (302, 303)
    assert path_of(response.headers["Location"]) == "/sandbox"
    after = inside(counts)
    assert after["Event"] == before["Event"] + 1
    assert after["Dispatch"] == before["Dispatch"] + 1
    assert after["Contact"] == before["Contact"]
    # the embedded dispatcher's job, done by hand here: the SMS lands in the inbox
    assert inside(sending.send_due) == 1
    articles = _articles(client.get("/sandbox").get_data(as_text=True))
    assert list(articles) == ["sms"]


@pytest.mark.parametrize("data", [
    {}, {"touchpoint": "ticket.closed"}, {"contact": "cust-9"}, {"touchpoint": "", "contact": "cust-9"},
    {"touchpoint": "ticket.closed", "contact": ""},
])
def test_fire_an_event_form_without_fields_shows_an_error_and_creates_nothing(client, inside, data):
    def setup():
        survey = factories.survey()
        factories.trigger(survey.id, touchpoint="ticket.closed", channels=["sms"])
        factories.contact("cust-9")

    inside(setup)
    before = inside(counts)
    response = client.post("/sandbox/events", data=data, follow_redirects=True)
    assert response.status_code == 200
    page = parse(response.get_data(as_text=True))
    errors = [e for e in page.elements if e.attrs.get("role") == "alert"]
    assert len(errors) == 1
    assert "Choose a touchpoint and a contact." in page.text
    assert inside(counts) == before


# --- demo data --------------------------------------------------------------------------------


def test_seed_demo_seeds_once(app, client, ctx):
    key = seed_demo()
    assert isinstance(key, str) and key
    seeded = counts()
    surveys = list(db.session.scalars(sa.select(Survey).order_by(Survey.id)))
    assert [s.kind.value for s in surveys] == ["nps", "csat", "ces"]
    assert all(s.latest.locales == ["en", "tr", "fa"] for s in surveys)
    triggers = list(db.session.scalars(sa.select(Trigger)))
    assert {t.touchpoint.key for t in triggers} == {"order.delivered", "ticket.closed", "checkout.completed"}
    assert {t.survey_id for t in triggers} == {s.id for s in surveys}
    responses = list(db.session.scalars(sa.select(Response)))
    assert len(responses) >= 100
    assert {r.survey_id for r in responses} == {s.id for s in surveys}
    weeks = Counter(r.created_at.isocalendar()[:2] for r in responses)
    assert len(weeks) >= 6, weeks
    span = max(r.created_at for r in responses) - min(r.created_at for r in responses)
    assert span.days >= 35
    # some answered the follow-up (complete), the others stopped after the score (kept as partial)
    assert {r.completed for r in responses} == {True, False}
    assert all(r.completed == (len(r.answers) == 2) for r in responses)
    assert seeded["Alert"] > 0  # the unhappy tail raised alerts
    # the history's comments match the band of their score (a passive does not say what a promoter says)
    comments = [(r.survey_version.survey.kind.value, r.score, a.value_text)
                for r in responses if r.contact.external_id.startswith("demo-") for a in r.answers if a.value_text]
    assert len(comments) >= 20
    assert {band(kind, score) for kind, score, _ in comments} == {"negative", "neutral", "positive"}
    assert all(text == COMMENTS[band(kind, score)] for kind, score, text in comments)
    # fresh invitations for the named demo people are waiting to be sent
    names = set(db.session.scalars(sa.select(Contact.name)))
    assert {"Emma Clarke", "Ayşe Yılmaz", "داریوش رضایی"} <= names

    # the demo key authenticates; a wrong one does not
    ok = client.get("/api/v1/surveys", headers={"Authorization": f"Bearer {key}"})
    assert ok.status_code == 200, ok.get_data(as_text=True)
    listed = ok.get_json()
    listed = listed["items"] if isinstance(listed, dict) else listed
    assert len(listed) == 3
    assert client.get("/api/v1/surveys", headers={"Authorization": f"Bearer {key}x"}).status_code == 401

    # idempotent: a second call adds nothing
    db.session.remove()
    assert seed_demo() is None
    assert counts() == seeded

    # the invitations to the named people reach the sandbox inbox
    assert sending.send_due() >= 5
    db.session.remove()
    response = client.get("/sandbox")
    assert response.status_code == 200
    page = parse(response.get_data(as_text=True))
    assert {"sms", "email"} <= set(_articles(response.get_data(as_text=True)))
    # Dariush's SMS goes out in Persian, and the bubble lets the text pick its own direction
    assert "to +989121000001" in page.text
    assert "چقدر احتمال دارد ما را به دوستان یا همکاران خود توصیه کنید؟" in page.text
    assert all(e.attrs.get("dir") == "auto" for e in page.elements if "bubble" in e.attrs.get("class", ""))
    assert "Delivery NPS (NPS)" in [cells[0] for attrs, cells in page.rows if "data-survey" in attrs]


# --- without the sandbox ----------------------------------------------------------------------


def test_no_sandbox_route_when_the_sandbox_is_off(app, database_url, tmp_path):
    production = create_app(make_env(database_url, SURVEYD_SANDBOX="0"), instance_path=str(tmp_path / "instance"))
    assert production.config["SURVEYD"].sandbox is False
    client = production.test_client()
    assert client.get("/sandbox").status_code == 404
    assert client.post("/sandbox/events", data={"touchpoint": "x", "contact": "y"}).status_code == 404
    assert client.get("/healthz").status_code == 200
    with production.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 0
        db.session.remove()
        db.engine.dispose()


def _thread(html: str) -> list[tuple[str, str]]:
    """The SMS thread as the phone shows it: (direction, text) per bubble, oldest first."""
    bubbles = re.findall(r'<div class="bubble (sms|inbound)" dir="auto">(.*?)</div>', html, re.S)
    return [("inbound" if kind == "inbound" else "outbound", unescape(re.sub(r"<[^>]+>", "", text)))
            for kind, text in bubbles]


def test_an_sms_conversation_in_the_sandbox_thread(client, inside):
    inside(_sms_and_email_loop)
    html = client.get("/sandbox").get_data(as_text=True)
    assert "1 segment · GSM-7" in html  # the English invitation fits one segment
    reply = client.post("/sandbox/sms/reply", data={"phone": "+447700900123", "text": "I'd say 9"})
    assert reply.status_code == 302
    client.post("/sandbox/sms/reply", data={"phone": "+447700900123", "text": "Quick and friendly"})
    thread = _thread(client.get("/sandbox").get_data(as_text=True))
    assert [direction for direction, _ in thread] == ["outbound", "inbound", "outbound", "inbound", "outbound"]
    assert [text for _, text in thread[1:]] == [
        "I'd say 9", "Great to hear! What did you like most?", "Quick and friendly", "Thank you! Your answer is saved."]
    scores = inside(lambda: [(r.score, r.channel.value, r.completed) for r in db.session.scalars(sa.select(Response))])
    assert scores == [(9, "sms", True)]


def test_stop_in_the_sandbox_is_confirmed_once_and_opts_out(client, inside):
    inside(_sms_and_email_loop)
    client.post("/sandbox/sms/reply", data={"phone": "+447700900123", "text": "STOP"})
    thread = _thread(client.get("/sandbox").get_data(as_text=True))
    # No Twilio in the sandbox, so the confirmation is ours.
    assert thread[-2:] == [("inbound", "STOP"),
                           ("outbound", "You will get no more survey texts. Reply START to opt back in.")]
    consent = inside(lambda: [(c.opted_out(Channel.SMS)) for c in db.session.scalars(sa.select(Contact))])
    assert consent == [True]


@pytest.mark.parametrize("form", [{"phone": "+447700900123", "text": "  "}, {"phone": "", "text": "9"},
                                  {"phone": "+447700900123", "text": "9" * 1601}])
def test_an_empty_or_oversized_sandbox_reply_is_refused_and_stores_nothing(client, inside, form):
    inside(_sms_and_email_loop)
    before = inside(counts)
    response = client.post("/sandbox/sms/reply", data=form)
    assert response.status_code == 302 and "error=" in response.headers["Location"]
    assert inside(counts) == before


def _telegram_loop(locale: str = "en") -> None:
    survey = factories.survey(name="Support CSAT", kind="csat", locales=["en", "tr", "fa"])
    factories.trigger(survey.id, channels=["telegram"])
    factories.contact("cust-1", telegram_chat_id="5551234", locale=locale)
    factories.event(external_id="cust-1")
    assert sending.send_due() == 1


def _keys(html: str) -> dict[str, tuple[str, str]]:
    """The Telegram buttons on the page: label -> (sandbox message id, callback data)."""
    forms = re.findall(r'name="message_id" value="(\d+)">\s*<input type="hidden" name="data" value="([^"]+)">\s*'
                       r'<button type="submit" class="key" aria-label="Tap [^"]+">([^<]+)</button>', html)
    return {label: (message_id, data) for message_id, data, label in forms}


def _telegram_thread(html: str) -> list[tuple[str, str]]:
    bubbles = re.findall(r'<div class="bubble (telegram|inbound)" dir="auto">(.*?)</div>', html, re.S)
    return [(kind, unescape(re.sub(r"<[^>]+>", "", text))) for kind, text in bubbles]


@pytest.mark.parametrize(("locale", "label", "chosen", "follow_up", "thanks"), [
    ("en", "2", "Your answer: 2", "Sorry it wasn't better. What went wrong?", "Thank you! Your answer is saved."),
    ("fa", "۵", "پاسخ شما: ۵", None, "سپاسگزاریم! پاسخ شما ثبت شد."),
])
def test_a_telegram_survey_answered_with_the_sandbox_buttons(client, inside, locale, label, chosen, follow_up, thanks):
    inside(lambda: _telegram_loop(locale))
    html = client.get("/sandbox").get_data(as_text=True)
    keys = _keys(html)
    assert len(keys) == 5  # CSAT 1-5, one button per score
    message_id, data = keys[label]
    tapped = client.post("/sandbox/telegram/tap", data={"chat": "5551234", "message_id": message_id, "data": data})
    assert tapped.status_code == 302
    html = client.get("/sandbox").get_data(as_text=True)
    assert _keys(html) == {}  # the answered message lost its buttons
    thread = _telegram_thread(html)
    assert thread[0][1].endswith(chosen)
    if follow_up:
        assert thread[-1] == ("telegram", follow_up)
    client.post("/sandbox/telegram/message", data={"chat": "5551234", "text": "The agent was slow"})
    thread = _telegram_thread(client.get("/sandbox").get_data(as_text=True))
    assert thread[-2:] == [("inbound", "The agent was slow"), ("telegram", thanks)]
    stored = inside(lambda: [(r.channel.value, r.completed, [a.value for a in r.answers])
                             for r in db.session.scalars(sa.select(Response))])
    score = int(label) if label.isascii() else 5
    assert stored == [("telegram", True, [score, "The agent was slow"])]


def test_a_forged_sandbox_tap_records_nothing(client, inside):
    inside(_telegram_loop)
    message_id, data = _keys(client.get("/sandbox").get_data(as_text=True))["1"]
    forged = data.rsplit(":", 1)[0] + ":AAAAAAAAAAA"
    assert client.post("/sandbox/telegram/tap", data={"chat": "5551234", "message_id": message_id,
                                                      "data": forged}).status_code == 302
    assert client.post("/sandbox/telegram/tap", data={"chat": "not-a-chat", "message_id": message_id,
                                                      "data": data}).status_code == 302
    assert inside(lambda: db.session.scalar(sa.select(sa.func.count(Response.id)))) == 0
    assert len(_keys(client.get("/sandbox").get_data(as_text=True))) == 5  # still unanswered


def unsubscribe_link(html: str) -> str:
    (link,) = [a.attrs["href"] for a in parse(html).all("a") if "/u/" in a.attrs.get("href", "")]
    assert link.startswith("http://surveyd.test/u/e")
    return link


def test_the_email_shows_its_headers_and_the_one_click_unsubscribe_works_from_there(client, inside):
    inside(_sms_and_email_loop)
    html = client.get("/sandbox").get_data(as_text=True)
    page = parse(html)
    headers = {cells[0]: cells[1] for attrs, cells in page.rows if len(cells) == 2 and cells[0][:1].isupper()}
    assert headers["To"] == "ada@example.com" and headers["From"] == "surveyd sandbox <sandbox@surveyd.invalid>"
    assert headers["Subject"] == survey_templates.translate("en", "messages.email_subject")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["Message-ID"].startswith("<surveyd.") and headers["Message-ID"].endswith("@surveyd.invalid>")
    (email,) = _articles(html)["email"]
    target = unsubscribe_link(email["iframes"][0]["srcdoc"])
    assert headers["List-Unsubscribe"] == f"<{target}>"  # no mailbox is configured here for a mailto: fallback
    (form,) = page.all("form", **{"class": "one-click"})
    assert form.attrs["action"] == target and form.attrs["method"] == "post"
    assert page.all("input", name="List-Unsubscribe", value="One-Click")

    assert client.post(path_of(target), data={"List-Unsubscribe": "One-Click"}).status_code == 200

    def email_consent():
        from surveyd.models import Contact
        contact = db.session.scalar(sa.select(Contact).where(Contact.email == "ada@example.com"))
        return contact.opted_out(Channel.EMAIL)

    assert inside(email_consent) is True


# --- the sandbox behind sign-in ----------------------------------------------------------------


def test_outside_demo_the_sandbox_needs_a_signed_in_staff_user(app):
    stranger = app.test_client()
    response = stranger.get("/sandbox?view=agents")
    assert response.status_code == 302 and response.headers["Location"] == "/console/login?next=/sandbox?view%3Dagents"
    posted = stranger.post("/sandbox/events", data={"touchpoint": "order.delivered", "contact": "cust-9"})
    assert posted.status_code == 302 and posted.headers["Location"] == "/console/login"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 0
        db.session.remove()


def test_a_sandbox_form_without_its_token_changes_nothing(app, client):
    bare = client.post("/sandbox/events", data={"touchpoint": "order.delivered", "contact": "cust-9",
                                                "csrf_token": "forged"})
    assert bare.status_code == 400 and "Nothing was changed." in bare.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 0
        db.session.remove()


def test_under_demo_the_sandbox_stays_open_on_loopback_only(app, database_url, tmp_path):
    demo = create_app(make_env(database_url), demo=True, instance_path=str(tmp_path / "demo"))
    local = demo.test_client()
    assert local.get("/sandbox").status_code == 200
    remote = demo.test_client()
    assert remote.get("/sandbox", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 302
    with demo.app_context():
        db.engine.dispose()
