"""The tolerant score parser: what a free-text reply scores, and when it is too unclear to score."""
from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bots.consent_keywords import KEYWORD_TABLES, Keyword, consent_keyword, keywords
from bots.score_parser import NUMBER_WORDS, fold, normalise_digits, read_score

NPS, CSAT, CES = (0, 10), (1, 5), (1, 7)
SCALES = {"nps": NPS, "csat": CSAT, "ces": CES}
LOCALES = (None, "en", "tr", "fa")
HINTS = (*LOCALES, "tr-TR", "fa_IR", "en-GB", "de")
INVISIBLES = "\u00a0\u200b\u200c\u200d\u200e\u200f\u061c\u2060\ufeff\u202f"
PERSIAN, ARABIC_INDIC = "۰۱۲۳۴۵۶۷۸۹", "٠١٢٣٤٥٦٧٨٩"


def _in_script(text: str, digits: str) -> str:
    """Text with its ASCII digits rewritten in another digit script."""
    return text.translate(str.maketrans("0123456789", digits))


def _keycaps(text: str, selector: str) -> str:
    """Text with each ASCII digit drawn as a keycap emoji."""
    return "".join(ch + selector + "\u20e3" if ch.isdigit() else ch for ch in text)


# --- normalise_digits and fold -------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("۰۱۲۳۴۵۶۷۸۹", "0123456789"),
        ("٠١٢٣٤٥٦٧٨٩", "0123456789"),
        ("9\ufe0f\u20e3", "9"),
        ("9\u20e3", "9"),
        ("\U0001f51f", "10"),
        ("1\ufe0f\u20e30\ufe0f\u20e3", "10"),
        ("۹ از ۱۰", "9 از 10"),
        ("no digits", "no digits"),
    ],
)
def test_normalise_digits(text, expected):
    assert normalise_digits(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SEKİZ", "sekiz"),
        ("ALTI", "alti"),
        ("altı", "alti"),
        ("Üzerinden", "uzerinden"),
        ("يك", "یک"),
        ("كمك", "کمک"),
        ("\u200f لغو\u200c عضویت \u200e", "لغو عضویت"),
        ("ل\u0640غو", "لغو"),
        ("\u00a0 a \t b\u2060", "a b"),
    ],
)
def test_fold(text, expected):
    assert fold(text) == expected


# --- accepted replies ---------------------------------------------------------------------------

# Written the same in every language, so they must read the same under every locale hint.
DIGIT_REPLIES = [
    ("9", NPS, 9),
    (" 9 ", NPS, 9),
    ("9.", NPS, 9),
    ("9!", NPS, 9),
    ("9/10", NPS, 9),
    ("9 / 10", NPS, 9),
    ("9 out of 10", NPS, 9),
    ("9 of 10", NPS, 9),
    ("I'd say 8", NPS, 8),
    ("8 I guess", NPS, 8),
    ("a solid 7", NPS, 7),
    ("10/10", NPS, 10),
    ("10/10!!!", NPS, 10),
    ("score: 9", NPS, 9),
    ("Score:9", NPS, 9),
    ("0", NPS, 0),
    ("0/10", NPS, 0),
    ("10 üzerinden 9", NPS, 9),
    ("10 uzerinden 9", NPS, 9),
    ("10 ÜZERİNDEN 9 puan", NPS, 9),
    ("9 puan", NPS, 9),
    ("9'dur", NPS, 9),
    ("۹", NPS, 9),
    ("٩", NPS, 9),
    ("۱۰", NPS, 10),
    ("۹ از ۱۰", NPS, 9),
    ("٩ از ١٠", NPS, 9),
    ("9\ufe0f\u20e3", NPS, 9),
    ("9\u20e3", NPS, 9),
    ("\U0001f51f", NPS, 10),
    ("1\ufe0f\u20e30\ufe0f\u20e3", NPS, 10),
    ("9 👍", NPS, 9),
    ("9\n\nSent from my phone", NPS, 9),
    ("\u200f۹\u200f", NPS, 9),
    ("\u00a09\u00a0", NPS, 9),
    ("\u200b9\u2060", NPS, 9),
    ("\ufeff9", NPS, 9),
    ("\u061c۸\u200e", NPS, 8),
    ("９", NPS, 9),
    ("4/5", CSAT, 4),
    ("5/5", CSAT, 5),
    ("4 out of 5", CSAT, 4),
    ("5 üzerinden 4", CSAT, 4),
    ("۴ از ۵", CSAT, 4),
    ("1", CSAT, 1),
    ("5 ⭐️", CSAT, 5),
    ("7/7", CES, 7),
    ("5 of 7", CES, 5),
    ("6", CES, 6),
    ("1", CES, 1),
]


@pytest.mark.parametrize("locale", HINTS)
@pytest.mark.parametrize(("text", "scale", "expected"), DIGIT_REPLIES)
def test_digit_replies_read_under_every_locale(text, scale, expected, locale):
    assert read_score(text, *scale, locale=locale) == expected


WORD_REPLIES = [
    # No hint: every language counts; "on" only as the whole reply.
    ("nine", NPS, None, 9),
    ("Ten", NPS, None, 10),
    ("zero", NPS, None, 0),
    ("one", NPS, None, 1),
    ("One!", CSAT, None, 1),
    ("a solid seven", NPS, None, 7),
    ("I'd say eight", NPS, None, 8),
    ("eight I guess", NPS, None, 8),
    ("nine out of ten", NPS, None, 9),
    ("one out of ten", NPS, None, 1),
    ("four out of five", CSAT, None, 4),
    ("dokuz", NPS, None, 9),
    ("Dokuz", NPS, None, 9),
    ("DOKUZ", NPS, None, 9),
    ("SEKİZ", NPS, None, 8),
    ("ALTI", CES, None, 6),
    ("altı", CES, None, 6),
    ("alti", CES, None, 6),
    ("sıfır", NPS, None, 0),
    ("SIFIR", NPS, None, 0),
    ("sifir", NPS, None, 0),
    ("üç", CSAT, None, 3),
    ("uc", CSAT, None, 3),
    ("ÜÇ", CSAT, None, 3),
    ("dört", CSAT, None, 4),
    ("dort", CSAT, None, 4),
    ("beş", CSAT, None, 5),
    ("bes", CSAT, None, 5),
    ("BEŞ", CSAT, None, 5),
    ("iki", CSAT, None, 2),
    ("İKİ", CSAT, None, 2),
    ("yedi", CES, None, 7),
    ("bir", CSAT, None, 1),
    ("on", NPS, None, 10),
    ("On.", NPS, None, 10),
    ("on puan", NPS, None, 10),
    ("10 üzerinden dokuz", NPS, None, 9),
    ("نه", NPS, None, 9),
    ("هشت", NPS, None, 8),
    ("یک", CSAT, None, 1),
    ("يك", CSAT, None, 1),
    ("ده", NPS, None, 10),
    ("صفر", NPS, None, 0),
    ("چهار", CSAT, None, 4),
    ("پنج", CSAT, None, 5),
    ("شش", CES, None, 6),
    ("هفت", CES, None, 7),
    ("سه", CSAT, None, 3),
    ("دو", CSAT, None, 2),
    ("نه از ده", NPS, None, 9),
    ("\u200fهشت\u200f", NPS, None, 8),
    # English always counts, whatever the hint.
    ("nine", NPS, "en", 9),
    ("nine", NPS, "tr", 9),
    ("nine", NPS, "fa", 9),
    ("nine", NPS, "de", 9),
    ("one", CSAT, "en", 1),
    ("ten out of ten", NPS, "fa", 10),
    # Turkish hint: "on" is ten wherever it stands.
    ("dokuz", NPS, "tr", 9),
    ("SEKİZ", NPS, "tr", 8),
    ("on", NPS, "tr", 10),
    ("on puan", NPS, "tr", 10),
    ("bence on", NPS, "tr", 10),
    ("on", NPS, "tr-TR", 10),
    ("10 üzerinden on", NPS, "tr", 10),
    ("bir", CSAT, "tr", 1),
    ("bir puan", CSAT, "tr", 1),
    # Persian hint.
    ("نه", NPS, "fa", 9),
    ("هشت", NPS, "fa", 8),
    ("يك", CSAT, "fa", 1),
    ("نه از ده", NPS, "fa", 9),
    ("هشت", NPS, "fa_IR", 8),
]


@pytest.mark.parametrize(("text", "scale", "locale", "expected"), WORD_REPLIES)
def test_number_words(text, scale, locale, expected):
    assert read_score(text, *scale, locale=locale) == expected


# --- unclear replies ----------------------------------------------------------------------------

# Unclear whatever the locale hint.
UNCLEAR_EVERYWHERE = [
    ("", NPS),
    ("   ", NPS),
    ("\u200f\u200e", NPS),
    ("great service, thanks", NPS),
    ("👍", NPS),
    ("11", NPS),
    ("100", NPS),
    ("009", NPS),
    ("12345", NPS),
    ("+90 532 123 45 67", NPS),
    ("0532 123 4567", NPS),
    ("10:30", NPS),
    ("7 or 8", NPS),
    ("7-8", NPS),
    ("7 - 8", NPS),
    ("7–8", NPS),
    ("7 8", NPS),
    ("9 9", NPS),
    ("between 7 and 8", NPS),
    ("7 yada 8", NPS),
    ("7 ya da 8", NPS),
    ("7 veya 8", NPS),
    ("۷ یا ۸", NPS),
    ("٧ یا ٨", NPS),
    ("7\ufe0f\u20e3 or 8\ufe0f\u20e3", NPS),
    ("7 or eight", NPS),
    ("seven or eight", NPS),
    ("one or two", NPS),
    ("8.5", NPS),
    ("8,5", NPS),
    ("۸٫۵", NPS),
    ("9.5/10", NPS),
    ("-1", NPS),
    ("−1", NPS),
    ("+9", NPS),
    ("4/5", NPS),
    ("9/100", NPS),
    ("12/10", NPS),
    ("9 out of 5", NPS),
    ("5 üzerinden 4", NPS),
    ("۴ از ۵", NPS),
    ("out of 10", NPS),
    ("/10", NPS),
    ("9pm", NPS),
    ("2nd", NPS),
    ("a1", NPS),
    ("24/7 support", NPS),
    ("the best one ever", NPS),
    ("no one answered", NPS),
    ("9 " + "and the staff were lovely " * 7, NPS),
    ("0", CSAT),
    ("6", CSAT),
    ("10", CSAT),
    ("10/10", CSAT),
    ("9/10", CSAT),
    ("4/10", CSAT),
    ("zero", CSAT),
    ("ten", CSAT),
    ("0", CES),
    ("8", CES),
    ("5/5", CES),
    ("7/10", CES),
    ("eight", CES),
]


@pytest.mark.parametrize("locale", HINTS)
@pytest.mark.parametrize(("text", "scale"), UNCLEAR_EVERYWHERE)
def test_unclear_replies_under_every_locale(text, scale, locale):
    assert read_score(text, *scale, locale=locale) is None


# Unclear under a particular hint; the traps of words that are also everyday words.
UNCLEAR_FOR_LOCALE = [
    ("on a scale", NPS, None),
    ("on a scale", NPS, "en"),
    ("on", NPS, "en"),
    ("on", NPS, "fa"),
    ("on time", NPS, None),
    ("dokuz", NPS, "en"),
    ("dokuz", NPS, "fa"),
    ("dokuz", NPS, "de"),
    ("نه", NPS, "de"),
    ("نه", NPS, "en"),
    ("نه", NPS, "tr"),
    ("هشت", NPS, "tr"),
    ("bir", CSAT, "en"),
    ("bir dokuz", NPS, None),
    ("bir dokuz", NPS, "tr"),
    ("harika bir deneyim", CSAT, "tr"),
    ("harika bir deneyim", CSAT, None),
    ("bir ya da iki", CSAT, "tr"),
    ("on ya da dokuz", NPS, None),
    ("on ya da dokuz", NPS, "tr"),
    ("نه، ممنون", NPS, "fa"),
    ("نه، ممنون", NPS, None),
    ("نه نه", NPS, "fa"),
    ("یک سوال داشتم", CSAT, "fa"),
    ("یک یا دو", CSAT, "fa"),
    ("هفت یا هشت", NPS, "fa"),
    ("10 üzerinden on", NPS, "en"),
]


@pytest.mark.parametrize(("text", "scale", "locale"), UNCLEAR_FOR_LOCALE)
def test_unclear_for_locale(text, scale, locale):
    assert read_score(text, *scale, locale=locale) is None


def test_long_reply_is_a_comment_even_with_one_clear_score():
    comment = "9. " + "x" * 157
    assert len(comment) == 160 and read_score(comment, *NPS) == 9
    assert read_score(comment + "x", *NPS) is None


def test_modules_import_nothing_from_the_app_or_its_frameworks():
    probe = (
        "import sys, bots.score_parser, bots.consent_keywords;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'surveyd', 'flask', 'sqlalchemy', 'flask_sqlalchemy'}))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# --- properties ---------------------------------------------------------------------------------

scales = st.sampled_from(sorted(SCALES.values()))
hints = st.sampled_from(HINTS)
padding = st.text(alphabet=" \t\n" + INVISIBLES, max_size=4)


def _any_case(draw, word: str) -> str:
    """The word with each letter drawn upper or lower case."""
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(ch.upper() if flip else ch.lower() for ch, flip in zip(word, flips))


STOP_SPELLINGS = sorted(
    {spelling for table in KEYWORD_TABLES.values() for spelling in table[Keyword.STOP]} | keywords(Keyword.STOP)
)


@st.composite
def opt_outs(draw) -> str:
    """A STOP keyword in any case, padded with whitespace, invisible marks and closing punctuation."""
    word = _any_case(draw, draw(st.sampled_from(STOP_SPELLINGS)))
    closing = draw(st.text(alphabet=".!?,;:؟،۔", max_size=3))
    return draw(padding) + word + closing + draw(padding)


@given(opt_outs(), scales, hints)
def test_no_opt_out_is_ever_read_as_a_score(reply, scale, locale):
    assert consent_keyword(reply) is Keyword.STOP
    assert read_score(reply, *scale, locale=locale) is None


@st.composite
def written_scores(draw) -> tuple[str, tuple[int, int], int]:
    """A score in one of the forms customers send, with its scale and value."""
    low, high = draw(scales)
    n = draw(st.integers(low, high))
    frame = draw(st.sampled_from(["{n}", "{n}/{high}", "{n} / {high}", "{n} out of {high}", "{n} of {high}",
                                  "{high} üzerinden {n}", "{n} از {high}", "{n} puan", "score: {n}"]))
    text = frame.format(n=n, high=high)
    form = draw(st.sampled_from(["ascii", "persian", "arabic", "keycap", "bare keycap", "ten"]))
    if form == "persian":
        text = _in_script(text, PERSIAN)
    elif form == "arabic":
        text = _in_script(text, ARABIC_INDIC)
    elif form == "keycap":
        text = _keycaps(text, "\ufe0f")
    elif form == "bare keycap":
        text = _keycaps(text, "")
    elif form == "ten":
        text = text.replace("10", "\U0001f51f")
    return draw(padding) + text + draw(padding), (low, high), n


@given(written_scores(), hints)
def test_every_written_form_reads_as_its_number(written, locale):
    text, scale, n = written
    assert read_score(text, *scale, locale=locale) == n


CONNECTORS = (" or ", "-", " - ", "–", " ya da ", " yada ", " veya ", " یا ", " to ", " and ", ", ", " ")


@given(scales, st.data(), st.sampled_from(CONNECTORS), st.sampled_from(["0123456789", PERSIAN, ARABIC_INDIC]), hints)
def test_two_numbers_are_unclear(scale, data, connector, script, locale):
    first = data.draw(st.integers(*scale))
    second = data.draw(st.integers(*scale).filter(lambda n: n != first))
    text = _in_script(f"{first}{connector}{second}", script)
    assert read_score(text, *scale, locale=locale) is None


@given(st.sampled_from(LOCALES), st.data(), st.sampled_from(CONNECTORS))
def test_two_number_words_are_unclear(locale, data, connector):
    languages = sorted(NUMBER_WORDS) if locale is None else ["en", locale]
    # English "on" is no number under an English or Persian hint, so it cannot be a second one there.
    words = [
        (word, n)
        for language in languages
        for n, word in enumerate(NUMBER_WORDS[language])
        if not (word == "on" and locale not in (None, "tr"))
    ]
    first = data.draw(st.sampled_from(words))
    second = data.draw(st.sampled_from(words).filter(lambda pair: pair[1] != first[1]))
    assert read_score(first[0] + connector + second[0], *NPS, locale=locale) is None


@given(st.text(max_size=300), scales, hints)
def test_never_raises_and_stays_on_the_scale(text, scale, locale):
    score = read_score(text, *scale, locale=locale)
    assert score is None or (type(score) is int and scale[0] <= score <= scale[1])


@given(st.text(alphabet="0123456789۰۱۲۳۴۵۶۷۸۹٠١٢٣ /.,:-+ofuntierzbdkسهنازیا\u20e3\ufe0f\u200f", max_size=40), scales, hints)
def test_never_raises_on_number_like_text(text, scale, locale):
    score = read_score(text, *scale, locale=locale)
    assert score is None or (type(score) is int and scale[0] <= score <= scale[1])


@given(st.sampled_from(DIGIT_REPLIES), st.lists(st.sampled_from(INVISIBLES), min_size=1, max_size=3), hints)
def test_invisible_marks_around_a_reply_change_nothing(case, marks, locale):
    text, scale, expected = case
    assert read_score("".join(marks) + text + "".join(marks), *scale, locale=locale) == expected
