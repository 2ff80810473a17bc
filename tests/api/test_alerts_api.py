"""Alerts over the API: raised by negative answers, worked by agents through their statuses."""
from __future__ import annotations

from datetime import datetime

import pytest

from tests.api.helpers import (
    answer,
    create_survey,
    create_trigger,
    error_of,
    fire,
    ok,
    page_path,
    snapshot,
    survey_answer,
    web_dispatch,
)


@pytest.fixture
def nps(api) -> dict:
    survey = create_survey(api, kind="nps", locales=["en"], alert={"keywords": ["refund", "rude driver"]})
    create_trigger(api, survey["id"])
    return survey


def alerts(api, **query) -> list[dict]:
    return ok(api.get("/alerts", query_string=query), 200)["items"]


def raise_one(api, client, score: int = 2, **follow_ups) -> dict:
    survey_answer(api, client, score, external_id=f"c-{score}-{len(alerts(api))}", **follow_ups)
    return alerts(api)[0]


def test_detractor_raises_exactly_one_alert(api, client, nps):
    event = fire(api, external_id="unhappy")
    dispatch = web_dispatch(event)
    path = page_path(dispatch["url"])
    client.post(path, data={"score": "3"})

    # Raised with the score already, before any follow-up.
    (alert,) = alerts(api)
    assert alert["reasons"] == ["score"]
    assert alert["score"] == 3
    assert alert["status"] == "open"
    assert alert["survey_id"] == nps["id"]
    assert alert["contact"] == "unhappy"
    assert alert["assignee"] is None and alert["resolved_at"] is None
    assert alert["comments"] == []

    client.post(path, data={"improve": "It arrived broken"})
    (alert,) = alerts(api)
    assert alert["reasons"] == ["score"]
    assert alert["comments"] == ["It arrived broken"]
    response_id = ok(api.get("/responses"), 200)["items"][0]["id"]
    assert alert["response_id"] == response_id
    detail = ok(api.get(f"/alerts/{alert['id']}"), 200)
    assert {k: v for k, v in detail.items() if k not in ("activity", "deliveries")} == alert


def test_the_threshold_itself_is_negative(api, client, nps):
    survey_answer(api, client, 6, external_id="six")
    survey_answer(api, client, 7, external_id="seven")
    assert [(a["contact"], a["reasons"]) for a in alerts(api)] == [("six", ["score"])]


def test_a_custom_threshold_is_used(api, client):
    survey = create_survey(api, kind="csat", locales=["en"], alert={"threshold": 3})
    create_trigger(api, survey["id"])
    survey_answer(api, client, 3, external_id="three")
    survey_answer(api, client, 4, external_id="four")
    assert [a["contact"] for a in alerts(api)] == ["three"]


def test_passive_with_a_keyword_raises_a_keyword_alert(api, client, nps):
    survey_answer(api, client, 7, external_id="passive", missing="I am still waiting for my REFUND.")
    (alert,) = alerts(api)
    assert alert["reasons"] == ["keyword:refund"]
    assert alert["score"] == 7
    assert alert["comments"] == ["I am still waiting for my REFUND."]


def test_a_phrase_keyword_and_a_score_together_are_one_alert(api, client, nps):
    survey_answer(api, client, 1, external_id="angry", improve="A rude driver, and no refund")
    (alert,) = alerts(api)
    assert alert["reasons"] == ["score", "keyword:refund", "keyword:rude driver"]


def test_keywords_match_whole_words_only(api, client, nps):
    survey_answer(api, client, 8, external_id="c1", missing="They refunded me quickly")
    assert alerts(api) == []


def test_promoter_raises_none(api, client, nps):
    survey_answer(api, client, 10, external_id="fan", liked="Everything")
    survey_answer(api, client, 9, external_id="fan2")
    assert alerts(api) == []
    assert snapshot(api.client.application, "alerts")["alerts"] == 0


def test_filter_by_status_and_survey(api, client, nps):
    first = raise_one(api, client, 0)
    second = raise_one(api, client, 1)
    other = create_survey(api, name="CSAT", kind="csat", locales=["en"])
    create_trigger(api, other["id"], touchpoint="ticket.closed")
    survey_answer(api, client, 1, external_id="csat-1", touchpoint="ticket.closed")

    everything = alerts(api)
    assert len(everything) == 3
    ids = [a["id"] for a in everything]
    assert ids == sorted(ids, reverse=True)
    ok(api.patch(f"/alerts/{first['id']}", json={"status": "claimed", "assignee": "deniz@example.com"}), 200)

    assert [a["id"] for a in alerts(api, status="open")] == [ids[0], second["id"]]
    assert [a["id"] for a in alerts(api, status="claimed")] == [first["id"]]
    assert alerts(api, status="resolved") == []
    assert [a["id"] for a in alerts(api, survey_id=nps["id"])] == [second["id"], first["id"]]
    assert [a["survey_id"] for a in alerts(api, survey_id=other["id"])] == [other["id"]]
    assert [a["id"] for a in alerts(api, status="open", survey_id=nps["id"])] == [second["id"]]

    page = ok(api.get("/alerts", query_string={"limit": 2}), 200)
    assert [a["id"] for a in page["items"]] == ids[:2] and page["next_cursor"]
    rest = ok(api.get("/alerts", query_string={"limit": 2, "cursor": page["next_cursor"]}), 200)
    assert [a["id"] for a in rest["items"]] == ids[2:] and rest["next_cursor"] is None

    assert "status" in error_of(api.get("/alerts", query_string={"status": "lost"}), 422)["fields"]


def test_claim_contact_resolve_reopen(api, client, nps):
    alert = raise_one(api, client)
    url = f"/alerts/{alert['id']}"

    error = error_of(api.patch(url, json={"status": "claimed"}), 422)
    assert "assignee" in error["fields"]
    assert ok(api.get(url), 200)["status"] == "open"

    claimed = ok(api.patch(url, json={"status": "claimed", "assignee": "deniz@example.com"}), 200)
    assert claimed["status"] == "claimed" and claimed["assignee"] == "deniz@example.com"
    assert claimed["resolved_at"] is None

    contacted = ok(api.patch(url, json={"status": "contacted", "note": "Called, will replace the item"}), 200)
    assert contacted["status"] == "contacted"
    assert contacted["note"] == "Called, will replace the item"
    assert contacted["assignee"] == "deniz@example.com"

    resolved = ok(api.patch(url, json={"status": "resolved"}), 200)
    assert resolved["status"] == "resolved"
    assert resolved["resolved_at"]
    assert datetime.fromisoformat(resolved["resolved_at"]) >= datetime.fromisoformat(alert["created_at"])
    assert alerts(api, status="open") == []
    assert [a["id"] for a in alerts(api, status="resolved")] == [alert["id"]]

    reopened = ok(api.patch(url, json={"status": "open"}), 200)
    assert reopened["status"] == "open"
    assert reopened["resolved_at"] is None
    assert [a["id"] for a in alerts(api, status="open")] == [alert["id"]]


def test_assignee_can_be_set_before_claiming_and_cleared(api, client, nps):
    alert = raise_one(api, client)
    url = f"/alerts/{alert['id']}"
    assert ok(api.patch(url, json={"assignee": "ece@example.com"}), 200)["status"] == "open"
    claimed = ok(api.patch(url, json={"status": "claimed"}), 200)
    assert claimed["status"] == "claimed" and claimed["assignee"] == "ece@example.com"
    assert ok(api.patch(url, json={"assignee": None}), 200)["assignee"] is None


@pytest.mark.parametrize("path, target", [
    (["resolved"], "contacted"),
    (["resolved"], "claimed"),
    (["claimed", "contacted"], "open"),
])
def test_invalid_transition_is_422_and_changes_nothing(api, client, nps, path, target):
    alert = raise_one(api, client)
    url = f"/alerts/{alert['id']}"
    for status in path:
        ok(api.patch(url, json={"status": status, "assignee": "deniz@example.com"}), 200)
    before = ok(api.get(url), 200)

    error = error_of(api.patch(url, json={"status": target, "assignee": "someone@example.com", "note": "x"}), 422)

    assert error["code"] == "invalid"
    assert "status" in error["fields"]
    assert ok(api.get(url), 200) == before


@pytest.mark.parametrize("body, field", [
    ({"status": "done"}, "status"),
    ({"status": 3}, "status"),
    ({"assignee": ""}, "assignee"),
    ({"priority": "high"}, "priority"),
])
def test_invalid_patch_body_is_422(api, client, nps, body, field):
    alert = raise_one(api, client)
    before = ok(api.get(f"/alerts/{alert['id']}"), 200)
    error = error_of(api.patch(f"/alerts/{alert['id']}", json=body), 422)
    assert field in error["fields"]
    assert ok(api.get(f"/alerts/{alert['id']}"), 200) == before


def test_unknown_alert_is_404(api):
    assert error_of(api.get("/alerts/99999"), 404)["code"] == "not_found"
    assert error_of(api.patch("/alerts/99999", json={"status": "resolved"}), 404)["code"] == "not_found"


def test_a_version_change_applies_the_new_rule_to_new_answers_only(api, client, nps):
    early = web_dispatch(fire(api, external_id="early"))
    ok(api.patch(f"/surveys/{nps['id']}", json={"alert": {"threshold": 8}}), 200)
    late = web_dispatch(fire(api, external_id="late"))
    answer(client, early["url"], 8)  # version 1: threshold 6, a passive
    answer(client, late["url"], 8)  # version 2: threshold 8, negative
    assert [a["contact"] for a in alerts(api)] == ["late"]
