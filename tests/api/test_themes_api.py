"""Comment themes through the API: a month's comments grouped, then renamed, merged and moved by staff; the model
never undoes a staff change, and every refusal changes nothing."""
from __future__ import annotations

import pytest

from tests.api.helpers import (
    answer,
    create_survey,
    create_trigger,
    error_of,
    fire,
    ok,
    raw_json,
    snapshot,
    web_dispatch,
)

DELIVERY = [
    "The parcel arrived three days late and the courier never called.",
    "Delivery was late again, the package came a week after the promised date.",
    "My order was delayed and the tracking number showed nothing for days.",
    "Kargo çok geç geldi, teslimat üç gün gecikti.",
    "Siparişim geç teslim edildi, kargo takibi hiç güncellenmedi.",
    "Paket bir hafta gecikmeyle geldi, kurye aramadı bile.",
    "بسته سه روز دیرتر از موعد رسید و پیک هیچ تماسی نگرفت.",
    "ارسال خیلی طول کشید و سفارشم با تاخیر زیاد رسید.",
    "The courier left the box at the wrong address and it came late.",
    "Shipping took forever, two weeks for a small parcel.",
]
PRICE = [
    "Far too expensive for what you get, the price went up again.",
    "I was charged twice on my card for the same order.",
    "The invoice shows a fee nobody told me about.",
    "Fiyatlar çok pahalı, her ay zam geliyor.",
    "Kartımdan iki kez ücret çekildi, faturada fazla tutar var.",
    "قیمت‌ها خیلی گران است و هر ماه بالاتر می‌رود.",
    "از کارتم دو بار پول کم شد و صورتحساب اشتباه است.",
    "The subscription price doubled without any warning.",
    "Billing is a mess, I paid more than the listed price.",
    "Too pricey, I found the same thing cheaper elsewhere.",
]


@pytest.fixture
def commented(api, client):
    """Twenty passive answers this month, each with a comment about delivery or about price."""
    survey = create_survey(api)
    create_trigger(api, survey["id"])
    for number, comment in enumerate(DELIVERY + PRICE):
        body = fire(api, "order.delivered", f"c-{number}")
        answer(client, web_dispatch(body)["url"], 8, missing=comment)
    return survey


def test_a_month_is_grouped_and_every_comment_is_counted_once(api, commented):
    built = ok(api.post("/themes/build", json={}), 200)
    assert built["themes"] >= 1 and built["assigned"] + built["unthemed"] == 20
    summary = ok(api.get("/themes"), 200)
    assert summary["comments"] == 20
    assert sum(theme["comments"] for theme in summary["themes"]) + summary["unthemed"] == 20
    sizes = [theme["comments"] for theme in summary["themes"]]
    assert sizes == sorted(sizes, reverse=True)
    for theme in summary["themes"]:
        assert theme["words"] and theme["name"] and not theme["renamed"]
        assert 0 <= theme["confidence"] <= 1
        assert all(example["text"] in DELIVERY + PRICE for example in theme["examples"])
        assert sum(theme["sentiment"].values()) <= theme["comments"]
    # For one survey: the same themes; for a survey without comments: none.
    other = create_survey(api, name="Quiet")
    assert ok(api.get("/themes", query_string={"survey_id": commented["id"]}), 200)["comments"] == 20
    assert ok(api.get("/themes", query_string={"survey_id": other["id"]}), 200) | {"built_at": None} == {
        "period": summary["period"], "comments": 0, "unthemed": 0, "built_at": None, "themes": []}
    # Building again places only new comments: there are none.
    assert ok(api.post("/themes/build", json={}), 200) | {"period": None} == {
        "period": None, "themes": 0, "assigned": 0, "unthemed": 0}


def test_staff_rename_merge_and_move_and_the_model_keeps_them(api, client, commented):
    ok(api.post("/themes/build", json={}), 200)
    themes = ok(api.get("/themes"), 200)["themes"]
    if len(themes) < 2:
        pytest.fail(f"delivery and price comments fell into {len(themes)} theme(s): {themes}")
    first, second = themes[0], themes[1]

    renamed = ok(api.patch(f"/themes/{first['id']}", json={"name": "  Late deliveries "}), 200)
    assert renamed["name"] == "Late deliveries" and renamed["renamed"] and renamed["words"] == first["words"]
    restored = ok(api.patch(f"/themes/{first['id']}", json={"name": None}), 200)
    assert not restored["renamed"] and restored["name"] != "Late deliveries"

    comments = ok(api.get(f"/themes/{first['id']}/comments", query_string={"limit": 500}), 200)
    assert comments["total"] == first["comments"] == len(comments["items"])
    moved = comments["items"][0]["answer_id"]
    placed = ok(api.put(f"/answers/{moved}/theme", json={"theme_id": second["id"]}), 200)
    assert placed == {"answer_id": moved, "theme_id": second["id"], "set_by": "staff",
                      "confidence": placed["confidence"]}
    after = {theme["id"]: theme["comments"] for theme in ok(api.get("/themes"), 200)["themes"]}
    assert after[first["id"]] == first["comments"] - 1 and after[second["id"]] == second["comments"] + 1

    # A new comment arrives and the model places it; the staff's placement stands.
    body = fire(api, "order.delivered", "late-comer")
    answer(client, web_dispatch(body)["url"], 8, missing="The delivery was late by four days.")
    late = ok(api.post("/themes/build", json={}), 200)
    assert late["themes"] == 0 and late["assigned"] + late["unthemed"] == 1
    in_second = ok(api.get(f"/themes/{second['id']}/comments", query_string={"limit": 500}), 200)["items"]
    assert {"answer_id": moved, "set_by": "staff"}.items() <= next(
        item for item in in_second if item["answer_id"] == moved).items()

    merged = ok(api.post(f"/themes/{second['id']}/merge", json={"into": first["id"]}), 200)
    assert merged["id"] == first["id"]
    listed = ok(api.get("/themes"), 200)
    assert second["id"] not in {theme["id"] for theme in listed["themes"]}
    assert sum(theme["comments"] for theme in listed["themes"]) + listed["unthemed"] == 21

    none = ok(api.put(f"/answers/{moved}/theme", json={"theme_id": None}), 200)
    assert none["theme_id"] is None and none["set_by"] == "staff"
    assert ok(api.get("/themes"), 200)["unthemed"] == listed["unthemed"] + 1


def test_refusals_change_nothing(api, app, commented):
    ok(api.post("/themes/build", json={}), 200)
    themes = ok(api.get("/themes"), 200)["themes"]
    theme = themes[0]["id"]
    answer_id = ok(api.get(f"/themes/{theme}/comments"), 200)["items"][0]["answer_id"]
    before = snapshot(app, "themes", "comment_themes")
    listed = ok(api.get("/themes"), 200)

    assert error_of(api.get("/themes", query_string={"month": "2026-13"}), 422)
    assert error_of(api.get("/themes", query_string={"month": "last month"}), 422)
    assert error_of(api.get("/themes", query_string={"survey_id": "x"}), 422)
    assert error_of(api.post("/themes/build", json={"month": "2026-1"}), 422)
    assert error_of(api.post("/themes/build", json={"fresh": "yes"}), 422)
    assert error_of(raw_json(api, "POST", "/themes/build", b'{"month": "2026-'), 400)
    assert error_of(api.patch(f"/themes/{theme}", json={"name": "x" * 121}), 422)
    assert error_of(api.patch(f"/themes/{theme}", json={}), 422)
    assert error_of(api.patch("/themes/999999", json={"name": "Gone"}), 404)
    assert error_of(api.patch(f"/themes/{2**64}", json={"name": "Huge"}), 404)
    assert error_of(api.get(f"/themes/{2**64}"), 404)
    assert error_of(api.get("/themes/999999/comments"), 404)
    itself = api.post(f"/themes/{theme}/merge", json={"into": theme})
    assert itself.status_code in (409, 422) and itself.get_json()["error"]["message"]
    assert error_of(api.post(f"/themes/{theme}/merge", json={"into": 999999}), 404)
    assert error_of(api.post(f"/themes/{theme}/merge", json={"into": "2"}), 422)
    assert error_of(api.post(f"/themes/{theme}/merge", json={}), 422)
    assert error_of(api.put("/answers/999999/theme", json={"theme_id": theme}), 404)
    assert error_of(api.put(f"/answers/{2**64}/theme", json={"theme_id": theme}), 404)
    assert error_of(api.put(f"/answers/{answer_id}/theme", json={"theme_id": 999999}), 404)
    assert error_of(api.put(f"/answers/{answer_id}/theme", json={"theme_id": "1"}), 422)
    assert error_of(api.put(f"/answers/{answer_id}/theme", json={}), 422)
    assert error_of(raw_json(api, "PUT", f"/answers/{answer_id}/theme", b"[[[["), 400)

    assert snapshot(app, "themes", "comment_themes") == before
    assert ok(api.get("/themes"), 200) == listed


def test_a_month_without_comments_has_no_themes(api):
    assert ok(api.post("/themes/build", json={"month": "2020-01"}), 200) == {
        "period": "2020-01", "themes": 0, "assigned": 0, "unthemed": 0}
    assert ok(api.get("/themes", query_string={"month": "2020-01"}), 200) == {
        "period": "2020-01", "comments": 0, "unthemed": 0, "built_at": None, "themes": []}


def test_themes_need_an_api_key(client):
    assert client.get("/api/v1/themes").status_code == 401
    assert client.post("/api/v1/themes/build", json={}).status_code == 401
