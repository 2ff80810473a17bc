"""Contact request and response bodies."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from surveyd.schemas.common import CHANNELS, E164, LOCALE_TAG, Timestamp, check_timezone


class ContactPutSchema(Schema):
    """PUT /contacts/{external_id}: fields left out stay as they are; null clears one."""

    name = fields.String(allow_none=True, validate=validate.Length(max=200))
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    phone = fields.String(allow_none=True, validate=E164)
    telegram_chat_id = fields.String(allow_none=True, validate=validate.Regexp(r"^-?\d{1,20}$", error="A numeric chat id."))
    locale = fields.String(allow_none=True, validate=[validate.Length(max=16), LOCALE_TAG])
    timezone = fields.String(allow_none=True, validate=check_timezone)
    attributes = fields.Dict(keys=fields.String(validate=validate.Length(1, 100)), allow_none=True)
    consent = fields.Dict(
        keys=fields.String(validate=validate.OneOf(CHANNELS)),
        values=fields.String(validate=validate.OneOf(["opted_in", "opted_out"])),
        metadata={"description": "Consent you hold for the customer, e.g. {\"sms\": \"opted_out\"}."},
    )


class EventContactSchema(ContactPutSchema):
    """The contact inside an event: the external id plus any fields to update."""

    external_id = fields.String(required=True, validate=validate.Length(1, 200))


class TimelineItemSchema(Schema):
    """One dispatch, response or alert in a contact's history."""

    type = fields.String()
    id = fields.Integer()
    at = Timestamp()
    survey_id = fields.Integer()
    channel = fields.String()
    status = fields.String()
    reason = fields.String(allow_none=True)
    score = fields.Integer(allow_none=True)
    completed = fields.Boolean()


class ContactSchema(Schema):
    """A contact with consent per channel."""

    external_id = fields.String()
    name = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    telegram_chat_id = fields.String(allow_none=True)
    locale = fields.String(allow_none=True)
    timezone = fields.String(allow_none=True)
    attributes = fields.Dict()
    consent = fields.Dict()
    created_at = Timestamp()
    updated_at = Timestamp()


class ConsentChangeSchema(Schema):
    """One consent change and what shows it happened."""

    at = Timestamp()
    channel = fields.String()
    state = fields.String(metadata={"description": "opted_in, opted_out or undeliverable"})
    source = fields.String(metadata={"description": "sms_keyword, list_unsubscribe, unsubscribe_page, "
                                                    "telegram_command, telegram_start, api, event, provider, "
                                                    "address_changed"})
    evidence = fields.Dict(metadata={"description": "the keyword's text and message id, the request id, the "
                                                    "provider's code..."})


class ContactDetailSchema(ContactSchema):
    """GET /contacts/{external_id}: the contact and their timeline."""

    timeline = fields.List(fields.Nested(TimelineItemSchema))
    consent_history = fields.List(fields.Nested(ConsentChangeSchema), metadata={
        "description": "every consent change, oldest first: the consent ledger"})


class ChatLinkSchema(Schema):
    """POST /contacts/{external_id}/telegram-link: a one-time deep link into the bot."""

    url = fields.String(metadata={"description": "https://t.me/<bot>?start=<one-time code>; the first chat to open it "
                                                 "becomes this contact's Telegram"})
    expires_at = Timestamp()


class PersonExportSchema(Schema):
    """GET /contacts/{external_id}/export: every row held about the person, each with all its columns."""

    format = fields.String(metadata={"description": "surveyd.person/1"})
    exported_at = fields.String()
    contact = fields.Dict()
    consent_history = fields.List(fields.Dict())
    events = fields.List(fields.Dict())
    dispatches = fields.List(fields.Dict(), metadata={"description": "each with history and messages"})
    responses = fields.List(fields.Dict(), metadata={"description": "each with answers (sentiment, theme)"})
    alerts = fields.List(fields.Dict(), metadata={"description": "each with activity"})
    inbound_messages = fields.List(fields.Dict())
    messages_without_invitation = fields.List(fields.Dict())
    conversations = fields.List(fields.Dict())
    chat_links = fields.List(fields.Dict())
    webhook_deliveries = fields.List(fields.Dict())
