"""What changed between two versions of a survey: by question and option id, a reordering as one change."""
from __future__ import annotations

from surveyd.services.design.versions import Change, compare

SCORE = {"id": "score", "type": "scale", "text": {"en": "How likely?"}}
WHY = {"id": "why", "type": "text", "text": {"en": "Why?"}, "bands": ["negative"]}
PICK = {"id": "pick", "type": "choice", "text": {"en": "Which?"},
        "options": [{"id": "a", "label": {"en": "A"}}, {"id": "b", "label": {"en": "B"}}]}


def content(questions, locales=("en",), alert=None, email=None):
    return {"locales": list(locales), "questions": questions, "alert": alert or {"threshold": 6}, "email": email}


def test_the_same_content_has_no_changes():
    assert compare(content([SCORE, WHY]), content([SCORE, WHY])) == []


def test_an_inserted_question_is_one_addition_not_a_change_of_every_later_one():
    changes = compare(content([SCORE, WHY]), content([SCORE, PICK, WHY]))
    assert changes == [Change(("questions", "pick"), None, {k: v for k, v in PICK.items() if k != "id"})]
    assert changes[0].kind == "added"


def test_a_reordering_is_one_change_of_order():
    changes = compare(content([SCORE, WHY, PICK]), content([SCORE, PICK, WHY]))
    assert changes == [Change(("questions", "order"), ["score", "why", "pick"], ["score", "pick", "why"])]


def test_texts_options_locales_alert_and_email_changes_name_their_place():
    after_pick = {**PICK, "options": [{"id": "b", "label": {"en": "Bee"}}]}
    changes = compare(content([SCORE, PICK]),
                      content([SCORE, after_pick], locales=("en", "fa"), alert={"threshold": 4},
                              email={"subject": {"en": "Hi"}}))
    assert [(c.path, c.kind) for c in changes] == [
        (("locales",), "changed"),
        (("questions", "pick", "options", "a"), "removed"),
        (("questions", "pick", "options", "b", "label", "en"), "changed"),
        (("alert", "threshold"), "changed"),
        (("email",), "added"),
    ]
