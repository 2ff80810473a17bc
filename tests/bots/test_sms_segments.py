"""Tests for bots.sms_segments: worked examples at every boundary plus hypothesis properties."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bots.sms_segments import (
    GSM7,
    GSM7_BASIC_TABLE,
    GSM7_EXTENSION_TABLE,
    UCS2,
    SegmentCount,
    count_segments,
    is_gsm7,
)

PROPS = settings(max_examples=150, deadline=None)

# An independent spelling of 3GPP TS 23.038 by code point, so a look-alike typed into the module
# (Latin A for Greek Alpha, Ohm sign for Omega) is caught: positions that differ from ASCII.
_BASIC_OVERRIDES = {
    0x00: 0x0040, 0x01: 0x00A3, 0x02: 0x0024, 0x03: 0x00A5, 0x04: 0x00E8, 0x05: 0x00E9,
    0x06: 0x00F9, 0x07: 0x00EC, 0x08: 0x00F2, 0x09: 0x00C7, 0x0B: 0x00D8, 0x0C: 0x00F8,
    0x0E: 0x00C5, 0x0F: 0x00E5, 0x10: 0x0394, 0x11: 0x005F, 0x12: 0x03A6, 0x13: 0x0393,
    0x14: 0x039B, 0x15: 0x03A9, 0x16: 0x03A0, 0x17: 0x03A8, 0x18: 0x03A3, 0x19: 0x0398,
    0x1A: 0x039E, 0x1C: 0x00C6, 0x1D: 0x00E6, 0x1E: 0x00DF, 0x1F: 0x00C9, 0x24: 0x00A4,
    0x40: 0x00A1, 0x5B: 0x00C4, 0x5C: 0x00D6, 0x5D: 0x00D1, 0x5E: 0x00DC, 0x5F: 0x00A7,
    0x60: 0x00BF, 0x7B: 0x00E4, 0x7C: 0x00F6, 0x7D: 0x00F1, 0x7E: 0x00FC, 0x7F: 0x00E0,
}
SPEC_BASIC_TABLE = "".join(chr(_BASIC_OVERRIDES.get(position, position)) for position in range(128))
SPEC_BASIC = sorted(set(SPEC_BASIC_TABLE) - {"\x1b"})
SPEC_EXTENSION = sorted(map(chr, (0x0C, 0x5E, 0x7B, 0x7D, 0x5C, 0x5B, 0x7E, 0x5D, 0x7C, 0x20AC)))
# Outside both tables: what a Turkish or Persian body, a typographer or an emoji brings in.
EMOJI = "\U0001F600"
NON_GSM = "çşğıİŞĞ`\x1b\u00a0’“—یک" + EMOJI
SPEC_GSM = frozenset(SPEC_BASIC + SPEC_EXTENSION)


def test_basic_table_is_the_spec_table_in_code_order():
    assert GSM7_BASIC_TABLE == SPEC_BASIC_TABLE


def test_extension_table_is_the_spec_extension_table():
    assert sorted(GSM7_EXTENSION_TABLE) == SPEC_EXTENSION


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", SegmentCount(GSM7, 0, 1, 160, ()), id="empty-is-one-segment"),
        pytest.param("a" * 160, SegmentCount(GSM7, 160, 1, 160, ()), id="gsm-160"),
        pytest.param("a" * 161, SegmentCount(GSM7, 161, 2, 153, ()), id="gsm-161"),
        pytest.param("a" * 306, SegmentCount(GSM7, 306, 2, 153, ()), id="gsm-306"),
        pytest.param("a" * 307, SegmentCount(GSM7, 307, 3, 153, ()), id="gsm-307"),
        pytest.param("ş" * 70, SegmentCount(UCS2, 70, 1, 70, ("ş",)), id="ucs2-70"),
        pytest.param("ş" * 71, SegmentCount(UCS2, 71, 2, 67, ("ş",)), id="ucs2-71"),
        pytest.param("ş" * 134, SegmentCount(UCS2, 134, 2, 67, ("ş",)), id="ucs2-134"),
        pytest.param("ş" * 135, SegmentCount(UCS2, 135, 3, 67, ("ş",)), id="ucs2-135"),
        # Septet 153 would be the escape: it moves, with its character, to the next segment.
        pytest.param("a" * 152 + "€" + "a" * 152, SegmentCount(GSM7, 306, 3, 153, ()), id="escape-not-split"),
        pytest.param("a" * 151 + "€" + "a" * 152, SegmentCount(GSM7, 305, 2, 153, ()), id="escape-fits"),
        # Code unit 67 would be a high surrogate: the pair moves to the next segment.
        pytest.param("a" * 66 + EMOJI + "a" * 66, SegmentCount(UCS2, 134, 3, 67, (EMOJI,)), id="surrogate-not-split"),
        pytest.param("a" * 65 + EMOJI + "a" * 67, SegmentCount(UCS2, 134, 2, 67, (EMOJI,)), id="surrogate-fits"),
        pytest.param(EMOJI * 35, SegmentCount(UCS2, 70, 1, 70, (EMOJI,)), id="emoji-counts-two"),
        pytest.param("Müdür", SegmentCount(GSM7, 5, 1, 160, ()), id="turkish-o-u-are-gsm"),
        pytest.param("Müşteri", SegmentCount(UCS2, 7, 1, 70, ("ş",)), id="turkish-s-cedilla-forces-ucs2"),
        pytest.param("ışığı", SegmentCount(UCS2, 5, 1, 70, ("ı", "ş", "ğ")), id="distinct-in-order"),
        pytest.param(
            "https://survey.example.com/s/Ab3_x-9?lang=tr&ch=sms#q1",
            SegmentCount(GSM7, 54, 1, 160, ()),
            id="url",
        ),
    ],
)
def test_worked_examples(text, expected):
    assert count_segments(text) == expected


@pytest.mark.parametrize("character", ["€", "{", "^", "}", "\\", "[", "~", "]", "|", "\f"])
def test_extension_character_costs_two_septets(character):
    assert count_segments("a" * 158 + character) == SegmentCount(GSM7, 160, 1, 160, ())
    assert count_segments("a" * 159 + character) == SegmentCount(GSM7, 161, 2, 153, ())


def test_turkish_survey_question_is_forced_to_ucs2_by_dotless_i():
    result = count_segments("Deneyiminizi 0-10 arasında puanlayın")
    assert (result.encoding, result.units, result.segments) == (UCS2, 36, 1)
    assert result.unicode_characters == ("ı",)


@pytest.mark.parametrize("character", ["ş", "ğ", "ı", "İ", "Ş", "Ğ", "ç"])
def test_turkish_letters_outside_gsm7_force_ucs2(character):
    assert count_segments(f"Merhaba {character}").unicode_characters == (character,)
    assert not is_gsm7(character)


@pytest.mark.parametrize("character", ["Ç", "ö", "ü", "Ö", "Ü"])
def test_turkish_letters_inside_gsm7_stay_gsm7(character):
    assert count_segments(f"Merhaba {character}").encoding == GSM7
    assert is_gsm7(character)


def test_persian_is_ucs2_and_only_non_gsm_characters_are_blamed():
    result = count_segments("تجربه شما چطور بود؟")
    assert (result.encoding, result.units, result.segments, result.per_segment) == (UCS2, 19, 1, 70)
    assert " " not in result.unicode_characters
    assert result.unicode_characters[:3] == ("ت", "ج", "ر")
    assert "؟" in result.unicode_characters


def test_literal_escape_is_not_gsm7():
    # 0x1B introduces the extension table; on its own it is no character a handset can show.
    assert count_segments("a\x1bb").unicode_characters == ("\x1b",)


def test_is_gsm7_examples():
    assert is_gsm7("")
    assert is_gsm7("Müdür: 10/10 {€} @ ~ ^")
    assert not is_gsm7("Müdür`")
    assert not is_gsm7("تجربه")


# --- properties -------------------------------------------------------------------------------

basic_character = st.sampled_from(SPEC_BASIC)
any_character = st.one_of(
    basic_character,
    st.sampled_from(SPEC_EXTENSION),
    st.sampled_from(NON_GSM),
    st.characters(codec="utf-8"),  # a lone surrogate cannot reach Twilio at all
)
non_gsm_character = st.one_of(
    st.sampled_from(NON_GSM),
    # Above Latin-1, only the Greek capitals and the euro sign are GSM-7.
    st.characters(min_codepoint=0x100, codec="utf-8").filter(lambda c: c not in "ΔΦΓΛΩΠΨΣΘΞ€"),
)
# Long runs of one character put bodies near every segment boundary, which short random text rarely reaches.
padded_text = st.builds(
    lambda filler, count, tail: filler * count + tail,
    st.sampled_from(["a", "€", "ş", EMOJI]),
    st.integers(0, 330),
    st.text(alphabet=any_character, max_size=40),
)
basic_text = st.one_of(
    st.text(alphabet=basic_character, max_size=400),
    st.builds(lambda filler, count, tail: filler * count + tail,
              basic_character, st.integers(0, 330), st.text(alphabet=basic_character, max_size=40)),
)


@PROPS
@given(basic_text)
def test_basic_characters_cost_one_septet_each(text):
    result = count_segments(text)
    assert (result.encoding, result.units, result.unicode_characters) == (GSM7, len(text), ())
    # With no two-septet character there is nothing to keep whole, so segments fill completely.
    assert result.segments == (1 if len(text) <= 160 else math.ceil(len(text) / 153))


@PROPS
@given(padded_text, st.text(alphabet=any_character, min_size=1, max_size=40))
def test_appending_never_reduces_segments(text, suffix):
    counts = [count_segments(text + suffix[:end]).segments for end in range(len(suffix) + 1)]
    assert counts == sorted(counts)


@PROPS
@given(st.one_of(padded_text, st.text(alphabet=any_character, max_size=400)))
def test_segments_carry_the_units_without_waste(text):
    result = count_segments(text)
    assert result.segments >= 1
    assert result.segments * result.per_segment >= result.units
    single, concatenated = (160, 153) if result.encoding == GSM7 else (70, 67)
    assert result.per_segment == (single if result.units <= single else concatenated)
    # Every full segment but the last is short by at most one unit (a two-unit character that moved on).
    assert (result.segments - 1) * (result.per_segment - 1) < max(result.units, 1)


@PROPS
@given(st.text(alphabet=any_character, max_size=200), non_gsm_character, st.data())
def test_any_non_gsm_character_forces_ucs2_counted_in_utf16_units(text, character, data):
    at = data.draw(st.integers(0, len(text)))
    body = text[:at] + character + text[at:]
    result = count_segments(body)
    assert result.encoding == UCS2
    assert character in result.unicode_characters
    assert result.units == len(body.encode("utf-16-le")) // 2
    assert not is_gsm7(body)


@PROPS
@given(st.text(alphabet=any_character, max_size=200))
def test_gsm7_exactly_when_every_character_is_in_the_spec_tables(text):
    expected = all(c in SPEC_GSM for c in text)
    assert is_gsm7(text) is expected
    assert (count_segments(text).encoding == GSM7) is expected


@PROPS
@given(st.text(alphabet=st.sampled_from(SPEC_BASIC + SPEC_EXTENSION), max_size=400))
def test_gsm7_units_count_extension_characters_twice(text):
    extension = sum(c in SPEC_EXTENSION for c in text)
    assert count_segments(text).units == len(text) + extension
