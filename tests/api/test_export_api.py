"""GET /responses/export: every response of a survey as CSV (UTF-8 with BOM) or XLSX, streamed, with every
answer and the event's attributes; formula-like text defused; refusals."""
from __future__ import annotations

import csv
import io
import re
import zipfile
from xml.etree import ElementTree

import pytest

from surveyd.extensions import db
from surveyd.services.answers import wording
from surveyd.services.insight.export import defuse
from surveyd.services.insight.sentiment import analyse
from tests.api.helpers import (
    create_survey,
    create_trigger,
    error_of,
    fire,
    page_path,
    web_dispatch,
)

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


@pytest.fixture
def answered(api, client, app):
    survey = create_survey(api, name="Delivery NPS", locales=["en", "fa"])
    create_trigger(api, survey["id"], channels=["web"])
    people = (("ada", "en", 3, "=HYPERLINK(\"http://evil.example\")"), ("dariush", "fa", 9, "خیلی خوب بود، ممنون"),
              ("minus", "en", 7, "-5 stars, never again"))
    for external_id, locale, score, comment in people:
        body = fire(api, "order.delivered", external_id, contact={"locale": locale},
                    attributes={"order_id": f"A-{external_id}", "store": "+Kadıköy"})
        path = page_path(web_dispatch(body)["url"])
        assert client.post(path, data={"score": str(score)}).status_code == 200
        page = client.get(path).get_data(as_text=True)
        (question,) = re.findall(r'name="(\w+)"', page.split("<form", 1)[1])[:1] or ["comment"]
        client.post(path, data={question: comment})
    with app.app_context():  # what the relay's sweep does: read the comments' wording
        wording.sweep()
        db.session.remove()
    return survey


def test_formula_like_text_is_defused_and_other_values_kept():
    for text in ("=1+1", "+49 30 1234", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert defuse(text) == "'" + text
    for value in ("plain", "", 3, None, "a=b"):
        assert defuse(value) == value


def test_csv_has_a_bom_every_answer_and_defused_cells(api, answered):
    response = api.get("/responses/export", query_string={"survey_id": answered["id"]})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="survey-{answered["id"]}-responses.csv"'
    text = response.get_data().decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    assert [row["contact_external_id"] for row in rows] == ["ada", "dariush", "minus"]
    ada, dariush, minus = rows
    assert (ada["score"], ada["channel"], ada["locale"], ada["version"], ada["touchpoint"]) == (
        "3", "web", "en", "1", "order.delivered")
    comments = {key: value for key, value in ada.items() if key.startswith("answer.") and value}
    assert list(comments.values()) == ["'=HYPERLINK(\"http://evil.example\")"]
    assert "خیلی خوب بود، ممنون" in dariush.values() and "'-5 stars, never again" in minus.values()
    assert '"store": "+Kadıköy"' in ada["event_attributes"] and '"order_id": "A-ada"' in ada["event_attributes"]
    assert set(rows[0]) >= {"response_id", "answered_at", "survey", "completed", "answer.improve", "answer.liked"}
    # The response's sentiment is its comment's, as the analyser read it when the answer came in.
    assert dariush["sentiment"] == "positive"
    assert minus["sentiment"] == analyse("-5 stars, never again", "en").label


def test_xlsx_is_a_workbook_with_the_same_rows(api, answered):
    response = api.get("/responses/export", query_string={"survey_id": answered["id"], "format": "xlsx"})
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as book:
        shared = [node.text or "" for node in ElementTree.fromstring(book.read("xl/sharedStrings.xml")).iter(f"{MAIN}t")] \
            if "xl/sharedStrings.xml" in book.namelist() else []
        sheet = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))
    cells = []
    for row in sheet.iter(f"{MAIN}row"):
        values = []
        for cell in row.iter(f"{MAIN}c"):
            if cell.get("t") == "inlineStr":
                values.append("".join(node.text or "" for node in cell.iter(f"{MAIN}t")))
            elif cell.get("t") == "s":
                values.append(shared[int(cell.find(f"{MAIN}v").text)])
            else:
                values.append(cell.find(f"{MAIN}v").text)
        cells.append(values)
    assert cells[0][:3] == ["response_id", "answered_at", "survey"] and len(cells) == 4
    flat = [value for row in cells for value in row]
    assert "'=HYPERLINK(\"http://evil.example\")" in flat and "خیلی خوب بود، ممنون" in flat
    assert not any(cell.find(f"{MAIN}f") is not None for cell in sheet.iter(f"{MAIN}c"))  # no formulas at all


def test_since_and_until_narrow_the_rows(api, answered):
    everything = api.get("/responses/export", query_string={"survey_id": answered["id"]}).get_data(as_text=True)
    assert len(everything.strip().splitlines()) == 4
    later = api.get("/responses/export", query_string={"survey_id": answered["id"], "since": "2999-01-01T00:00:00Z"})
    assert later.status_code == 200 and len(later.get_data(as_text=True).strip().splitlines()) == 1  # the header


@pytest.mark.parametrize("query, status", [
    ({}, 422),
    ({"survey_id": "abc"}, 422),
    ({"survey_id": "99999999999999999999999"}, 422),
    ({"survey_id": "999999"}, 404),
    ({"survey_id": "1", "format": "pdf"}, 422),
    ({"survey_id": "1", "since": "yesterday"}, 422),
])
def test_refusals(api, answered, query, status):
    query = {k: (str(answered["id"]) if k == "survey_id" and v == "1" else v) for k, v in query.items()}
    error_of(api.get("/responses/export", query_string=query), status)


def test_an_empty_range_is_refused_and_a_key_is_required(api, client, answered):
    error_of(api.get("/responses/export", query_string={"survey_id": answered["id"], "since": "2026-02-01T00:00:00Z",
                                                        "until": "2026-01-01T00:00:00Z"}), 422)
    assert client.get(f"/api/v1/responses/export?survey_id={answered['id']}").status_code == 401
