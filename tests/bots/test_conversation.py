"""The conversation engine's decisions, step by step."""
from __future__ import annotations

import pytest

from bots.conversation import Action, Decision, Step, decide


@pytest.mark.parametrize(("step", "text", "expected"), [
    (Step.SCORE, "9", Decision(Action.SCORE, score=9)),
    (Step.SCORE, "I'd say 8", Decision(Action.SCORE, score=8)),
    (Step.SCORE, "7 or 8", Decision(Action.REPROMPT)),
    (Step.SCORE, "11", Decision(Action.REPROMPT)),
    (Step.COMMENT, "  Quick delivery ", Decision(Action.COMMENT, comment="Quick delivery")),
    (Step.COMMENT, "10", Decision(Action.COMMENT, comment="10")),  # a number after the score is a comment
    (Step.COMMENT, "Yes", Decision(Action.COMMENT, comment="Yes")),  # not Twilio's opt-in word here
    (Step.COMMENT, "   ", Decision(Action.IGNORE)),
    (Step.DONE, "9", Decision(Action.ALREADY)),
    (Step.CLOSED, "9", Decision(Action.EXPIRED)),
    (Step.NONE, "9", Decision(Action.UNKNOWN)),
])
def test_what_a_reply_means_at_each_step(step, text, expected):
    assert decide(step, text, 0, 10) == expected


@pytest.mark.parametrize("step", list(Step))
@pytest.mark.parametrize(("text", "action"), [("STOP", Action.OPT_OUT), ("iptal", Action.OPT_OUT),
                                              ("لغو", Action.OPT_OUT), ("HELP", Action.HELP)])
def test_consent_keywords_win_at_every_step(step, text, action):
    assert decide(step, text, 0, 10).action == action


def test_start_opts_in_except_as_a_comment():
    assert decide(Step.SCORE, "START", 0, 10).action == Action.OPT_IN
    assert decide(Step.DONE, "yes", 0, 10).action == Action.OPT_IN
    assert decide(Step.COMMENT, "START", 0, 10).action == Action.COMMENT


def test_one_reprompt_then_silence():
    assert decide(Step.SCORE, "hmm", 1, 5, unclear_so_far=0).action == Action.REPROMPT
    assert decide(Step.SCORE, "hmm", 1, 5, unclear_so_far=1).action == Action.IGNORE
    assert decide(Step.SCORE, "4", 1, 5, unclear_so_far=3) == Decision(Action.SCORE, score=4)  # a clear answer still counts


def test_the_scale_and_locale_are_the_surveys():
    assert decide(Step.SCORE, "0", 1, 5).action == Action.REPROMPT  # CSAT has no 0
    assert decide(Step.SCORE, "on", 0, 10, locale="tr") == Decision(Action.SCORE, score=10)
    assert decide(Step.SCORE, "on", 0, 10, locale="en").action == Action.REPROMPT
