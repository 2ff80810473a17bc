"""A survey as a chat conversation: what one reply means at each step, for SMS and Telegram alike.

The engine only decides; the caller stores the effect and words the reply. The steps:
score question → (unclear: one polite re-prompt, then silence) → follow-up question of the score's
band → free-text comment → thanks. Consent keywords win over everything, at any step.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from bots.consent_keywords import Keyword, consent_keyword
from bots.score_parser import read_score

MAX_REPROMPTS = 1


class Step(str, enum.Enum):
    """Where a conversation about one dispatch stands."""

    SCORE = "score"  # the score question is out, no score yet
    COMMENT = "comment"  # the score is in, the follow-up question is out
    DONE = "done"  # everything asked is answered
    CLOSED = "closed"  # expired or withdrawn: no answer can be taken any more
    NONE = "none"  # nothing was ever asked of this sender


class Action(str, enum.Enum):
    """What to do with a reply."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    SCORE = "score"  # record the score; ask the follow-up or thank
    COMMENT = "comment"  # record the comment; thank
    REPROMPT = "reprompt"  # unclear: ask again, once
    IGNORE = "ignore"  # unclear again: say nothing more
    ALREADY = "already"  # the survey is complete
    EXPIRED = "expired"  # too late for an answer
    UNKNOWN = "unknown"  # no survey to answer


@dataclass(frozen=True)
class Decision:
    """What a reply means: the action and, for SCORE and COMMENT, the value to store."""

    action: Action
    score: int | None = None
    comment: str | None = None


_KEYWORD_ACTIONS = {Keyword.STOP: Action.OPT_OUT, Keyword.START: Action.OPT_IN, Keyword.HELP: Action.HELP}
_CLOSED_ACTIONS = {Step.DONE: Action.ALREADY, Step.CLOSED: Action.EXPIRED, Step.NONE: Action.UNKNOWN}


def decide(step: Step, text: str, low: int, high: int, locale: str | None = None, unclear_so_far: int = 0) -> Decision:
    """The meaning of one reply at this step of the conversation."""
    keyword = consent_keyword(text or "")
    if keyword == Keyword.START and step == Step.COMMENT:
        keyword = None  # "Yes" is Twilio's opt-in word, and also a fair answer to a follow-up question
    if keyword is not None:
        return Decision(_KEYWORD_ACTIONS[keyword])
    if step in _CLOSED_ACTIONS:
        return Decision(_CLOSED_ACTIONS[step])
    if step == Step.COMMENT:
        comment = (text or "").strip()
        return Decision(Action.COMMENT, comment=comment) if comment else Decision(Action.IGNORE)
    score = read_score(text or "", low, high, locale)
    if score is not None:
        return Decision(Action.SCORE, score=score)
    return Decision(Action.REPROMPT if unclear_so_far < MAX_REPROMPTS else Action.IGNORE)
