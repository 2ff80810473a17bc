"""The `when` filter of a notify target, and the key that names a target."""
from __future__ import annotations

import pytest

from surveyd.services.alerts.targets import Answered, matches, matching, target_key

ANSWER = Answered(score=3, comments=("The driver was rude", "Refund please"), touchpoint="order.delivered",
                  channel="sms", locale="tr", attributes={"store": "kadikoy", "tier": "gold"})


@pytest.mark.parametrize(("when", "expected"), [
    (None, True),
    ({}, True),
    ({"score_max": 3}, True),
    ({"score_max": 2}, False),
    ({"score_min": 3}, True),
    ({"score_min": 4}, False),
    ({"keywords": ["refund"]}, True),
    ({"keywords": ["rude driver"]}, False),  # words in this order are not there
    ({"keywords": ["rude"]}, True),
    ({"keywords": ["ref"]}, False),  # whole words only
    ({"touchpoints": ["order.delivered", "ticket.closed"]}, True),
    ({"touchpoints": ["ticket.closed"]}, False),
    ({"channels": ["sms"]}, True),
    ({"channels": ["web", "email"]}, False),
    ({"locales": ["tr", "fa"]}, True),
    ({"locales": ["en"]}, False),
    ({"attributes": {"store": "kadikoy"}}, True),
    ({"attributes": {"store": ["besiktas", "kadikoy"]}}, True),
    ({"attributes": {"store": "besiktas"}}, False),
    ({"attributes": {"region": "eu"}}, False),  # an attribute the answer lacks never matches
    ({"score_max": 6, "channels": ["sms"], "attributes": {"tier": "gold"}}, True),
    ({"score_max": 6, "channels": ["sms"], "attributes": {"tier": "silver"}}, False),  # every condition must hold
])
def test_when_filters(when, expected):
    assert matches(when, ANSWER) is expected


def test_a_score_bound_never_matches_an_answer_without_a_score():
    assert not matches({"score_max": 6}, Answered(score=None, comments=("awful",)))
    assert matches({"keywords": ["awful"]}, Answered(score=None, comments=("awful",)))


def test_target_keys_name_the_address_and_hide_urls():
    assert target_key({"channel": "email", "to": "Agents@Example.COM"}) == "email:agents@example.com"
    assert target_key({"channel": "telegram", "chat_id": "-1001"}) == "telegram:-1001"
    slack = target_key({"channel": "slack", "url": "https://hooks.slack.com/services/T1/B2/secret"})
    assert slack.startswith("slack:") and "secret" not in slack and len(slack) == len("slack:") + 32


def test_matching_keeps_each_address_once_first_entry_wins():
    targets = [{"channel": "email", "to": "a@example.com", "when": {"channels": ["web"]}},
               {"channel": "email", "to": "A@example.com", "locale": "tr"},
               {"channel": "email", "to": "a@example.com", "locale": "fa"},
               {"channel": "telegram", "chat_id": "7", "when": {"score_max": 1}}]
    assert matching(targets, ANSWER) == [{"channel": "email", "to": "A@example.com", "locale": "tr"}]
