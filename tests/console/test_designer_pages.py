"""The survey designer in the console: the list, a new survey from a template, the editor (every locale side by
side, follow-ups added, moved and removed without JavaScript, the alert rule and its targets, the email wording),
saving through the same service as the API, refusals that change nothing, and the version history."""
from __future__ import annotations

import re

import pytest

from surveyd.extensions import db
from surveyd.services.design import surveys
from tests.api.helpers import create_survey, create_trigger, ok, snapshot, survey_answer
from tests.console.form_fields import as_dict, form_fields
from tests.console.staff import csrf, signed_in

SLACK = "https://hooks.slack.com/services/T000/B000/SECRETPART"


@pytest.fixture
def designer(app):
    return signed_in(app, "designer")


def editor(client, survey_id: int) -> tuple[str, dict[str, list[str]]]:
    """The editor page and the fields a browser would post from it."""
    page = client.get(f"/console/surveys/{survey_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    return html, as_dict(form_fields(html, "designer"))


def press(client, survey_id: int, fields: dict, action: str):
    return client.post(f"/console/surveys/{survey_id}", data={**fields, "action": action})


def stored(app, survey_id: int):
    with app.app_context():
        survey = surveys.get_survey(survey_id)
        found = survey.current_version, survey.latest.locales, survey.latest.questions, survey.latest.alert, \
            survey.latest.email
        db.session.remove()
        return found


def errors_on(html: str) -> list[str]:
    """The error summary's links: the ids of the fields it leads to."""
    summary = re.search(r'<div class="error-summary".*?</div>', html, re.S)
    assert summary, "no error summary"
    return re.findall(r'href="#([^"]+)"', summary.group(0))


def test_the_list_shows_every_survey_with_its_version_languages_and_answers(app, api, client, designer):
    survey = create_survey(api, name="Delivery NPS", locales=["en", "fa"])
    create_trigger(api, survey["id"])
    survey_answer(api, client, 9)
    page = designer.get("/console/surveys").get_data(as_text=True)
    row = re.search(r"<tr>\s*<th scope=\"row\"><a href=\"/console/surveys/%d\">Delivery NPS</a>.*?</tr>" % survey["id"],
                    page, re.S)
    assert row, page
    assert "Net Promoter Score" in row.group(0) and 'lang="fa">فارسی</span>' in row.group(0)
    assert re.search(r'<td class="num">1</td>', row.group(0))  # one answer


def test_a_new_survey_from_a_template_in_the_languages_chosen(app, api, designer):
    assert designer.get("/console/surveys/new").status_code == 200
    token = csrf(designer, "/console/surveys/new")
    made = designer.post("/console/surveys/new", data={"csrf_token": token, "name": "Support CSAT",
                                                       "template": "csat", "locales": ["en", "fa"]})
    assert made.status_code == 302
    survey_id = int(made.headers["Location"].rsplit("/", 1)[1])
    body = ok(api.get(f"/surveys/{survey_id}"), 200)
    assert (body["name"], body["kind"], body["locales"], body["version"]) == ("Support CSAT", "csat", ["en", "fa"], 1)
    assert "The survey is created." in designer.get(made.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize("form, message", [
    ({"template": "", "locales": ["en"]}, "Choose a template to start from."),
    ({"template": "bogus", "locales": ["en"]}, "Choose a template to start from."),
    ({"template": "nps", "locales": []}, "Choose at least one language."),
    ({"template": "nps", "locales": ["xx"]}, "Choose at least one language."),
    ({"template": "nps", "locales": ["en"], "name": "x" * 300}, None),  # cut to 200: accepted, see below
])
def test_a_new_survey_refuses_what_is_missing_and_creates_nothing(app, designer, form, message):
    before = snapshot(app, "surveys", "survey_versions")
    response = designer.post("/console/surveys/new", data={"csrf_token": csrf(designer, "/console/surveys/new"),
                                                           **form})
    if message is None:
        assert response.status_code == 302
        return
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert snapshot(app, "surveys", "survey_versions") == before


def test_a_new_survey_without_the_form_token_is_refused(app, designer):
    before = snapshot(app, "surveys")
    response = designer.post("/console/surveys/new", data={"template": "nps", "locales": ["en"]})
    assert response.status_code == 400 and "This form has expired" in response.get_data(as_text=True)
    assert snapshot(app, "surveys") == before


def test_every_locale_sits_side_by_side_and_persian_runs_right_to_left(api, designer):
    survey = create_survey(api, locales=["en", "tr", "fa"])
    html, fields = editor(designer, survey["id"])
    for code, direction in (("en", "ltr"), ("tr", "ltr"), ("fa", "rtl")):
        field = re.search(r'<textarea id="q-0-text-%s"[^>]*>' % code, html)
        assert field and f'lang="{code}"' in field.group(0) and f'dir="{direction}"' in field.group(0)
        assert fields[f"q-0-text-{code}"][0].strip()  # the template's words
    assert '<label for="q-0-text-fa" lang="fa">فارسی</label>' in html


def test_saving_what_is_already_saved_keeps_the_version(app, api, designer):
    survey = create_survey(api)
    _, fields = editor(designer, survey["id"])
    saved = press(designer, survey["id"], fields, "save")
    assert saved.status_code == 302
    assert stored(app, survey["id"])[0] == 1
    assert "the version is the same" in designer.get(saved.headers["Location"]).get_data(as_text=True)


def test_a_changed_text_makes_a_new_version_and_old_answers_keep_theirs(app, api, client, designer):
    survey = create_survey(api, locales=["en", "fa"])
    create_trigger(api, survey["id"])
    survey_answer(api, client, 3)
    _, fields = editor(designer, survey["id"])
    old_text = fields["q-0-text-fa"][0]
    fields["q-0-text-fa"] = ["چقدر احتمال دارد ما را به دوستانتان پیشنهاد کنید؟"]
    assert press(designer, survey["id"], fields, "save").status_code == 302
    version, _, questions, _, _ = stored(app, survey["id"])
    assert version == 2 and questions[0]["text"]["fa"] == "چقدر احتمال دارد ما را به دوستانتان پیشنهاد کنید؟"
    history = designer.get(f"/console/surveys/{survey['id']}/versions").get_data(as_text=True)
    rows = re.findall(r"<th scope=\"row\">Version (\d)[^<]*(?:<span[^>]*>[^<]*</span>)?</th>\s*<td>[^<]*</td>\s*"
                      r"<td class=\"num\">(\d+)</td>", history)
    assert rows == [("2", "0"), ("1", "1")]  # newest first; the answer saw version 1
    assert "Questions › score › Question › <span lang=\"fa\">فارسی</span>" in history
    assert old_text in history and "دوستانتان" in history


def test_follow_ups_are_added_moved_and_removed_without_javascript(app, api, designer):
    survey = create_survey(api, locales=["en"])
    html, fields = editor(designer, survey["id"])
    ids = [fields[f"q-{i}-id"][0] for i in range(int(fields["q-count"][0]))]
    assert ids == ["score", "improve", "missing", "liked"]

    page = press(designer, survey["id"], fields, "add-choice")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Changed on this page only" in html and 'id="q-4-id"' in html and "autofocus" in html
    assert stored(app, survey["id"])[0] == 1  # nothing saved yet
    fields = as_dict(form_fields(html, "designer"))
    assert fields["q-4-type"] == ["choice"] and fields["q-4-opt-count"] == ["2"]
    fields.update({"q-4-id": ["channel"], "q-4-text-en": ["Where did you order?"],
                   "q-4-opt-0-id": ["app"], "q-4-opt-0-label-en": ["In the app"],
                   "q-4-opt-1-id": ["web"], "q-4-opt-1-label-en": ["On the website"],
                   "q-4-bands": ["negative", "neutral"]})
    fields = as_dict(form_fields(press(designer, survey["id"], fields, "add-opt-4").get_data(as_text=True), "designer"))
    fields.update({"q-4-opt-2-id": ["phone"], "q-4-opt-2-label-en": ["By phone"]})
    html = press(designer, survey["id"], fields, "up-q-4").get_data(as_text=True)
    fields = as_dict(form_fields(html, "designer"))
    assert [fields[f"q-{i}-id"][0] for i in range(5)] == ["score", "improve", "missing", "channel", "liked"]
    for action in ("remove-q-1", "up-q-3", "up-q-2"):
        fields = as_dict(form_fields(press(designer, survey["id"], fields, action).get_data(as_text=True), "designer"))
    assert press(designer, survey["id"], fields, "save").status_code == 302

    version, _, questions, _, _ = stored(app, survey["id"])
    assert version == 2 and [q["id"] for q in questions] == ["score", "liked", "missing", "channel"]
    choice = questions[3]
    assert choice["type"] == "choice" and choice["bands"] == ["negative", "neutral"]
    assert [(o["id"], o["label"]["en"]) for o in choice["options"]] == [
        ("app", "In the app"), ("web", "On the website"), ("phone", "By phone")]
    history = designer.get(f"/console/surveys/{survey['id']}/versions").get_data(as_text=True)
    assert "Questions › improve</th>" in history and "Questions › channel</th>" in history
    assert "Questions › Order</th>" in history  # liked moved before missing


def test_moving_the_score_question_or_past_the_ends_changes_nothing(api, designer):
    survey = create_survey(api, locales=["en"])
    _, fields = editor(designer, survey["id"])
    for action in ("up-q-1", "down-q-3", "remove-q-0", "up-q-0", "remove-q-9", "add-opt-1", "remove-opt-1-0"):
        html = press(designer, survey["id"], fields, action).get_data(as_text=True)
        after = as_dict(form_fields(html, "designer"))
        assert [after[f"q-{i}-id"][0] for i in range(4)] == ["score", "improve", "missing", "liked"], action


def test_a_new_language_on_a_template_survey_starts_with_the_templates_words(app, api, designer):
    survey = create_survey(api, locales=["en"])
    _, fields = editor(designer, survey["id"])
    fields["locales"] = ["en", "tr"]
    html = press(designer, survey["id"], fields, "locales").get_data(as_text=True)
    fields = as_dict(form_fields(html, "designer"))
    assert fields["q-0-text-tr"][0].strip() and fields["q-0-text-tr"] != fields["q-0-text-en"]
    fields["default-locale"] = ["tr"]
    assert press(designer, survey["id"], fields, "save").status_code == 302
    version, locales, questions, _, _ = stored(app, survey["id"])
    assert version == 2 and locales == ["tr", "en"] and questions[0]["text"]["tr"] == fields["q-0-text-tr"][0]


@pytest.mark.parametrize("change, field, message", [
    ({"q-0-text-fa": [""]}, "q-0-text-fa", "Missing text for locale(s): fa."),
    ({"name": [""]}, "name", "Enter a name for the survey."),
    ({"locales": []}, "locales", "Choose at least one language."),
    ({"alert-threshold": ["abc"]}, "alert-threshold", "Enter a whole number."),
    ({"alert-threshold": ["10"]}, "alert-threshold", "Must be from 0 to 9."),
    ({"alert-sla": ["0"]}, "alert-sla", None),
    ({"q-2-id": ["improve"]}, "q-2-id", "Duplicate question id"),
    ({"q-1-id": ["Not An Id"]}, "q-1-id", None),
    ({"q-1-bands": []}, "q-1-bands-negative", None),
    ({"email-subject-en": ["Order {order_id"]}, "email-subject-en", "Placeholders are bare names"),
    ({"email-subject-en": ["two\nlines"]}, "email-subject-en", "A subject is one line."),
    ({"notify-count": ["1"], "notify-0-channel": ["email"], "notify-0-address": ["not-an-email"]},
     "notify-0-address", None),
    ({"notify-count": ["1"], "notify-0-channel": ["email"], "notify-0-address": [""]},
     "notify-0-address", "Enter the email address to send alerts to."),
    ({"notify-count": ["1"], "notify-0-channel": ["slack"], "notify-0-address": ["https://127.0.0.1/hook"]},
     "notify-0-address", "This address is this machine"),
    ({"notify-count": ["1"], "notify-0-channel": ["pigeon"], "notify-0-address": ["x"]}, "notify-0-channel", None),
])
def test_a_refused_edit_points_at_its_field_and_changes_nothing(app, api, designer, change, field, message):
    survey = create_survey(api, locales=["en", "fa"])
    _, fields = editor(designer, survey["id"])
    before = snapshot(app, "surveys", "survey_versions")
    response = press(designer, survey["id"], {**fields, **change}, "save")
    html = response.get_data(as_text=True)
    assert response.status_code == 400, html
    assert field in errors_on(html), (errors_on(html), html[:3000])
    assert re.search(r'id="%s"' % re.escape(field), html)  # the link lands on a real control
    if message:
        assert message in html
    assert snapshot(app, "surveys", "survey_versions") == before
    assert stored(app, survey["id"])[0] == 1


def test_a_slack_url_is_never_shown_and_is_kept_when_left_empty(app, api, designer):
    survey = create_survey(api, locales=["en"], alert={"notify": [{"channel": "slack", "url": SLACK,
                                                                   "when": {"score_max": 3}}]})
    html, fields = editor(designer, survey["id"])
    assert "SECRETPART" not in html and "hooks.slack.com" not in html
    assert fields["notify-0-address"] == [""] and "A URL is saved" in html and "score_max" in html
    fields["alert-threshold"] = ["5"]
    assert press(designer, survey["id"], fields, "save").status_code == 302
    version, _, _, alert, _ = stored(app, survey["id"])
    assert version == 2 and alert["threshold"] == 5
    assert alert["notify"] == [{"channel": "slack", "url": SLACK, "when": {"score_max": 3}}]
    # Switching the target to email does not carry the secret over.
    _, fields = editor(designer, survey["id"])
    fields.update({"notify-0-channel": ["webhook"]})
    response = press(designer, survey["id"], fields, "save")
    assert response.status_code == 400 and "notify-0-address" in errors_on(response.get_data(as_text=True))


def test_alert_targets_and_email_wording_are_saved(app, api, designer):
    survey = create_survey(api, locales=["en", "fa"])
    _, fields = editor(designer, survey["id"])
    html = press(designer, survey["id"], fields, "add-notify").get_data(as_text=True)
    fields = as_dict(form_fields(html, "designer"))
    fields.update({"notify-0-channel": ["email"], "notify-0-address": ["care@example.com"], "notify-0-locale": ["fa"],
                   "alert-keywords": ["refund, Broken "], "alert-sla": ["90"],
                   "email-subject-en": ["How was order {order_id}?"], "email-subject-fa": ["سفارش {order_id} چطور بود؟"]})
    assert press(designer, survey["id"], fields, "save").status_code == 302
    _, _, _, alert, email = stored(app, survey["id"])
    assert alert["notify"] == [{"channel": "email", "to": "care@example.com", "locale": "fa"}]
    assert alert["keywords"] == ["refund", "broken"] and alert["sla_minutes"] == 90
    assert email == {"subject": {"en": "How was order {order_id}?", "fa": "سفارش {order_id} چطور بود؟"}}
    # Removing the target and the SLA, and emptying the wording, saves that too.
    _, fields = editor(designer, survey["id"])
    fields = as_dict(form_fields(press(designer, survey["id"], fields, "remove-notify-0").get_data(as_text=True),
                                 "designer"))
    fields.update({"alert-sla": [""], "email-subject-en": [""], "email-subject-fa": [""]})
    assert press(designer, survey["id"], fields, "save").status_code == 302
    _, _, _, alert, email = stored(app, survey["id"])
    assert alert["notify"] == [] and "sla_minutes" not in alert and email is None


def test_the_editor_refuses_a_post_without_its_token_an_unknown_button_and_an_unknown_survey(app, api, designer):
    survey = create_survey(api, locales=["en"])
    _, fields = editor(designer, survey["id"])
    before = snapshot(app, "surveys", "survey_versions")
    fields["q-0-text-en"] = ["Changed?"]
    no_token = {key: value for key, value in fields.items() if key != "csrf_token"}
    response = press(designer, survey["id"], no_token, "save")
    assert response.status_code == 400 and "This form has expired" in response.get_data(as_text=True)
    response = press(designer, survey["id"], fields, "drop-tables")
    assert response.status_code == 400 and "That button is not one" in response.get_data(as_text=True)
    assert snapshot(app, "surveys", "survey_versions") == before
    assert designer.get("/console/surveys/999999").status_code == 404
    assert press(designer, 999999, fields, "save").status_code == 404
    assert designer.get("/console/surveys/999999/versions").status_code == 404


def test_the_history_compares_any_two_versions_and_refuses_unknown_ones(app, api, designer):
    survey = create_survey(api, locales=["en"])
    api.patch(f"/surveys/{survey['id']}", json={"alert": {"threshold": 4}})
    api.patch(f"/surveys/{survey['id']}", json={"locales": ["en", "tr"]})
    page = designer.get(f"/console/surveys/{survey['id']}/versions", query_string={"a": 1, "b": 3})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Alerts › Alert at or below</th>" in html and "Languages</th>" in html
    same = designer.get(f"/console/surveys/{survey['id']}/versions", query_string={"a": 2, "b": 2})
    assert "Versions 2 and 2 say the same." in same.get_data(as_text=True)
    for query in ({"a": 9, "b": 1}, {"a": 1, "b": 0}):
        assert designer.get(f"/console/surveys/{survey['id']}/versions", query_string=query).status_code == 404


def test_agents_cannot_open_the_designer(app, api):
    survey = create_survey(api, locales=["en"])
    agent = signed_in(app, "agent")
    for path in ("/console/surveys", "/console/surveys/new", f"/console/surveys/{survey['id']}"):
        assert agent.get(path).status_code == 403


def test_a_tampered_form_missing_a_languages_field_is_refused_not_a_crash(app, api, designer):
    survey = create_survey(api, locales=["en", "fa"])
    _, fields = editor(designer, survey["id"])
    del fields["q-1-text-fa"]
    before = snapshot(app, "surveys", "survey_versions")
    response = press(designer, survey["id"], fields, "save")
    assert response.status_code == 400 and "q-1-text-fa" in errors_on(response.get_data(as_text=True))
    assert snapshot(app, "surveys", "survey_versions") == before
    for broken in ({"q-count": ["999"]}, {"q-count": ["-1"]}, {"notify-count": ["abc"]}, {"q-0-type": ["text"]}):
        assert press(designer, survey["id"], {**fields, **broken}, "save").status_code in (400, 302)
    assert stored(app, survey["id"])[0] in (1, 2)
