"""GET /journey: every survey kind's score per journey stage, stages in the configured order, with n and
interval; refusals."""
from __future__ import annotations

import pytest

from surveyd.config import JOURNEY_STAGES, ConfigError, load_settings
from surveyd.models import Stage
from tests.api.helpers import create_survey, create_trigger, error_of, ok, survey_answer


@pytest.fixture
def answered(api, client):
    nps = create_survey(api, name="NPS", locales=["en"])
    csat = create_survey(api, name="CSAT", kind="csat", locales=["en"])
    for key, stage in (("checkout.completed", "purchase"), ("order.delivered", "post_purchase"),
                       ("ticket.closed", "support")):
        ok(api.put(f"/touchpoints/{key}", json={"stage": stage}), 201)
    create_trigger(api, nps["id"], touchpoint="checkout.completed")
    create_trigger(api, nps["id"], touchpoint="order.delivered")
    create_trigger(api, csat["id"], touchpoint="ticket.closed")
    for number, (score, touchpoint) in enumerate([(10, "order.delivered"), (9, "order.delivered"),
                                                  (3, "order.delivered"), (0, "checkout.completed"),
                                                  (5, "ticket.closed"), (2, "ticket.closed")]):
        survey_answer(api, client, score, external_id=f"j-{number}", touchpoint=touchpoint)


def test_each_stage_rolls_up_every_kind_in_stage_order(api, answered):
    body = ok(api.get("/journey"), 200)
    assert [stage["stage"] for stage in body["stages"]] == list(JOURNEY_STAGES)
    by_stage = {stage["stage"]: stage for stage in body["stages"]}
    assert by_stage["awareness"] == {"stage": "awareness", "touchpoints": []}
    purchase, after, support = by_stage["purchase"], by_stage["post_purchase"], by_stage["support"]
    assert purchase["touchpoints"] == ["checkout.completed"] and purchase["nps"]["score"] == -100.0
    assert (after["nps"]["n"], after["nps"]["score"]) == (3, 33.33) and "csat" not in after
    assert after["nps"]["interval"]["low"] < 33.33 < after["nps"]["interval"]["high"]
    assert (support["csat"]["n"], support["csat"]["score"]) == (2, 50.0) and "nps" not in support


def test_a_range_without_answers_keeps_the_stages_and_their_touchpoints(api, answered):
    body = ok(api.get("/journey", query_string={"since": "2999-01-01T00:00:00Z"}), 200)
    assert [(s["stage"], "nps" in s or "csat" in s) for s in body["stages"]] == [(s, False) for s in JOURNEY_STAGES]
    assert {s["stage"]: s["touchpoints"] for s in body["stages"]}["support"] == ["ticket.closed"]


@pytest.mark.parametrize("query", [{"since": "yesterday"}, {"until": "2026-13-01T00:00:00Z"},
                                   {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}])
def test_refusals(api, query):
    error_of(api.get("/journey", query_string=query), 422)


def test_a_key_is_required(client):
    assert client.get("/api/v1/journey").status_code == 401


def test_the_stage_order_is_configurable_and_checked(tmp_path):
    assert tuple(stage.value for stage in Stage) == JOURNEY_STAGES  # the config names the model's stages
    env = {"SURVEYD_SECRET_KEY": "x" * 32}
    reordered = "support, awareness, consideration, purchase, post_purchase"
    assert load_settings(tmp_path, {**env, "SURVEYD_JOURNEY_STAGES": reordered}).journey_stages[0] == "support"
    for bad in ("support, awareness", "support, awareness, consideration, purchase, post_purchase, launch",
                "support, support, consideration, purchase, post_purchase"):
        with pytest.raises(ConfigError, match="SURVEYD_JOURNEY_STAGES"):
            load_settings(tmp_path, {**env, "SURVEYD_JOURNEY_STAGES": bad})
