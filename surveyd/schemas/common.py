"""Field types shared by the API schemas."""
from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import Schema, ValidationError, fields, validate

from surveyd.models import Channel
from surveyd.models.base import LARGEST_ID

CHANNELS = [c.value for c in Channel]
ID_RANGE = validate.Range(1, LARGEST_ID)  # so the OpenAPI document gives clients the range too
TOUCHPOINT_KEY = validate.Regexp(
    r"^[a-z0-9][a-z0-9_.:-]{0,99}$", error="Lower-case letters, digits and . _ : - (up to 100), e.g. order.delivered."
)
E164 = validate.Regexp(r"^\+[1-9]\d{6,14}$", error="A phone number in E.164 form, e.g. +905321234567.")
LOCALE_TAG = validate.Regexp(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$", error="A language tag such as en, tr or fa-IR.")


EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(9999, 1, 1, tzinfo=timezone.utc)


class BoundedTimestamp(fields.AwareDateTime):
    """An ISO 8601 instant from 1970 until the year 9999, as UTC. 0001-01-01T00:00+00:01 is a valid ISO string
    whose UTC instant falls before year 1 and breaks every database driver; refused here, as a 422."""

    default_error_messages = {"range": "Must be an instant from 1970 until 9999, e.g. 2026-05-04T10:30:00Z."}

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            moment = moment.astimezone(timezone.utc)
        except (OverflowError, ValueError):
            raise self.make_error("range") from None
        if not EARLIEST <= moment < LATEST:
            raise self.make_error("range")
        return moment


def Timestamp(**kwargs) -> fields.AwareDateTime:
    """An ISO 8601 timestamp; one without a zone is read as UTC."""
    return BoundedTimestamp(default_timezone=timezone.utc, **kwargs)


class StrictBoolean(fields.Boolean):
    """true or false and nothing else: marshmallow's Boolean would also take "yes", 1 and "on"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def check_timezone(value: str) -> None:
    """Refuse anything that is not an IANA time zone name."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError("An IANA time zone such as Europe/Istanbul.") from None


class ErrorDetailSchema(Schema):
    """The inside of the error envelope."""

    code = fields.String()
    message = fields.String()
    fields_ = fields.Dict(data_key="fields")


class ErrorEnvelopeSchema(Schema):
    """{"error": {...}} as every API failure answers."""

    error = fields.Nested(ErrorDetailSchema)


class PageQuerySchema(Schema):
    """Newest-first pagination by id cursor."""

    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    cursor = fields.Integer(validate=ID_RANGE, metadata={"description": "next_cursor of the previous page"})


def mask_url(url: str) -> str:
    """A URL as staff may see it again: scheme, host and port, the rest hidden (Slack's path is its secret)."""
    parts = urlsplit(url or "")
    if not parts.scheme or not parts.hostname:
        return "…"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"
