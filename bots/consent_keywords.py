"""STOP, START and HELP keywords in English, Turkish and Persian, matched as Twilio does: the whole reply."""
from __future__ import annotations

import enum

from bots.score_parser import fold


class Keyword(str, enum.Enum):
    """What a consent keyword asks us to do."""

    STOP = "stop"
    START = "start"
    HELP = "help"


# One table per locale; a new language is a new table plus its entry in KEYWORD_TABLES. Spellings are
# written naturally: matching folds case and accents, so "IPTAL", "ıptal" and "CIK" need no entries.
EN_KEYWORDS = {
    Keyword.STOP: ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT-OUT", "OPT OUT"),
    # YES is here only because Twilio itself opts the sender back in on it; our state must agree with theirs.
    Keyword.START: ("START", "UNSTOP", "YES", "SUBSCRIBE"),
    Keyword.HELP: ("HELP", "INFO"),
}
TR_KEYWORDS = {
    Keyword.STOP: ("DUR", "İPTAL", "ABONELİK İPTAL", "RET", "ÇIK", "İSTEMİYORUM"),
    # No EVET: no carrier treats it as an opt-in, and it is the everyday Turkish answer to a yes/no survey
    # question, so taking it as START would swallow answers and gain nothing.
    Keyword.START: ("BAŞLA",),
    Keyword.HELP: ("YARDIM", "BİLGİ"),
}
FA_KEYWORDS = {
    Keyword.STOP: ("لغو", "توقف", "انصراف", "لغو عضویت", "خروج"),
    Keyword.START: ("شروع", "عضویت"),
    Keyword.HELP: ("راهنما", "کمک"),
}
KEYWORD_TABLES = {"en": EN_KEYWORDS, "tr": TR_KEYWORDS, "fa": FA_KEYWORDS}

# Punctuation that may close (or wrap) a bare keyword: Latin, Arabic-script and typographic quotes.
# Emoji are deliberately absent: "STOP 🛑" is not a bare keyword to Twilio either.
EDGE_PUNCTUATION = " .!?,;:…¡¿؟،؛۔'\"`‘’‚‛“”„«»‹›()[]{}"

_BY_TEXT = {
    fold(spelling): kind
    for table in KEYWORD_TABLES.values()
    for kind, spellings in table.items()
    for spelling in spellings
}


def consent_keyword(text: str) -> Keyword | None:
    """The consent keyword a whole reply is, or None."""
    return _BY_TEXT.get(fold(text).strip(EDGE_PUNCTUATION))


def keywords(kind: Keyword) -> frozenset[str]:
    """Every keyword of one kind, in the folded form consent_keyword compares against."""
    return frozenset(text for text, each in _BY_TEXT.items() if each is kind)
