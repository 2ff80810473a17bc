"""The trigger form: the posted fields as a draft (the body `POST /triggers` takes, in the units staff think in:
minutes, hours, days, percent), the buttons that reorder channels and add or remove conditions without
JavaScript, and which field each schema error belongs to."""
from __future__ import annotations

import json
import re
from typing import Any

from surveyd.models import Trigger
from surveyd.schemas.common import CHANNELS
from surveyd.schemas.trigger import OPERATORS

MAX_CONDITIONS = 50
ACTION = re.compile(r"^(save|add-channel|add-condition|(up|down|remove)-channel-\d+|remove-condition-\d+)$")
NO_VALUE = ("exists", "not_exists")
LISTS = ("in", "not_in")


def _number(value: float | int | None, unit: int) -> str:
    """Seconds (or a rate) shown in the form's unit without a needless ".0"."""
    if value is None:
        return ""
    shown = value / unit
    return str(int(shown)) if float(shown).is_integer() else f"{shown:g}"


def from_trigger(trigger: Trigger | None) -> dict[str, Any]:
    """The form's fields for a stored trigger, or a new one's defaults."""
    if trigger is None:
        return {"touchpoint": "", "survey_id": "", "channels": ["email"], "delay": "0", "quiet_start": "",
                "quiet_end": "", "throttle_days": "", "sample": "100", "conditions": [], "reminder_after": "",
                "reminder_channel": "", "expire_days": "", "enabled": True}
    reminder = trigger.reminder or {}
    return {
        "touchpoint": trigger.touchpoint.key, "survey_id": str(trigger.survey_id), "channels": list(trigger.channels),
        "delay": _number(trigger.delay_seconds, 60),
        "quiet_start": (trigger.quiet_hours or {}).get("start", ""), "quiet_end": (trigger.quiet_hours or {}).get("end", ""),
        "throttle_days": "" if trigger.throttle_days is None else str(trigger.throttle_days),
        "sample": _number(trigger.sample_rate * 100, 1),
        "conditions": [{"field": c["field"], "op": c["op"], "value": _shown_value(c.get("value"), c["op"])}
                       for c in trigger.conditions or []],
        "reminder_after": _number(reminder.get("after_seconds"), 3600), "reminder_channel": reminder.get("channel", ""),
        "expire_days": _number(trigger.expire_after_seconds, 86400), "enabled": trigger.enabled,
    }


def _shown_value(value: Any, op: str) -> str:
    if op in NO_VALUE or value is None:
        return ""
    if op in LISTS and isinstance(value, list):
        return ", ".join(v if isinstance(v, str) else json.dumps(v) for v in value)
    return value if isinstance(value, str) else json.dumps(value)


def read(form) -> dict[str, Any]:
    """The draft the posted form describes."""
    count = form.get("condition-count", "")
    conditions = [{"field": form.get(f"condition-{i}-field", "").strip()[:110],
                   "op": form.get(f"condition-{i}-op", ""),
                   "value": form.get(f"condition-{i}-value", "").strip()[:2000]}
                  for i in range(min(int(count), MAX_CONDITIONS) if count.isdigit() else 0)]
    return {
        "touchpoint": form.get("touchpoint", "").strip()[:100], "survey_id": form.get("survey_id", ""),
        "channels": [c for c in form.getlist("channels") if c in CHANNELS][:len(CHANNELS)],
        "delay": form.get("delay", "").strip()[:12], "quiet_start": form.get("quiet_start", "").strip()[:5],
        "quiet_end": form.get("quiet_end", "").strip()[:5], "throttle_days": form.get("throttle_days", "").strip()[:6],
        "sample": form.get("sample", "").strip()[:8], "conditions": conditions,
        "reminder_after": form.get("reminder_after", "").strip()[:8],
        "reminder_channel": form.get("reminder_channel", "") if form.get("reminder_channel") in CHANNELS else "",
        "expire_days": form.get("expire_days", "").strip()[:8], "enabled": form.get("enabled") == "1",
        "add_channel": form.get("add-channel", ""),
    }


def apply(action: str, draft: dict[str, Any]) -> str | None:
    """Carry out a reordering or adding button on the draft; the id of the control to focus afterwards."""
    channels = draft["channels"]
    numbers = [int(n) for n in re.findall(r"\d+", action)]  # the condition's index
    if action == "add-channel":
        if draft["add_channel"] in CHANNELS and draft["add_channel"] not in channels:
            channels.append(draft["add_channel"])
        return "add-channel"
    if action == "add-condition" and len(draft["conditions"]) < MAX_CONDITIONS:
        draft["conditions"].append({"field": "event.", "op": "equals", "value": ""})
        return f"condition-{len(draft['conditions']) - 1}-field"
    if action.startswith("remove-condition-") and numbers and numbers[0] < len(draft["conditions"]):
        draft["conditions"].pop(numbers[0])
        return "add-condition"
    move = re.match(r"^(up|down|remove)-channel-(\d+)$", action)
    if move and int(move.group(2)) < len(channels):
        verb, i = move.group(1), int(move.group(2))
        if verb == "remove":
            channels.pop(i)
            return "add-channel"
        j = i - 1 if verb == "up" else i + 1
        if 0 <= j < len(channels):
            channels[i], channels[j] = channels[j], channels[i]
            still = j > 0 if verb == "up" else j < len(channels) - 1  # the same button at the new place
            return f"{verb}-channel-{j}" if still else "add-channel"
    return None


def _whole(raw: str, unit: int, name: str, errors: dict, *, allow_fraction: bool = False) -> int | None:
    """A count in the form's unit as whole seconds (or days), or None for empty; an error for anything else."""
    if raw == "":
        return None
    try:
        value = float(raw) if allow_fraction else int(raw)
    except ValueError:
        errors[name] = ["triggers.number"]
        return None
    if value < 0 or value != value or value > 10**9:
        errors[name] = ["triggers.number"]
        return None
    return round(value * unit)


def typed_value(raw: str, op: str) -> Any:
    """A condition's typed value: JSON where it reads as JSON (numbers, true, false, null), else the text; a
    comma-separated list for in / not_in."""
    if op in NO_VALUE:
        return None
    if op in LISTS:
        return [typed_value(part.strip(), "equals") for part in raw.split(",") if part.strip()]
    try:
        parsed = json.loads(raw)
    except ValueError:
        return raw
    return parsed if isinstance(parsed, (int, float, bool)) or parsed is None else raw


def to_data(draft: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The draft as the body the API takes, and the errors found converting units (field id: messages)."""
    errors: dict[str, list[str]] = {}
    data: dict[str, Any] = {"touchpoint": draft["touchpoint"], "channels": draft["channels"],
                            "enabled": draft["enabled"]}
    if draft["survey_id"].isdigit():
        data["survey_id"] = int(draft["survey_id"])
    else:
        errors["survey_id"] = ["triggers.survey_missing"]
    data["delay_seconds"] = _whole(draft["delay"], 60, "delay", errors, allow_fraction=True) or 0
    if draft["quiet_start"] or draft["quiet_end"]:
        data["quiet_hours"] = {"start": draft["quiet_start"], "end": draft["quiet_end"]}
    else:
        data["quiet_hours"] = None
    data["throttle_days"] = _whole(draft["throttle_days"], 1, "throttle_days", errors)
    data["sample_rate"] = 1.0
    if draft["sample"]:
        try:
            percent = float(draft["sample"])
        except ValueError:
            percent = -1.0
        if not 0 <= percent <= 100:  # also refuses nan
            errors["sample"] = ["triggers.percent"]
        else:
            data["sample_rate"] = percent / 100
    data["conditions"] = [{"field": c["field"], "op": c["op"], **({} if c["op"] in NO_VALUE else
                                                                   {"value": typed_value(c["value"], c["op"])})}
                          for c in draft["conditions"]]
    after = _whole(draft["reminder_after"], 3600, "reminder_after", errors, allow_fraction=True)
    data["reminder"] = ({"after_seconds": after, **({"channel": draft["reminder_channel"]}
                                                    if draft["reminder_channel"] else {})} if after else None)
    data["expire_after_seconds"] = _whole(draft["expire_days"], 86400, "expire_days", errors, allow_fraction=True)
    return data, errors


FIELD_IDS = {"touchpoint": "touchpoint", "survey_id": "survey_id", "channels": "add-channel", "delay_seconds": "delay",
             "throttle_days": "throttle_days", "sample_rate": "sample", "expire_after_seconds": "expire_days",
             "enabled": "enabled"}


def field_id(path: str) -> str:
    """The control a schema error's dotted path names ("conditions.0.value" -> "condition-0-value")."""
    parts = path.split(".")
    if parts[0] in FIELD_IDS:
        return FIELD_IDS[parts[0]]
    if parts[0] == "quiet_hours":
        return "quiet_end" if len(parts) > 1 and parts[1] == "end" else "quiet_start"
    if parts[0] == "reminder":
        return "reminder_channel" if len(parts) > 1 and parts[1] == "channel" else "reminder_after"
    if parts[0] == "conditions" and len(parts) > 1 and parts[1].isdigit():
        field = parts[2] if len(parts) > 2 and parts[2] in ("field", "op", "value") else "field"
        return f"condition-{parts[1]}-{field}"
    if parts[0] == "conditions":
        return "add-condition"
    return "form"


def operators() -> list[str]:
    """The condition operators, in the schema's order."""
    return list(OPERATORS)
