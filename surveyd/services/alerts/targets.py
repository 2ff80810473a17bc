"""Which notify targets hear of an alert: the pure `when` filter, and the key that names a target."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

ADDRESS_FIELD = {"email": "to", "telegram": "chat_id", "slack": "url", "webhook": "url"}


@dataclass(frozen=True)
class Answered:
    """What a `when` filter looks at: the answer and where it came from."""

    score: int | None
    comments: tuple[str, ...] = ()
    touchpoint: str | None = None
    channel: str | None = None
    locale: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)  # the contact's, overlaid with the event's


def target_key(target: dict[str, Any]) -> str:
    """The target's channel and address, short enough for an index: URLs (secrets in Slack's) are hashed."""
    channel = target["channel"]
    address = str(target.get(ADDRESS_FIELD[channel], ""))
    if channel in ("slack", "webhook"):
        address = hashlib.sha256(address.encode()).hexdigest()[:32]
    return f"{channel}:{address.lower() if channel == 'email' else address}"


def _has_keyword(keywords: Iterable[str], comments: Iterable[str]) -> bool:
    words = " ".join(comments).lower()
    return any(re.search(rf"(?<!\w){re.escape(k.lower())}(?!\w)", words) for k in keywords)


def _attribute_matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, list):
        return actual in expected
    return actual == expected


def matches(when: dict[str, Any] | None, answered: Answered) -> bool:
    """True when every condition of the filter holds for this answer (no filter: always)."""
    if not when:
        return True
    score = answered.score
    if "score_max" in when and (score is None or score > when["score_max"]):
        return False
    if "score_min" in when and (score is None or score < when["score_min"]):
        return False
    if when.get("keywords") and not _has_keyword(when["keywords"], answered.comments):
        return False
    if when.get("touchpoints") and answered.touchpoint not in when["touchpoints"]:
        return False
    if when.get("channels") and answered.channel not in when["channels"]:
        return False
    if when.get("locales") and answered.locale not in when["locales"]:
        return False
    for name, expected in (when.get("attributes") or {}).items():
        if not _attribute_matches(expected, answered.attributes.get(name)):
            return False
    return True


def matching(targets: Iterable[dict[str, Any]], answered: Answered) -> list[dict[str, Any]]:
    """The targets whose filter this answer passes, each address once (the first entry wins)."""
    chosen: dict[str, dict[str, Any]] = {}
    for target in targets:
        if matches(target.get("when"), answered):
            chosen.setdefault(target_key(target), target)
    return list(chosen.values())
