"""Responses over the API: what an answer looks like, newest first, filters and pagination."""
from __future__ import annotations

import pytest

from tests.api.helpers import (
    answer, create_survey, create_trigger, error_of, fire, ok, page_path, responses, web_dispatch,
)


@pytest.fixture
def nps(api) -> dict:
    survey = create_survey(api, name="NPS", kind="nps", locales=["en", "tr"])
    create_trigger(api, survey["id"], touchpoint="order.delivered")
    return survey


@pytest.fixture
def csat(api) -> dict:
    survey = create_survey(api, name="CSAT", kind="csat", locales=["en"])
    create_trigger(api, survey["id"], touchpoint="ticket.closed")
    return survey


def test_a_response_as_the_api_shows_it(api, client, nps):
    event = fire(api, external_id="cust-1", contact={"locale": "tr"}, attributes={"order_id": "A-1"})
    dispatch = web_dispatch(event)
    answer(client, dispatch["url"], 7, missing="Faster delivery")

    (item,) = responses(api)
    assert item["survey_id"] == nps["id"]
    assert item["survey_version"] == 1
    assert item["dispatch_id"] == dispatch["id"]
    assert item["event_id"] == event["id"]
    assert item["contact"] == "cust-1"
    assert item["channel"] == "web"
    assert item["locale"] == "tr"
    assert item["score"] == 7
    assert item["band"] == "neutral"
    assert item["completed"] is True
    assert [(a["question_id"], a["value"]) for a in item["answers"]] == [("score", 7), ("missing", "Faster delivery")]
    assert all(a["answered_at"] for a in item["answers"])
    assert item["created_at"] and item["updated_at"]


def test_a_partial_answer_is_kept_and_completed_later(api, client, nps):
    dispatch = web_dispatch(fire(api))
    path = page_path(dispatch["url"])
    assert client.post(path, data={"score": "10"}).status_code == 200

    (item,) = responses(api)
    assert item["score"] == 10 and item["band"] == "positive"
    assert item["completed"] is False
    assert [a["question_id"] for a in item["answers"]] == ["score"]

    # A repeated score post changes nothing; the follow-up completes the response.
    client.post(path, data={"score": "0"})
    assert responses(api)[0]["score"] == 10
    client.post(path, data={"liked": "Kind driver"})
    (item,) = responses(api)
    assert item["completed"] is True
    assert {a["question_id"]: a["value"] for a in item["answers"]} == {"score": 10, "liked": "Kind driver"}
    # Once complete, further posts change nothing.
    client.post(path, data={"score": "1", "liked": "Changed my mind"})
    assert responses(api) == [item]


def test_a_score_off_the_scale_is_not_recorded(api, client, nps):
    dispatch = web_dispatch(fire(api))
    path = page_path(dispatch["url"])
    assert client.post(path, data={"score": "11"}).status_code == 422
    assert client.post(path, data={"score": "nine"}).status_code in (400, 422)
    assert responses(api) == []
    assert ok(api.get(f"/dispatches/{dispatch['id']}"), 200)["status"] == "sent"


def test_newest_first_and_filtered_by_survey(api, client, nps, csat):
    created = []
    for index, (touchpoint, score) in enumerate([("order.delivered", 9), ("ticket.closed", 4), ("order.delivered", 3),
                                                   ("ticket.closed", 5), ("order.delivered", 10)]):
        event = fire(api, touchpoint=touchpoint, external_id=f"c{index}")
        answer(client, web_dispatch(event)["url"], score)
        created.append((touchpoint, score))

    everything = responses(api)
    assert [r["score"] for r in everything] == [10, 5, 3, 4, 9]
    ids = [r["id"] for r in everything]
    assert ids == sorted(ids, reverse=True)
    stamps = [r["created_at"] for r in everything]
    assert stamps == sorted(stamps, reverse=True)

    assert [r["score"] for r in responses(api, survey_id=nps["id"])] == [10, 3, 9]
    assert [r["score"] for r in responses(api, survey_id=csat["id"])] == [5, 4]
    assert responses(api, survey_id=999999) == []


def test_since_is_inclusive_and_until_exclusive(api, client, nps):
    for index, score in enumerate([1, 2, 3, 4]):
        answer(client, web_dispatch(fire(api, external_id=f"c{index}"))["url"], score)
    everything = responses(api)
    assert [r["score"] for r in everything] == [4, 3, 2, 1]
    third = everything[1]["created_at"]  # the answer scored 3

    assert [r["score"] for r in responses(api, since=third)] == [4, 3]
    assert [r["score"] for r in responses(api, until=third)] == [2, 1]
    assert [r["score"] for r in responses(api, since=everything[2]["created_at"], until=everything[0]["created_at"])] == [3, 2]
    assert responses(api, since="2999-01-01T00:00:00Z") == []
    assert responses(api, until="2000-01-01T00:00:00Z") == []
    # A time without a zone is UTC.
    naive = third.replace("+00:00", "")
    assert naive != third
    assert [r["score"] for r in responses(api, since=naive)] == [4, 3]


def test_pagination_covers_everything_exactly_once(api, client, nps, csat):
    for index in range(7):
        answer(client, web_dispatch(fire(api, external_id=f"n{index}"))["url"], index)
    for index in range(2):
        answer(client, web_dispatch(fire(api, touchpoint="ticket.closed", external_id=f"s{index}"))["url"], 5)
    expected = [r["id"] for r in ok(api.get("/responses", query_string={"limit": 100}), 200)["items"]]
    assert len(expected) == 9

    pages, cursor = [], None
    while True:
        query = {"limit": 3, "survey_id": nps["id"]}
        if cursor:
            query["cursor"] = cursor
        page = ok(api.get("/responses", query_string=query), 200)
        pages.append([r["id"] for r in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(pages) < 10

    assert [len(p) for p in pages] == [3, 3, 1]
    seen = [i for p in pages for i in p]
    assert len(seen) == len(set(seen)) == 7
    assert seen == sorted(seen, reverse=True)
    nps_ids = [r["id"] for r in ok(api.get("/responses", query_string={"survey_id": nps["id"]}), 200)["items"]]
    assert seen == nps_ids

    # An exact multiple of the page size ends without an empty extra page.
    page = ok(api.get("/responses", query_string={"limit": 7, "survey_id": nps["id"]}), 200)
    assert len(page["items"]) == 7 and page["next_cursor"] is None
    page = ok(api.get("/responses", query_string={"limit": 9}), 200)
    assert [r["id"] for r in page["items"]] == expected and page["next_cursor"] is None


@pytest.mark.parametrize("query, field", [
    ({"limit": 0}, "limit"),
    ({"limit": 501}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"cursor": 0}, "cursor"),
    ({"since": "last tuesday"}, "since"),
    ({"until": "2024-13-01"}, "until"),
    ({"survey_id": "abc"}, "survey_id"),
])
def test_bad_query_is_422(api, query, field):
    error = error_of(api.get("/responses", query_string=query), 422)
    assert field in error["fields"], error
