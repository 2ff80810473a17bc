"""Surveys over the API: built-in templates, custom questions, versions, and refusals."""
from __future__ import annotations

import pytest

from tests.api.helpers import (
    answer, check_each, create_survey, create_trigger, error_of, fire, ok, responses, snapshot, web_dispatch,
)

LOCALES = ["en", "tr", "fa"]
SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
DEFAULT_THRESHOLDS = {"nps": 6, "csat": 2, "ces": 3}
FOLLOW_UPS = {"nps": ["improve", "missing", "liked"], "csat": ["improve", "liked"], "ces": ["obstacle", "liked"]}


def custom_questions(locales=("en", "tr")) -> list[dict]:
    def texts(word):
        return {code: f"{word} ({code})" for code in locales}

    return [
        {"id": "score", "type": "scale", "text": texts("How satisfied?"), "low_label": texts("Bad"), "high_label": texts("Good")},
        {"id": "what_wrong", "type": "choice", "text": texts("What went wrong?"), "bands": ["negative"],
         "options": [{"id": "late", "label": texts("Late")}, {"id": "damaged", "label": texts("Damaged")}]},
        {"id": "tell_more", "type": "text", "text": texts("Tell us more"), "bands": ["negative", "neutral"]},
        {"id": "praise", "type": "text", "text": texts("What did you like?"), "bands": ["positive"]},
    ]


@pytest.mark.parametrize("kind", ["nps", "csat", "ces"])
def test_create_from_builtin_template_in_three_locales(api, kind):
    body = create_survey(api, name=f"My {kind}", kind=kind, locales=LOCALES)

    assert isinstance(body["id"], int)
    assert body["name"] == f"My {kind}"
    assert body["kind"] == kind
    assert body["template"] == kind
    assert body["version"] == 1
    assert body["locales"] == LOCALES
    low, high = SCALES[kind]
    assert body["scale"] == {"min": low, "max": high, "direction": "higher_is_better"}
    assert body["alert"]["threshold"] == DEFAULT_THRESHOLDS[kind]
    assert body["alert"]["keywords"] == []
    questions = body["questions"]
    assert [q["id"] for q in questions] == ["score", *FOLLOW_UPS[kind]]
    assert questions[0]["type"] == "scale"
    assert all(q["type"] == "text" for q in questions[1:])
    for question in questions:
        assert set(question["text"]) == set(LOCALES), question
        assert all(isinstance(t, str) and t.strip() for t in question["text"].values()), question
    # The scale labels exist in every locale as well, and the languages really differ.
    for label in ("low_label", "high_label"):
        assert set(questions[0][label]) == set(LOCALES)
    assert len(set(questions[0]["text"].values())) == 3


def test_create_without_locales_offers_every_locale(api):
    body = ok(api.post("/surveys", json={"name": "All", "kind": "csat"}), 201)
    # Without locales, every locale the server offers.
    assert set(body["locales"]) >= set(LOCALES)
    assert body["locales"][0] == "en"


def test_create_with_explicit_template_id(api):
    body = create_survey(api, kind="ces", template="ces", locales=["tr"])
    assert body["template"] == "ces"
    assert body["locales"] == ["tr"]
    assert set(body["questions"][0]["text"]) == {"tr"}


def test_create_with_custom_questions_and_alert_rule(api):
    questions = custom_questions()
    alert = {"threshold": 1, "keywords": ["Broken", " refund "],
             "notify": [{"channel": "email", "to": "cx@example.com"}, {"channel": "webhook", "url": "https://hooks.example.com/x"}]}
    body = create_survey(api, name="Custom CSAT", kind="csat", locales=["en", "tr"], questions=questions, alert=alert)

    assert body["template"] is None
    assert body["version"] == 1
    assert body["locales"] == ["en", "tr"]
    assert body["scale"] == {"min": 1, "max": 5, "direction": "higher_is_better"}
    assert body["questions"] == questions
    assert body["alert"]["threshold"] == 1
    assert body["alert"]["keywords"] == ["broken", "refund"]
    assert body["alert"]["notify"] == alert["notify"]


def test_custom_questions_follow_ups_depend_on_the_score_band(api, client):
    survey = create_survey(api, name="Custom CSAT", kind="csat", locales=["en", "tr"], questions=custom_questions())
    create_trigger(api, survey["id"])

    # Negative: the choice and the text follow-up are both asked; a choice outside the options is ignored.
    negative = web_dispatch(fire(api, external_id="neg"))
    page = client.post(negative["url"].replace("http://surveyd.test", ""), data={"score": "1"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "What went wrong? (en)" in html and "Tell us more (en)" in html and "What did you like?" not in html
    client.post(negative["url"].replace("http://surveyd.test", ""), data={"what_wrong": "late", "tell_more": "Two days late"})

    # Positive: only the praise question.
    positive = web_dispatch(fire(api, external_id="pos"))
    page = client.post(positive["url"].replace("http://surveyd.test", ""), data={"score": "5"})
    html = page.get_data(as_text=True)
    assert "What did you like? (en)" in html and "What went wrong?" not in html and "Tell us more" not in html
    client.post(positive["url"].replace("http://surveyd.test", ""), data={"praise": "Fast"})

    by_contact = {r["contact"]: r for r in responses(api, survey_id=survey["id"])}
    assert {a["question_id"]: a["value"] for a in by_contact["neg"]["answers"]} == {
        "score": 1, "what_wrong": "late", "tell_more": "Two days late"}
    assert {a["question_id"]: a["value"] for a in by_contact["pos"]["answers"]} == {"score": 5, "praise": "Fast"}
    assert by_contact["neg"]["band"] == "negative" and by_contact["pos"]["band"] == "positive"
    assert all(r["completed"] for r in by_contact.values())


def test_list_and_read(api):
    first = create_survey(api, name="A", kind="nps")
    second = create_survey(api, name="B", kind="csat")

    listed = ok(api.get("/surveys"), 200)["items"]
    assert [s["id"] for s in listed] == [first["id"], second["id"]]
    assert listed[0] == first and listed[1] == second

    read = ok(api.get(f"/surveys/{second['id']}"), 200)
    assert read == second


def test_unknown_survey_is_404(api):
    for response in (api.get("/surveys/999999"), api.patch("/surveys/999999", json={"name": "x"}),
                     api.get("/surveys/999999/metrics")):
        error = error_of(response, 404)
        assert error["code"] == "not_found"


def test_patch_makes_version_2_and_old_answers_keep_version_1(api, client):
    survey = create_survey(api, kind="nps", locales=["en"])
    create_trigger(api, survey["id"])
    before = web_dispatch(fire(api, external_id="early"))
    answer(client, before["url"], 9)
    pending = web_dispatch(fire(api, external_id="pending"))  # sent at version 1, answered after the change

    changed = ok(api.patch(f"/surveys/{survey['id']}", json={"alert": {"threshold": 4, "keywords": ["rude"]}}), 200)
    assert changed["version"] == 2
    assert changed["alert"]["threshold"] == 4 and changed["alert"]["keywords"] == ["rude"]
    assert changed["questions"] == survey["questions"]
    assert ok(api.get(f"/surveys/{survey['id']}"), 200)["version"] == 2

    after = web_dispatch(fire(api, external_id="late"))
    answer(client, after["url"], 3)
    answer(client, pending["url"], 10)

    versions = {r["contact"]: r["survey_version"] for r in responses(api, survey_id=survey["id"])}
    assert versions == {"early": 1, "pending": 1, "late": 2}
    assert ok(api.get(f"/dispatches/{before['id']}"), 200)["survey_version"] == 1
    assert ok(api.get(f"/dispatches/{after['id']}"), 200)["survey_version"] == 2


def test_patch_adding_a_locale_to_a_template_survey_takes_template_texts(api):
    survey = create_survey(api, kind="csat", locales=["en"])
    changed = ok(api.patch(f"/surveys/{survey['id']}", json={"locales": ["en", "fa"]}), 200)
    assert changed["version"] == 2
    assert changed["locales"] == ["en", "fa"]
    for question in changed["questions"]:
        assert set(question["text"]) == {"en", "fa"} and question["text"]["fa"].strip()


def test_patch_name_only_keeps_the_version(api):
    survey = create_survey(api, kind="nps")
    changed = ok(api.patch(f"/surveys/{survey['id']}", json={"name": "Renamed"}), 200)
    assert changed["name"] == "Renamed"
    assert changed["version"] == 1


def test_patch_cannot_change_kind(api, app):
    survey = create_survey(api, kind="nps")
    error = error_of(api.patch(f"/surveys/{survey['id']}", json={"kind": "csat"}), 422)
    assert "kind" in error["fields"]
    assert ok(api.get(f"/surveys/{survey['id']}"), 200) == survey


def test_patch_with_an_invalid_change_keeps_the_survey(api):
    survey = create_survey(api, kind="nps", locales=["en"])
    error = error_of(api.patch(f"/surveys/{survey['id']}", json={"alert": {"threshold": 10}}), 422)
    assert "alert.threshold" in error["fields"]
    error = error_of(api.patch(f"/surveys/{survey['id']}", json={"locales": ["xx"]}), 422)
    assert "locales" in error["fields"]
    assert ok(api.get(f"/surveys/{survey['id']}"), 200) == survey


INVALID_SURVEYS = [
    ({"name": "x", "kind": "nps", "template": "nope"}, "template"),
    ({"name": "x", "kind": "nps", "template": "csat"}, "template"),
    ({"name": "x", "kind": "nps", "locales": ["en", "xx"]}, "locales"),
    ({"name": "x", "kind": "nps", "locales": ["en", "en"]}, "locales"),
    ({"name": "x", "kind": "nps", "locales": []}, "locales"),
    ({"name": "x", "kind": "nps", "alert": {"threshold": 10}}, "alert.threshold"),
    ({"name": "x", "kind": "nps", "alert": {"threshold": -1}}, "alert.threshold"),
    ({"name": "x", "kind": "csat", "alert": {"threshold": 5}}, "alert.threshold"),
    ({"name": "x", "kind": "csat", "alert": {"threshold": 0}}, "alert.threshold"),
    ({"name": "x", "kind": "ces", "alert": {"threshold": 7}}, "alert.threshold"),
    ({"name": "x", "kind": "ces", "alert": {"notify": [{"channel": "email"}]}}, "alert"),
    ({"name": "x", "kind": "pulse"}, "kind"),
    ({"kind": "nps", "name": ""}, "name"),
    ({"kind": "nps"}, "name"),
    ({"name": "x"}, "kind"),
]


def test_invalid_survey_is_422_and_nothing_is_stored(api, app):
    def check(body, field):
        before = snapshot(app, "surveys", "survey_versions")
        error = error_of(api.post("/surveys", json=body), 422)
        assert error["code"] == "invalid"
        assert field in error["fields"], error
        assert snapshot(app, "surveys", "survey_versions") == before

    check_each(INVALID_SURVEYS, check)


def _questions_with(index: int, **changes) -> list[dict]:
    questions = custom_questions()
    questions[index] = {**questions[index], **changes}
    return questions


INVALID_QUESTIONS = [
    # A declared locale without its text.
    (_questions_with(0, text={"en": "How satisfied?"}), "questions.0.text"),
    (_questions_with(2, text={"en": "More?", "tr": "  "}), "questions.2.text"),
    (_questions_with(1, options=[{"id": "late", "label": {"en": "Late"}}, {"id": "damaged", "label": {"en": "D", "tr": "D"}}]),
     "questions.1.options.0.label"),
    # The first question must be the scale.
    (custom_questions()[1:], "questions.0.type"),
    # Only one scale question.
    (_questions_with(2, type="scale"), "questions.2.type"),
    (_questions_with(2, id="what_wrong"), "questions.2.id"),
    (_questions_with(2, id="Bad Id"), "questions.2.id"),
    (_questions_with(1, options=[{"id": "only", "label": {"en": "x", "tr": "x"}}]), "questions.1.options"),
    (_questions_with(2, bands=["awful"]), "questions"),
    (_questions_with(2, bands=[]), "questions.2.bands"),
]


def test_invalid_questions_are_422_with_the_field(api, app):
    def check(questions, field):
        before = snapshot(app, "surveys", "survey_versions")
        body = {"name": "x", "kind": "csat", "locales": ["en", "tr"], "questions": questions}
        error = error_of(api.post("/surveys", json=body), 422)
        assert any(key == field or key.startswith(field + ".") for key in error["fields"]), error
        assert snapshot(app, "surveys", "survey_versions") == before

    check_each(INVALID_QUESTIONS, check)


def test_questions_with_an_unknown_locale_are_422(api, app):
    body = {"name": "x", "kind": "csat", "locales": ["en", "xx"], "questions": custom_questions(("en", "xx"))}
    error = error_of(api.post("/surveys", json=body), 422)
    assert "locales" in error["fields"]
    # With no locales named, they come from the score question's texts, and are checked too.
    body = {"name": "x", "kind": "csat", "questions": custom_questions(("en", "xx"))}
    error = error_of(api.post("/surveys", json=body), 422)
    assert "locales" in error["fields"]
    assert snapshot(app, "surveys")["surveys"] == 0


def test_template_and_questions_together_are_422(api):
    body = {"name": "x", "kind": "csat", "template": "csat", "locales": ["en", "tr"], "questions": custom_questions()}
    error = error_of(api.post("/surveys", json=body), 422)
    assert "template" in error["fields"]


def test_the_survey_reports_sms_segments_per_locale(api):
    # The test app's public URL is http://surveyd.test: links are 63 characters long.
    body = create_survey(api, name="Segments", kind="csat", locales=LOCALES)
    segments = body["sms_segments"]
    assert sorted(segments) == sorted(LOCALES)
    english = segments["en"]["invitation"]
    assert (english["encoding"], english["segments"], english["unicode_characters"]) == ("GSM-7", 1, [])
    assert english["per_segment"] == 160
    assert segments["en"]["reminder"]["units"] > english["units"]  # "Reminder:" in front
    for locale, forced_by in (("tr", "ı"), ("fa", "ا")):
        cost = segments[locale]["invitation"]
        assert cost["encoding"] == "UCS-2" and forced_by in cost["unicode_characters"]
        assert cost["segments"] == 2 and cost["per_segment"] == 67, cost
    assert api.get(f"/surveys/{body['id']}").json["sms_segments"] == segments


OWN_EMAIL = {"subject": {"en": "How was order {order_id}?", "tr": "{order_id} numaralı siparişiniz nasıldı?"},
             "intro": {"en": "Thanks for shopping at {store}, {name}."}}


def test_a_survey_words_its_own_email_and_a_change_is_a_new_version(api):
    body = create_survey(api, name="Own words", kind="nps", locales=LOCALES, email=OWN_EMAIL)
    assert body["email"] == OWN_EMAIL and body["version"] == 1
    same = ok(api.patch(f"/surveys/{body['id']}", json={"email": OWN_EMAIL}), 200)
    assert same["version"] == 1  # the same words are no change
    changed = ok(api.patch(f"/surveys/{body['id']}", json={"email": {"subject": {"en": "One question, {name}"}}}), 200)
    assert changed["version"] == 2 and changed["email"] == {"subject": {"en": "One question, {name}"}}
    fewer = ok(api.patch(f"/surveys/{body['id']}", json={"locales": ["tr", "fa"]}), 200)
    assert fewer["version"] == 3 and fewer["email"] == {}  # the English words left with English
    cleared = ok(api.patch(f"/surveys/{body['id']}", json={"email": None}), 200)
    assert cleared["email"] == {}


@pytest.mark.parametrize(("email", "field"), [
    ({"subject": {"en": "Hi {0.__class__}"}}, "email.subject.en"),
    ({"subject": {"en": "Hi {name!r}"}}, "email.subject.en"),
    ({"intro": {"en": "Unbalanced {name"}}, "email.intro.en"),
    ({"subject": {"de": "Wie war es?"}}, "email.subject.de"),
    ({"subject": {"en": "x" * 151}}, "email.subject.en"),
    ({"subject": {"en": "Two\nlines"}}, "email.subject.en"),
    ({"intro": {"en": "   "}}, "email.intro.en"),
])
def test_email_texts_that_cannot_work_are_422_and_store_nothing(api, app, email, field):
    before = snapshot(app, "surveys")
    error = error_of(api.post("/surveys", json={"name": "x", "kind": "nps", "locales": LOCALES, "email": email}), 422)
    assert field in error["fields"], error
    assert snapshot(app, "surveys") == before


def test_an_unknown_part_of_the_email_is_refused(api):
    response = api.post("/surveys", json={"name": "x", "kind": "nps", "email": {"footer": {"en": "Bye"}}})
    assert response.status_code in (400, 422)
    assert "footer" in str(response.get_json()["error"]["fields"])
