"""How many SMS segments a body costs on Twilio, per 3GPP TS 23.038 (GSM-7 or UCS-2)."""
from __future__ import annotations

from dataclasses import dataclass

# The count is the worst case: Twilio's optional "Smart Encoding" (which swaps look-alikes such
# as curly quotes for GSM-7 ones) and the national language shift tables (e.g. the Turkish one,
# which would keep ş ğ ı in GSM-7) are not assumed: neither can be relied on for every sender
# and destination, so a body is counted as it travels without them.

GSM7 = "GSM-7"
UCS2 = "UCS-2"

ESCAPE = "\x1b"
# The default alphabet in code order, 16 code points a line. 0x1B is the escape to the extension
# table, not a character, so a literal ESC in a body is not sendable as GSM-7 (see GSM7_BASIC).
GSM7_BASIC_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# Reached through ESCAPE, so each costs two septets.
GSM7_EXTENSION_TABLE = "\x0c^{}\\[~]|€"

GSM7_BASIC = frozenset(GSM7_BASIC_TABLE) - {ESCAPE}
GSM7_EXTENSION = frozenset(GSM7_EXTENSION_TABLE)
GSM7_CHARACTERS = GSM7_BASIC | GSM7_EXTENSION

# Per encoding: units in a lone segment, units in each segment of a concatenated message
# (the 6-byte concatenation header leaves 153 septets or 67 UTF-16 code units of the 140 bytes).
SEGMENT_CAPACITY = {GSM7: (160, 153), UCS2: (70, 67)}


@dataclass(frozen=True)
class SegmentCount:
    """How an SMS body travels: its encoding, its length in that encoding's units, and the number of segments."""

    encoding: str  # GSM7 or UCS2
    units: int  # septets for GSM-7 (extension characters count 2), UTF-16 code units for UCS-2
    segments: int  # at least 1: an empty body is still sent, and billed, as one segment
    per_segment: int  # the capacity that applied: 160 / 153 for GSM-7, 70 / 67 for UCS-2
    unicode_characters: tuple[str, ...]  # what forced UCS-2, distinct, in order of first appearance


def is_gsm7(text: str) -> bool:
    """Whether every character of text is in the GSM-7 default alphabet or its extension table."""
    return all(character in GSM7_CHARACTERS for character in text)


def count_segments(text: str) -> SegmentCount:
    """Count the encoding, units and segments Twilio would bill for sending text."""
    unicode_characters = tuple(dict.fromkeys(c for c in text if c not in GSM7_CHARACTERS))
    encoding = UCS2 if unicode_characters else GSM7
    widths = [_width(character, encoding) for character in text]
    units = sum(widths)
    single, concatenated = SEGMENT_CAPACITY[encoding]
    if units <= single:
        return SegmentCount(encoding, units, 1, single, unicode_characters)
    return SegmentCount(encoding, units, _pack(widths, concatenated), concatenated, unicode_characters)


def _width(character: str, encoding: str) -> int:
    """Units one character takes: an escape plus its septet, or a UTF-16 surrogate pair, is 2."""
    if encoding == GSM7:
        return 2 if character in GSM7_EXTENSION else 1
    return 2 if ord(character) > 0xFFFF else 1


def _pack(widths: list[int], capacity: int) -> int:
    """Segments needed to carry characters of these widths in order, never splitting one."""
    # A handset cannot rejoin an escape and its septet, or the halves of a surrogate pair,
    # across segments, so a character that would straddle the boundary opens the next segment.
    segments, used = 1, 0
    for width in widths:
        if used + width > capacity:
            segments, used = segments + 1, 0
        used += width
    return segments
