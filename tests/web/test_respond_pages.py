"""Respondent pages /s/<token> through Flask's test client: language, tokens, expiry, scanner safety,
the score -> follow-up -> thank-you flow, repeats, invalid posts, alerts, headers and labels.

Setup and inspection run in their own app contexts, so each request sees only what was committed.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

import survey_templates
from surveyd.extensions import db
from surveyd.models import Dispatch, utcnow
from surveyd.services import tokens
from tests import sql_trace
from tests.web.pages import Link, inside, new_link, parse, stored  # noqa: F401 (inside is a fixture)

PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"
QUESTION = {
    "en": "How likely are you to recommend us to a friend or colleague?",
    "tr": "Bizi bir arkadaşınıza veya iş arkadaşınıza tavsiye etme olasılığınız nedir?",
    "fa": "چقدر احتمال دارد ما را به دوستان یا همکاران خود توصیه کنید؟",
}


@pytest.fixture
def link(inside) -> Link:
    """An English NPS web link."""
    return inside(new_link)


def t(locale: str, key: str) -> str:
    return survey_templates.translate(locale, key)


def body(response) -> str:
    return response.get_data(as_text=True)


# --- language ---------------------------------------------------------------------------------


@pytest.mark.parametrize("locale,direction", [("en", "ltr"), ("tr", "ltr"), ("fa", "rtl")])
def test_page_renders_in_the_contacts_locale(client, inside, locale, direction):
    link = inside(new_link, contact_locale=locale)
    response = client.get(link.path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = parse(body(response))
    assert page.html_attrs.get("lang") == locale
    assert page.html_attrs.get("dir") == direction
    assert page.texts["legend"] == [QUESTION[locale]]
    assert t(locale, "page.submit") in page.texts["button"]
    labels = [page.label_for(f"score-{n}")[0] for n in range(11)]
    if locale == "fa":
        assert labels == [survey_templates.locale_info("fa").localize_digits(n) for n in range(11)]
        assert labels[10] == "۱۰" and labels[7] == "۷"
        assert not any(ch in "0123456789" for label in labels for ch in label)
    else:
        assert labels == [str(n) for n in range(11)]
        assert not any(ch in PERSIAN_DIGITS for ch in page.text)
    # the other locales' question texts are not on the page
    for other, text in QUESTION.items():
        if other != locale:
            assert text not in body(response)


def test_region_tag_falls_back_to_its_language(client, inside):
    link = inside(new_link, contact_locale="tr-TR")
    page = parse(body(client.get(link.path)))
    assert page.html_attrs["lang"] == "tr"
    assert page.texts["legend"] == [QUESTION["tr"]]


def test_unsupported_locale_falls_back_to_the_surveys_first_locale(client, inside):
    link = inside(new_link, contact_locale="de", locales=["fa", "en"])
    page = parse(body(client.get(link.path)))
    assert (page.html_attrs["lang"], page.html_attrs["dir"]) == ("fa", "rtl")
    assert page.texts["legend"] == [QUESTION["fa"]]


def test_a_locale_the_survey_lacks_falls_back_too(client, inside):
    link = inside(new_link, contact_locale="fa", locales=["tr", "en"])
    page = parse(body(client.get(link.path)))
    assert (page.html_attrs["lang"], page.html_attrs["dir"]) == ("tr", "ltr")


@pytest.mark.parametrize("kind,points", [("csat", range(1, 6)), ("ces", range(1, 8))])
def test_scale_matches_the_kind(client, inside, kind, points):
    link = inside(new_link, kind=kind)
    page = parse(body(client.get(link.path)))
    assert [r.attrs["value"] for r in page.radios()] == [str(n) for n in points]


# --- tokens -----------------------------------------------------------------------------------


def _forged(token: str) -> str:
    nonce, mac = token.split(".")
    flipped = ("A" if mac[0] != "A" else "B") + mac[1:]
    return f"{nonce}.{flipped}"


def test_unknown_token_is_404(client, link):
    for path in ("/s/nonsense", "/s/abc.def", "/s/" + tokens.sign(tokens.new_nonce(), "test-secret-key-0123456789"),
                 "/s/0.%C3%A9", "/s/%D8%B3%D9%84%D8%A7%D9%85.%DB%B1", "/s/" + "A" * 300 + "." + "B" * 22):
        response = client.get(path)
        assert response.status_code == 404, path
        assert t("en", "page.not_found_title") in body(response)


def test_forged_token_is_404_and_posting_to_it_records_nothing(client, inside, link):
    forged = "/s/" + _forged(link.token)
    assert forged != link.path and forged.split(".")[0] == link.path.split(".")[0]
    assert client.get(forged).status_code == 404
    assert client.post(forged, data={"score": "3"}).status_code == 404
    assert client.get("/s/" + link.token.split(".")[0]).status_code == 404  # nonce without its MAC
    assert client.get(link.path + "x").status_code == 404  # MAC with a byte added
    assert inside(stored, link.dispatch_id)["responses"] == []
    assert client.get(link.path).status_code == 200  # the genuine token still works


def test_token_signed_with_another_secret_is_404(client, inside, link):
    nonce = link.token.split(".")[0]
    other = "/s/" + tokens.sign(nonce, "some-other-secret-key-9876543210")
    assert other != link.path
    assert client.get(other).status_code == 404
    assert client.post(other, data={"score": "9"}).status_code == 404
    assert inside(stored, link.dispatch_id)["responses"] == []


# --- expiry -----------------------------------------------------------------------------------


def _expire(dispatch_id: int) -> None:
    db.session.execute(
        sa.update(Dispatch).where(Dispatch.id == dispatch_id).values(expires_at=utcnow() - timedelta(minutes=1))
    )
    db.session.commit()


def test_expired_link_is_410_and_records_nothing(client, inside, link):
    inside(_expire, link.dispatch_id)
    before = inside(stored, link.dispatch_id)
    response = client.get(link.path)
    assert response.status_code == 410
    assert t("en", "page.expired_title") in body(response)
    response = client.post(link.path, data={"score": "2"})
    assert response.status_code == 410
    assert t("en", "page.expired_title") in body(response)
    assert client.post(link.path, data={"score": "junk"}).status_code == 410
    after = inside(stored, link.dispatch_id)
    assert after["responses"] == [] and after["alerts"] == []
    assert after["status"] == before["status"] == "sent"
    assert after["history"] == before["history"]


# --- scanner safety ---------------------------------------------------------------------------


def test_score_in_query_preselects_and_records_nothing(client, inside, api, link):
    response = client.get(link.path + "?score=7")
    assert response.status_code == 200
    page = parse(body(response))
    assert page.checked() == ["7"]
    assert api.get("/responses").get_json()["items"] == []
    dispatch = api.get(f"/dispatches/{link.dispatch_id}").get_json()
    assert dispatch["status"] == "sent"


def test_many_gets_in_a_row_record_nothing(client, inside, api, link):
    before = inside(stored, link.dispatch_id)
    for score in ["0", "3", "10", "10", "6", "abc", "", "99", "-1"] * 3:
        response = client.get(f"{link.path}?score={score}")
        assert response.status_code == 200
        expected = [score] if score.isdigit() and int(score) <= 10 else []
        assert parse(body(response)).checked() == expected, score
    client.head(link.path + "?score=1")
    assert api.get("/responses").get_json()["items"] == []
    assert api.get("/alerts").get_json()["items"] == []
    assert inside(stored, link.dispatch_id) == before
    assert api.get(f"/dispatches/{link.dispatch_id}").get_json()["status"] == "sent"


def test_plain_get_has_nothing_checked(client, link):
    page = parse(body(client.get(link.path)))
    assert len(page.radios()) == 11
    assert page.checked() == []


# --- the flow ---------------------------------------------------------------------------------


@pytest.mark.parametrize("score,question", [(3, "improve"), (7, "missing"), (10, "liked")])
def test_score_leads_to_the_follow_up_of_its_band(client, inside, api, link, score, question):
    response = client.post(link.path, data={"score": str(score)})
    assert response.status_code == 200
    page = parse(body(response))
    textareas = page.all("textarea")
    assert [e.attrs["name"] for e in textareas] == [question]
    expected = survey_templates.builtin_survey("nps", ["en"])["questions"]
    text = next(q["text"]["en"] for q in expected if q["id"] == question)
    assert text in page.label_for(f"q-{question}")[0]
    for other in {"improve", "missing", "liked"} - {question}:
        other_text = next(q["text"]["en"] for q in expected if q["id"] == other)
        assert other_text not in body(response)
    assert t("en", "page.score_kept") in page.text
    assert page.radios() == []  # the score is not asked again
    items = api.get("/responses").get_json()["items"]
    assert len(items) == 1
    assert items[0]["score"] == score and items[0]["completed"] is False
    assert items[0]["channel"] == "web" and items[0]["locale"] == "en"
    assert api.get(f"/dispatches/{link.dispatch_id}").get_json()["status"] == "answered"
    # a reload of the link shows the follow-up again, not the score
    again = parse(body(client.get(link.path)))
    assert [e.attrs["name"] for e in again.all("textarea")] == [question]


def test_follow_up_in_persian(client, inside):
    link = inside(new_link, contact_locale="fa")
    page = parse(body(client.post(link.path, data={"score": "8"})))
    assert page.html_attrs["dir"] == "rtl"
    assert page.label_for("q-missing")[0].startswith("متشکریم! چه کنیم تا امتیاز ۱۰ را از شما بگیریم؟")
    assert t("fa", "page.continue") in page.texts["button"]


def test_comment_completes_and_thanks(client, inside, api, link):
    assert client.post(link.path, data={"score": "4"}).status_code == 200
    response = client.post(link.path, data={"improve": "  The parcel was wet.  "})
    assert response.status_code == 200
    page = parse(body(response))
    assert page.texts["h1"] == [t("en", "page.thanks_title")]
    (item,) = api.get("/responses").get_json()["items"]
    assert item["completed"] is True and item["score"] == 4
    assert {a["question_id"]: a["value"] for a in item["answers"]} == {"score": 4, "improve": "The parcel was wet."}


def test_skip_completes_without_a_comment(client, inside, link):
    client.post(link.path, data={"score": "9"})
    page = parse(body(client.post(link.path, data={"skip": "1"})))
    assert page.texts["h1"] == [t("en", "page.thanks_title")]
    assert inside(stored, link.dispatch_id)["responses"] == [
        {"score": 9, "completed": True, "answers": {"score": 9}}
    ]


def test_score_and_comment_in_one_post_complete_at_once(client, inside, link):
    page = parse(body(client.post(link.path, data={"score": "10", "liked": "Fast"})))
    assert page.texts["h1"] == [t("en", "page.thanks_title")]
    assert inside(stored, link.dispatch_id)["responses"] == [
        {"score": 10, "completed": True, "answers": {"score": 10, "liked": "Fast"}}
    ]


def test_posting_again_after_completion_changes_nothing(client, inside, link):
    client.post(link.path, data={"score": "2"})
    client.post(link.path, data={"improve": "Late."})
    before = inside(stored, link.dispatch_id)
    assert before["responses"] == [{"score": 2, "completed": True, "answers": {"score": 2, "improve": "Late."}}]
    for data in ({"score": "10"}, {"improve": "Actually fine."}, {"score": "9", "liked": "x"}, {}, {"score": "abc"}):
        response = client.post(link.path, data=data)
        assert response.status_code == 200, data
        page = parse(body(response))
        assert page.texts["h1"] == [t("en", "page.already_title")], data
        assert t("en", "page.already_body") in page.text
    get = parse(body(client.get(link.path + "?score=10")))
    assert get.texts["h1"] == [t("en", "page.already_title")]
    assert get.radios() == []
    assert inside(stored, link.dispatch_id) == before


def test_double_submit_of_the_score_keeps_the_first(client, inside, api, link):
    first = client.post(link.path, data={"score": "9"})
    second = client.post(link.path, data={"score": "3"})
    assert first.status_code == second.status_code == 200
    page = parse(body(second))
    assert t("en", "page.already_body") in page.text
    # still the promoter's follow-up: the second score did not replace the first
    assert [e.attrs["name"] for e in page.all("textarea")] == ["liked"]
    state = inside(stored, link.dispatch_id)
    assert state["responses"] == [{"score": 9, "completed": False, "answers": {"score": 9}}]
    assert state["alerts"] == []
    assert state["history"].count("answered") == 1
    assert len(api.get("/responses").get_json()["items"]) == 1


# --- invalid posts ----------------------------------------------------------------------------


@pytest.mark.parametrize("data", [
    {}, {"score": ""}, {"score": "11"}, {"score": "-1"}, {"score": "abc"}, {"score": "7.5"}, {"score": "٣x"},
    {"improve": "no score given"}, {"score": "²"}, {"score": "1" * 5000},
], ids=["missing", "blank", "above", "below", "word", "decimal", "junk", "comment-only", "superscript", "huge"])
def test_invalid_score_is_422_and_stores_nothing(client, inside, api, link, data):
    response = client.post(link.path, data=data)
    assert response.status_code == 422
    page = parse(body(response))
    errors = [e for e in page.all("p") if e.attrs.get("role") == "alert"]
    assert len(errors) == 1
    assert t("en", "page.error_choose") in page.text
    assert len(page.radios()) == 11  # the question is asked again
    state = inside(stored, link.dispatch_id)
    assert state["responses"] == [] and state["status"] == "sent"
    assert api.get("/responses").get_json()["items"] == []
    # and the link still takes a proper answer afterwards
    assert client.post(link.path, data={"score": "8"}).status_code == 200


def test_csat_refuses_zero(client, inside):
    link = inside(new_link, kind="csat")
    assert client.post(link.path, data={"score": "0"}).status_code == 422
    assert client.post(link.path, data={"score": "6"}).status_code == 422
    assert inside(stored, link.dispatch_id)["responses"] == []


# --- alerts -----------------------------------------------------------------------------------


def test_a_detractor_raises_exactly_one_alert(client, inside, api, link):
    client.post(link.path, data={"score": "1"})
    alerts = api.get("/alerts?status=open").get_json()["items"]
    assert len(alerts) == 1
    assert alerts[0]["score"] == 1 and "score" in alerts[0]["reasons"]
    client.post(link.path, data={"score": "0"})  # double submit
    client.post(link.path, data={"improve": "Broken on arrival."})
    client.post(link.path, data={"improve": "again"})  # after completion
    alerts = api.get("/alerts").get_json()["items"]
    assert len(alerts) == 1
    assert alerts[0]["comments"] == ["Broken on arrival."]
    assert alerts[0]["status"] == "open"


def test_a_promoter_raises_no_alert(client, api, link):
    client.post(link.path, data={"score": "10"})
    client.post(link.path, data={"liked": "Everything"})
    assert api.get("/alerts").get_json()["items"] == []


# --- headers and markup -----------------------------------------------------------------------


def _check_security_headers(response) -> None:
    assert response.headers.get("Referrer-Policy") == "no-referrer"
    csp = response.headers.get("Content-Security-Policy", "")
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
    assert "script-src" not in csp  # the page runs no script
    assert "no-store" in response.headers.get("Cache-Control", "")
    assert response.headers.get("X-Content-Type-Options") == "nosniff"


def test_security_headers_on_every_respondent_page(client, inside, link):
    _check_security_headers(client.get(link.path))
    _check_security_headers(client.get(link.path + "?score=3"))
    _check_security_headers(client.post(link.path, data={"score": "x"}))
    _check_security_headers(client.post(link.path, data={"score": "3"}))
    _check_security_headers(client.post(link.path, data={"improve": "x"}))
    _check_security_headers(client.get(link.path))
    _check_security_headers(client.get("/s/unknown"))
    page = parse(body(client.get(link.path)))
    assert page.all("script") == []
    assert page.all("meta", name="referrer", content="no-referrer")


def _assert_every_control_labelled(page) -> int:
    controls = page.all("textarea") + [e for e in page.all("input") if e.attrs.get("type") == "radio"]
    ids = [e.attrs.get("id") for e in page.elements if e.attrs.get("id")]
    assert len(ids) == len(set(ids)), "duplicate ids"
    for control in controls:
        control_id = control.attrs.get("id")
        assert control_id, control
        texts = page.label_for(control_id)
        assert len(texts) == 1 and texts[0].strip(), (control_id, texts)
    return len(controls)


@pytest.mark.parametrize("locale", ["en", "fa"])
def test_every_radio_and_textarea_has_a_label(client, inside, locale):
    link = inside(new_link, contact_locale=locale)
    page = parse(body(client.get(link.path)))
    assert _assert_every_control_labelled(page) == 11
    assert len(page.all("fieldset")) == 1 and page.texts["legend"]
    # the ends of the scale carry their words for screen readers
    ends = [label for label, _ in page.labels if label.get("for") in ("score-0", "score-10")]
    assert all(label.get("aria-label") for label in ends)
    error_page = parse(body(client.post(link.path, data={})))
    assert _assert_every_control_labelled(error_page) == 11
    follow_up = parse(body(client.post(link.path, data={"score": "5"})))
    assert _assert_every_control_labelled(follow_up) == 1
    assert follow_up.all("textarea", id="q-improve")


def _post_at_once(url: str, forms: list[dict]) -> list[int]:
    """POST each form to url from its own thread, released together; the status codes."""
    import threading
    import urllib.error
    import urllib.request
    from urllib.parse import urlencode

    barrier = threading.Barrier(len(forms))
    statuses: list[int] = []

    def post(form: dict) -> None:
        request = urllib.request.Request(url, data=urlencode(form).encode(), method="POST")
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                statuses.append(response.status)
        except urllib.error.HTTPError as error:
            statuses.append(error.code)

    threads = [threading.Thread(target=post, args=(form,)) for form in forms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)
    return statuses


def test_simultaneous_double_submit_keeps_one_answer(live_server, inside):
    """Several posts of the score at the same moment (a double tap) against the threaded live server."""
    link = inside(new_link)
    statuses = _post_at_once(live_server + link.path, [{"score": n} for n in (1, 2, 9, 10)])
    assert statuses == [200] * 4
    state = inside(stored, link.dispatch_id)
    (response,) = state["responses"]
    assert response["score"] in (1, 2, 9, 10) and response["answers"] == {"score": response["score"]}
    assert response["completed"] is False
    assert state["answer_rows"] == 1
    assert state["history"].count("answered") == 1
    assert len(state["alerts"]) == (1 if response["score"] <= 6 else 0)


def test_simultaneous_follow_up_posts_keep_one_comment(live_server, client, inside):
    link = inside(new_link)
    client.post(link.path, data={"score": "2"})
    statuses = _post_at_once(live_server + link.path, [{"improve": f"comment {n}"} for n in range(4)])
    assert sorted(statuses) == [200] * 4
    state = inside(stored, link.dispatch_id)
    (response,) = state["responses"]
    assert response["completed"] is True
    assert set(response["answers"]) == {"score", "improve"}
    assert response["answers"]["improve"] in {f"comment {n}" for n in range(4)}
    assert len(state["alerts"]) == 1


@pytest.mark.parametrize("locale", ["en", "fa"])
def test_an_answer_and_its_page_take_one_transaction(app, client, inside, locale):
    """The page after the answer is rendered from what was read inside the answer's transaction: no second
    transaction after the commit (on SQLite every transaction takes the one writer's lock)."""
    link = inside(new_link, contact_locale=locale)
    begun = []
    with app.app_context():
        engine = db.engine
    listener = lambda connection: begun.append(connection)  # noqa: E731
    sa.event.listen(engine, "begin", listener)
    try:
        response = client.post(link.path, data={"score": "9"})
    finally:
        sa.event.remove(engine, "begin", listener)
    assert response.status_code == 200
    page = parse(body(response))
    assert t(locale, "page.score_kept") in page.text and page.all("textarea")  # the follow-up, in the locale
    assert len(begun) == 1


def test_a_score_is_written_without_a_flush_and_reads_back_whole(app, client, inside, api, link):
    """The response, its answers, the status step and the dispatch's status go in with one statement each
    (services/row_writes.py); the unit of work's flush, most of an answer's cost, is not needed."""
    with sql_trace.flushes() as flushes:
        page = client.post(link.path, data={"score": "9", "liked": "Fast"})  # the score and its follow-up at once
    assert page.status_code == 200 and flushes == []
    state = inside(stored, link.dispatch_id)
    assert state["status"] == "answered" and state["history"][-1] == "answered"
    assert state["responses"] == [{"score": 9, "completed": True, "answers": {"score": 9, "liked": "Fast"}}]
    (item,) = api.get("/responses").get_json()["items"]
    assert item["completed"] is True and [a["value"] for a in item["answers"]] == [9, "Fast"]
