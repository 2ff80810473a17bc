"""Contacts: create or update, read with consent and timeline."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from surveyd.models import Contact
from surveyd.request_context import request_id
from surveyd.schemas.common import ErrorEnvelopeSchema
from surveyd.schemas.contact import (
    ChatLinkSchema,
    ContactDetailSchema,
    ContactPutSchema,
    ContactSchema,
    PersonExportSchema,
)
from surveyd.services.audience import chat_links, contacts
from surveyd.services.privacy import erasure, person_export

blp = Blueprint("contacts", __name__, description="Customers, one record across every channel")


def contact_view(contact: Contact, with_timeline: bool = False) -> dict:
    """A contact as the API shows it."""
    view = {field: getattr(contact, field) for field in ("external_id", *contacts.FIELDS, "created_at", "updated_at")}
    view["consent"] = contacts.consent_by_channel(contact)
    if with_timeline:
        view["consent_history"] = contacts.consent_history(contact)
        view["timeline"] = contacts.timeline(contact)
    return view


@blp.route("/contacts/<path:external_id>")
class ContactItem(MethodView):
    """One contact by the integrator's id."""

    @blp.arguments(ContactPutSchema)
    @blp.response(200, ContactSchema)
    @blp.alt_response(201, schema=ContactSchema)
    def put(self, data, external_id: str):
        """Create or update a contact; fields left out stay as they are."""
        contact, created = contacts.put_contact(external_id, data, evidence={"request_id": request_id()})
        return contact_view(contact), 201 if created else 200

    @blp.response(204)
    @blp.alt_response(404, schema=ErrorEnvelopeSchema)
    def delete(self, external_id: str):
        """Erase the person everywhere: their names, addresses, attributes, comments, messages and notes; their scores
        stay as anonymous rows so no figure moves. If they had opted out of a channel, a keyed hash of that address
        stays so they are never messaged there again. A second request for the same id is 404."""
        erasure.erase(external_id)

    @blp.response(200, ContactDetailSchema)
    @blp.alt_response(404, schema=ErrorEnvelopeSchema)
    def get(self, external_id: str):
        """Read a contact with consent per channel and their timeline."""
        return contact_view(contacts.get_contact(external_id), with_timeline=True)


@blp.route("/contacts/<path:external_id>/telegram-link", methods=["POST"])
@blp.response(201, ChatLinkSchema)
@blp.alt_response(404, schema=ErrorEnvelopeSchema)
@blp.alt_response(409, schema=ErrorEnvelopeSchema)
def create_telegram_link(external_id: str):
    """A one-time link that binds the contact's Telegram chat when they open it (send it in any message)."""
    url, expires_at = chat_links.create_link(external_id)
    return {"url": url, "expires_at": expires_at}


@blp.route("/contacts/<path:external_id>/export")
@blp.response(200, PersonExportSchema)
@blp.alt_response(404, schema=ErrorEnvelopeSchema)
def export_person(external_id: str):
    """Everything held about the person as one JSON document (contact, consent history, events, dispatches with
    their messages, responses with answers and sentiment, alerts with activity, raw inbound messages, chat links,
    webhook deliveries that named them). Audited."""
    return person_export.export(external_id)
