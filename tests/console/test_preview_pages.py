"""The designer's preview pages: the panel per channel and language, the email and web page in frames only the
console may show, a draft carried to those frames signed, and "Send me a test" through the real adapters (a real
SMTP server and Telegram Bot API, local fakes) to the signed-in user alone, writing no contact, event, dispatch or
response."""
from __future__ import annotations

import html as html_lib
import re

import pytest
import sqlalchemy as sa

from surveyd import create_app
from surveyd.console.previews import preview_panel
from surveyd.extensions import db
from surveyd.models import Channel, SandboxMessage, User
from surveyd.services.design import surveys
from surveyd.services.dispatch import channels, previews
from surveyd.services.dispatch.rate_limits import MemoryLimiter
from tests import factories
from tests.conftest import make_env
from tests.console.form_fields import as_dict, form_fields
from tests.console.staff import csrf, signed_in
from tests.fakes.smtp_server import FakeSmtp
from tests.fakes.telegram_api import FakeTelegram
from tests.web.pages import parse

KEPT = ("contacts", "consents", "events", "dispatches", "dispatch_status_changes", "responses", "answers", "alerts",
        "chat_links", "surveys", "survey_versions")


def counts(app) -> dict[str, int]:
    with app.app_context():
        found = {name: db.session.scalar(sa.text(f"SELECT COUNT(*) FROM {name}")) for name in KEPT}
        db.session.remove()
        return found


def new_survey(app, **overrides) -> int:
    with app.app_context():
        survey_id = factories.survey(**overrides).id
        db.session.remove()
        return survey_id


@pytest.fixture
def designer(app):
    return signed_in(app, "designer")


@pytest.fixture
def survey_id(app):
    return new_survey(app)


def panel_of(client, survey_id: int, query: str = "") -> tuple[str, object]:
    page = client.get(f"/console/surveys/{survey_id}/preview{query}")
    assert page.status_code == 200, page.get_data(as_text=True)
    text = page.get_data(as_text=True)
    return text, parse(text)


def test_the_panel_shows_each_channel_as_it_would_go_out(designer, survey_id):
    text, page = panel_of(designer, survey_id, "?locale=fa")
    bubble = re.search(r'<p class="sms-bubble" lang="fa" dir="rtl">(.*?)</p>', text, re.S)
    assert bubble and "/s/" + "x" * 22 + "." + "y" * 22 in bubble.group(1)
    facts = " ".join(re.search(r'<p class="sms-facts">(.*?)</p>', text, re.S).group(1).split())
    assert re.fullmatch(r"\d+ segments · <span dir=\"ltr\">UCS-2</span> · \d+ characters · est\. \$0\.\d+", facts), facts
    keys = [e for e in page.all("span") if e.attrs.get("class") == "tg-key"]
    assert len(keys) == 11 and 'aria-label="Buttons under the message"' in text
    assert "<button" not in text.split('class="tg-chat"')[1].split("</section>")[0]  # drawn, not pressable
    frames = {e.attrs["class"]: html_lib.unescape(e.attrs["src"]) for e in page.all("iframe")}
    assert frames == {"preview-frame preview-email": f"/console/surveys/{survey_id}/preview/email?locale=fa",
                      "preview-frame preview-web": f"/console/surveys/{survey_id}/preview/web?locale=fa"}
    assert all(e.attrs["sandbox"] == "" and e.attrs["title"] for e in page.all("iframe"))
    languages = [e.attrs["href"] for e in page.all("a") if "preview?locale=" in e.attrs.get("href", "")]
    assert languages == [f"/console/surveys/{survey_id}/preview?locale={c}" for c in ("en", "tr", "fa")]
    assert page.all("a", **{"aria-current": "page", "lang": "fa"})


def test_the_cost_follows_the_configured_price_and_the_users_language(app, database_url, tmp_path, survey_id):
    priced = create_app(make_env(database_url, SURVEYD_SMS_SEGMENT_PRICE="0.05", SURVEYD_SMS_CURRENCY="EUR"),
                        instance_path=str(tmp_path))
    client = signed_in(priced, "designer")
    text, _ = panel_of(client, survey_id, "?locale=en")
    with priced.app_context():
        segments = previews.preview(surveys.get_survey(survey_id), None, "en").sms.segments
        db.session.remove()
    assert f"est. €{0.05 * segments:.2f}" in text
    client.post("/console/language", data={"csrf_token": csrf(client, "/console/password"), "locale": "fa"})
    persian, _ = panel_of(client, survey_id, "?locale=en")
    assert "هزینهٔ تخمینی" in persian and "۰" in persian.split("هزینهٔ تخمینی")[1][:30]


def test_the_email_frame_is_the_rendered_email_framable_by_the_console_only(designer, survey_id, app):
    response = designer.get(f"/console/surveys/{survey_id}/preview/email?locale=tr")
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in policy and "script-src" not in policy and "default-src 'none'" in policy
    assert "sandbox" in policy and "form-action 'none'" in policy
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    with app.app_context():
        survey = surveys.get_survey(survey_id)
        expected = previews.preview(survey, None, "tr").email.html
        db.session.remove()
    assert response.get_data(as_text=True) == expected and '<html lang="tr"' in expected
    other = designer.get(f"/console/surveys/{survey_id}/preview")  # every other console page stays unframable
    assert other.headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in other.headers["Content-Security-Policy"]


def test_the_web_frame_is_the_survey_page_with_a_form_that_posts_nowhere(designer, survey_id):
    first = designer.get(f"/console/surveys/{survey_id}/preview/web?locale=en")
    assert first.status_code == 200 and "frame-ancestors 'self'" in first.headers["Content-Security-Policy"]
    page = parse(first.get_data(as_text=True))
    assert len(page.radios()) == 11 and "How likely" in page.text
    assert designer.post(f"/console/surveys/{survey_id}/preview/web?locale=en", data={"score": "3"}).status_code == 405
    after = parse(designer.get(f"/console/surveys/{survey_id}/preview/web?locale=en&after=negative")
                  .get_data(as_text=True))
    assert after.all("textarea") and not after.radios()


@pytest.mark.parametrize("frame", ["email", "web"])
@pytest.mark.parametrize("query, status", [
    ("?locale=de", 400), ("", 400), ("?locale=en&version=x", 400), ("?locale=en&version=9", 404),
    ("?locale=en&draft=forged", 400),
])
def test_a_frame_refuses_what_it_cannot_show(designer, survey_id, frame, query, status):
    assert designer.get(f"/console/surveys/{survey_id}/preview/{frame}{query}").status_code == status


def test_the_web_frame_shows_the_pages_after_a_score_and_nothing_else(designer, survey_id):
    path = f"/console/surveys/{survey_id}/preview/web?locale=en&after="
    assert [designer.get(path + step).status_code for step in ("negative", "neutral", "positive", "sideways")] == \
        [200, 200, 200, 400]


def test_unknown_surveys_are_not_found(designer):
    for path in ("/preview", "/preview/email?locale=en", "/preview/web?locale=en"):
        assert designer.get(f"/console/surveys/999999{path}").status_code == 404
    token = csrf(designer, "/console/password")
    assert designer.post("/console/surveys/999999/test", data={"csrf_token": token, "channel": "sandbox",
                                                               "locale": "en"}).status_code == 404


def test_an_unknown_language_is_said_and_the_first_one_shown(designer, survey_id):
    response = designer.get(f"/console/surveys/{survey_id}/preview?locale=de")
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "no texts in that language" in text and 'class="sms-bubble" lang="en"' in text


def test_a_draft_reaches_its_frames_signed_and_for_its_own_survey_only(app, designer, survey_id):
    other_id = new_survey(app)
    with app.test_request_context(f"/console/surveys/{survey_id}", method="POST"):
        survey = surveys.get_survey(survey_id)
        latest = survey.latest
        questions = [{**latest.questions[0], "text": {**latest.questions[0]["text"], "en": "Would you send a friend?"}},
                     *latest.questions[1:]]
        before = len(survey.versions)
        panel = str(preview_panel(survey, {"locales": latest.locales, "questions": questions, "alert": latest.alert,
                                           "email": {"subject": {"en": "Hi {name}, a question"}}}, "en"))
        assert len(survey.versions) == before
        db.session.remove()
    assert "Would you send a friend?" in panel and "Your unsaved changes" in panel and "Hi Sam, a question" in panel
    assert "Save your changes to send yourself a test" in panel and "preview-test-form" not in panel
    frames = {e.attrs["class"]: html_lib.unescape(e.attrs["src"]) for e in parse(panel).all("iframe")}
    email = designer.get(frames["preview-frame preview-email"])
    assert email.status_code == 200 and "Would you send a friend?" in email.get_data(as_text=True)
    assert "Would you send a friend?" in designer.get(frames["preview-frame preview-web"]).get_data(as_text=True)
    elsewhere = frames["preview-frame preview-web"].replace(f"/surveys/{survey_id}/", f"/surveys/{other_id}/")
    assert designer.get(elsewhere).status_code == 400
    assert counts(app)["survey_versions"] == 2


def test_agents_reach_none_of_it(app, survey_id):
    agent = signed_in(app, "agent")
    for path in ("/preview", "/preview/email?locale=en", "/preview/web?locale=en"):
        assert agent.get(f"/console/surveys/{survey_id}{path}").status_code == 403
    token = csrf(agent, "/console/password")
    assert agent.post(f"/console/surveys/{survey_id}/test", data={"csrf_token": token, "channel": "sandbox",
                                                                  "locale": "en"}).status_code == 403


# --- Send me a test ---------------------------------------------------------------------------------------------


@pytest.fixture
def smtp():
    with FakeSmtp() as fake:
        yield fake


@pytest.fixture
def telegram():
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def providers(app, database_url, tmp_path, smtp, telegram):
    """The console with real email and Telegram adapters pointed at the local fakes (no sandbox)."""
    served = create_app(make_env(
        database_url, SURVEYD_SANDBOX="0", SURVEYD_SMTP_HOST=smtp.host, SURVEYD_SMTP_PORT=str(smtp.port),
        SURVEYD_SMTP_STARTTLS="0", SURVEYD_MAIL_FROM="Acme CX <cx@acme.example>",
        SURVEYD_TELEGRAM_BOT_TOKEN=telegram.token, SURVEYD_TELEGRAM_API_BASE=telegram.base_url,
        SURVEYD_TELEGRAM_BOT_USERNAME=telegram.username, SURVEYD_SEND_TIMEOUT_SECONDS="3",
    ), instance_path=str(tmp_path))
    served.config["TESTING"] = True
    yield served
    with served.app_context():
        for adapter in channels.adapters().values():
            getattr(getattr(adapter, "client", adapter), "close", lambda: None)()


def sending_form(client, survey_id: int, query: str = "?locale=en") -> dict:
    """The "Send me a test" form's fields, as a browser would post them from the preview page."""
    text, _ = panel_of(client, survey_id, query)
    return as_dict(form_fields(text, "preview-test-form"))


def test_an_email_test_reaches_the_users_own_mailbox_marked_with_inert_links(providers, smtp, survey_id):
    client = signed_in(providers, "designer", "dana@acme.example")
    fields = sending_form(client, survey_id, "?locale=fa")
    assert fields["channel"] == ["email"] and fields["locale"] == ["fa"]
    before = counts(providers)
    response = client.post(f"/console/surveys/{survey_id}/test", data=fields)
    assert response.status_code == 302 and response.headers["Location"] == \
        f"/console/surveys/{survey_id}/preview?locale=fa"
    (mail,) = smtp.wait_for(1)
    message = mail.message
    assert mail.rcpt_tos == ["dana@acme.example"] and message["Subject"].startswith("[Test] ")
    html = message.get_body(("html",)).get_content()
    sample = "/s/" + "x" * 22 + "." + "y" * 22  # messages.sample_link's token: a link as long as a real one
    assert f"{sample}?score=10" in html and 'lang="fa"' in html
    assert counts(providers) == before
    assert "Your test is on its way to your email address." in client.get(response.headers["Location"]).get_data(
        as_text=True)


def test_a_telegram_test_needs_a_linked_account_and_then_reaches_it(providers, telegram, survey_id):
    client = signed_in(providers, "designer", "dana@acme.example")
    fields = {**sending_form(client, survey_id), "channel": "telegram"}
    refused = client.post(f"/console/surveys/{survey_id}/test", data=fields)
    text = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "Your Telegram account is not linked" in text
    assert "surveyd user telegram-link --email dana@acme.example" in text and telegram.sent == []
    with providers.app_context():
        db.session.scalar(sa.select(User).where(User.email == "dana@acme.example")).telegram_user_id = "424242"
        db.session.commit()
    before = counts(providers)
    assert client.post(f"/console/surveys/{survey_id}/test", data=fields).status_code == 302
    (sent,) = telegram.sent
    assert sent["chat_id"] == 424242 and sent["text"].startswith("[Test] ")
    assert counts(providers) == before


def test_a_test_without_its_csrf_token_sends_nothing(providers, smtp, survey_id):
    client = signed_in(providers, "designer")
    fields = sending_form(client, survey_id)
    fields.pop("csrf_token")
    response = client.post(f"/console/surveys/{survey_id}/test", data=fields)
    assert response.status_code == 400 and "This form has expired" in response.get_data(as_text=True)
    assert smtp.messages == []


@pytest.mark.parametrize("change, status, said", [
    ({"channel": "sms"}, 400, "Choose where the test goes"),
    ({"channel": "sandbox"}, 400, "The sandbox is off on this server."),
    ({"locale": "de"}, 400, "This version has no texts in that language."),
    ({"version": "7"}, 404, None),
    ({"version": "x"}, 400, None),
])
def test_a_test_that_cannot_go_is_refused_and_sends_nothing(providers, smtp, telegram, survey_id, change, status, said):
    client = signed_in(providers, "admin")
    response = client.post(f"/console/surveys/{survey_id}/test", data={**sending_form(client, survey_id), **change})
    assert response.status_code == status
    if said:
        text = response.get_data(as_text=True)
        assert said in text and 'class="error-summary"' in text
        summary = re.search(r'<div class="error-summary".*?</div>', text, re.S).group(0)
        assert all(f'id="{target}"' in text for target in re.findall(r'href="#([^"]+)"', summary))
    assert smtp.messages == [] and telegram.sent == []


def test_tests_are_rate_limited_per_user(providers, smtp, survey_id):
    client = signed_in(providers, "designer")
    with providers.app_context():
        cache = providers.extensions.setdefault("surveyd.channels", {})
        cache["limiter"] = MemoryLimiter(clock=lambda: 50.0)  # time stands still: no token comes back
    fields = sending_form(client, survey_id)
    for _ in range(previews.TEST_BURST):
        assert client.post(f"/console/surveys/{survey_id}/test", data=fields).status_code == 302
    refused = client.post(f"/console/surveys/{survey_id}/test", data=fields)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "12"
    assert "several tests in a short while" in refused.get_data(as_text=True)
    assert len(smtp.wait_for(previews.TEST_BURST)) == previews.TEST_BURST


def test_a_sandbox_test_shows_in_the_sandbox(app, designer, survey_id):
    fields = sending_form(designer, survey_id, "?locale=tr")
    assert fields["channel"] == ["email"]  # email is sandboxed here; the sandbox is offered as well
    before = counts(app)
    response = designer.post(f"/console/surveys/{survey_id}/test", data={**fields, "channel": "sandbox"})
    assert response.status_code == 302
    assert "Your test is in the sandbox." in designer.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        kept = {row.channel.value: row.recipient for row in db.session.scalars(sa.select(SandboxMessage))}
        db.session.remove()
    assert kept == {"email": "designer@example.com", "sms": previews.SAMPLE_PHONE, "telegram": previews.SAMPLE_CHAT}
    assert counts(app) == before
    sandbox = designer.get("/sandbox").get_data(as_text=True)
    assert "[Deneme]" not in sandbox and "[Test]" in sandbox  # marked in the staff user's own language


def test_the_designer_page_offers_the_test_and_comes_back_to_itself(app, designer, survey_id):
    page = designer.get(f"/console/surveys/{survey_id}")
    assert page.status_code == 200
    fields = as_dict(form_fields(page.get_data(as_text=True), "preview-test-form"))
    assert fields["next"] == [f"/console/surveys/{survey_id}"]
    response = designer.post(f"/console/surveys/{survey_id}/test", data={**fields, "channel": "sandbox"})
    assert response.status_code == 302 and response.headers["Location"] == f"/console/surveys/{survey_id}"
    elsewhere = designer.post(f"/console/surveys/{survey_id}/test",
                              data={**fields, "channel": "sandbox", "next": "https://evil.example/"})
    assert elsewhere.headers["Location"] == "/console/"


def test_a_designer_may_send_a_test_with_email_sandboxed(app, designer, survey_id):
    fields = sending_form(designer, survey_id)
    response = designer.post(f"/console/surveys/{survey_id}/test", data=fields)
    assert response.status_code == 302
    with app.app_context():
        rows = list(db.session.scalars(sa.select(SandboxMessage)))
        db.session.remove()
    assert [(r.channel, r.recipient, r.subject.startswith("[Test] ")) for r in rows] == \
        [(Channel.EMAIL, "designer@example.com", True)]
