"""Consent keywords: a reply that is nothing but STOP, START or HELP, in English, Turkish or Persian."""
from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bots.consent_keywords import KEYWORD_TABLES, Keyword, consent_keyword, keywords
from bots.score_parser import fold

INVISIBLES = "\u00a0\u200b\u200c\u200d\u200e\u200f\u061c\u2060\ufeff"
CLOSING = ".!?,;:؟،۔"

STOPS = [
    "STOP", "stop", "Stop", "STOPALL", "unsubscribe", "Cancel", "END", "quit", "Revoke",
    "OPTOUT", "opt-out", "Opt Out", "OPT  OUT",
    "DUR", "dur", "İPTAL", "iptal", "IPTAL", "ıptal", "İptal", "ABONELİK İPTAL", "abonelik iptal",
    "ABONELIK IPTAL", "RET", "ret", "ÇIK", "çık", "CIK", "cik", "İSTEMİYORUM", "istemiyorum",
    "ISTEMIYORUM", "İstemiyorum",
    "لغو", "توقف", "انصراف", "لغو عضویت", "لغو عضويت", "لغو\u200cعضویت", "خروج",
]
STARTS = ["START", "start", "UNSTOP", "Yes", "YES", "subscribe", "BAŞLA", "başla", "BASLA", "basla", "شروع", "عضویت", "عضويت"]
HELPS = ["HELP", "help", "Info", "INFO", "YARDIM", "yardım", "Yardim", "BİLGİ", "bilgi", "BILGI", "راهنما", "کمک", "كمك"]
DECORATED = [
    "stop.", "STOP!", "STOP!!!", " stop ", "\tStop\n", "'stop'", '"STOP"', "“STOP”", "«stop»", "stop?",
    "Stop،", "\u200fلغو\u200f", "لغو؟", "لغو.", "لغو!", "\u00a0İPTAL\u00a0", "İptal;", "ＳＴＯＰ",
]


@pytest.mark.parametrize(
    ("text", "kind"),
    [(text, Keyword.STOP) for text in STOPS + DECORATED]
    + [(text, Keyword.START) for text in STARTS + ["\ufeffSTART", "Yes!", "başla."]]
    + [(text, Keyword.HELP) for text in HELPS + ["\u200bhelp\u2060", "yardım!", "HELP?", "کمک؟"]],
)
def test_keyword(text, kind):
    assert consent_keyword(text) is kind


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "\u200f",
        "please don't stop sending",
        "stop it",
        "stop sending me these",
        "STOP STOP",
        "stopp",
        "sto p",
        "st0p",
        "STOP 🛑",
        "help me",
        "I need help",
        "yes please",
        "evet",
        "Evet",
        "EVET",
        "yardım edin",
        "lütfen dur artık",
        "لغو کن لطفا",
        "9",
        "no",
        "ok",
        "opt",
        "out",
        "abonelik",
        "stop,start",
    ],
)
def test_not_a_keyword(text):
    assert consent_keyword(text) is None


def test_keyword_is_its_string_value():
    assert [Keyword.STOP, Keyword.START, Keyword.HELP] == ["stop", "start", "help"]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (Keyword.STOP, {"stop", "opt-out", "opt out", "optout", "iptal", "abonelik iptal", "cik", "istemiyorum", "لغو عضویت"}),
        (Keyword.START, {"start", "unstop", "yes", "subscribe", "basla", "شروع", "عضویت"}),
        (Keyword.HELP, {"help", "info", "yardim", "bilgi", "راهنما", "کمک"}),
    ],
)
def test_keywords_lists_the_folded_forms(kind, expected):
    assert expected <= keywords(kind)


def test_evet_is_deliberately_not_an_opt_in():
    assert "evet" not in keywords(Keyword.START)


def test_kinds_do_not_share_a_keyword():
    stop, start, help_ = (keywords(kind) for kind in Keyword)
    assert not (stop & start or stop & help_ or start & help_)
    spellings = sum(len(spellings) for table in KEYWORD_TABLES.values() for spellings in table.values())
    # Two spellings folding together (İPTAL/IPTAL) would be a redundant entry, not a feature.
    assert len(stop | start | help_) == spellings


@pytest.mark.parametrize("kind", list(Keyword))
def test_every_listed_keyword_reads_back_as_its_kind(kind):
    assert keywords(kind)
    assert {consent_keyword(text) for text in keywords(kind)} == {kind}


@pytest.mark.parametrize("locale", ["en", "tr", "fa"])
def test_each_locale_has_a_table_for_every_kind(locale):
    assert set(KEYWORD_TABLES[locale]) == set(Keyword)


ALL_SPELLINGS = sorted(
    {(spelling, kind) for table in KEYWORD_TABLES.values() for kind, spellings in table.items() for spelling in spellings}
)
# Single words that could complete a keyword ("abonelik" + "iptal") are kept out of the filler.
KEYWORD_PARTS = {part for kind in Keyword for text in keywords(kind) for part in text.split()}
FILLER = st.sampled_from(
    ["please", "don't", "now", "me", "sending", "thanks", "lütfen", "artık", "beni", "hemen", "لطفا", "دیگه", "ممنون"]
) | st.text(alphabet="abcdefghijklmnopqrstuvwxyzçğışöü", min_size=1, max_size=10)
padding = st.text(alphabet=" \t\n" + INVISIBLES, max_size=3)


def _any_case(draw, word: str) -> str:
    """The word with each letter drawn upper or lower case."""
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(ch.upper() if flip else ch.lower() for ch, flip in zip(word, flips))


@given(st.data(), st.sampled_from(ALL_SPELLINGS))
def test_any_casing_padding_and_closing_punctuation_still_matches(data, keyword):
    spelling, kind = keyword
    closing = data.draw(st.text(alphabet=CLOSING, max_size=3))
    text = data.draw(padding) + _any_case(data.draw, spelling) + closing + data.draw(padding)
    assert consent_keyword(text) is kind


@given(st.data(), st.sampled_from(ALL_SPELLINGS), st.lists(FILLER, min_size=1, max_size=3), st.booleans())
def test_a_sentence_containing_a_keyword_is_not_one(data, keyword, filler, keyword_first):
    assume(not any(fold(word) in KEYWORD_PARTS for word in filler))
    spelling = _any_case(data.draw, keyword[0])
    words = [spelling, *filler] if keyword_first else [*filler, spelling]
    assert consent_keyword(data.draw(padding) + " ".join(words) + data.draw(padding)) is None
