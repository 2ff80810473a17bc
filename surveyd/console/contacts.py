"""Contacts: search, and one page per customer with consent per channel and everything that happened to them."""
from __future__ import annotations

import json

from flask import Response, abort, render_template, request

from surveyd.console import bp
from surveyd.console.access import ALL, allowed
from surveyd.console.forms import ButtonForm
from surveyd.models import Role
from surveyd.services.audience import chat_links, contacts
from surveyd.services.errors import Conflict, NotFound
from surveyd.services.privacy import person_export
from surveyd.services.runtime import settings


@bp.route("/contacts")
@allowed(*ALL)
def contact_list():
    """Search by name, email, phone or external id."""
    text = request.args.get("q", "")[:200]
    return render_template("console/contacts.html", q=text, found=contacts.search_contacts(text))


def _contact_or_404(external_id: str):
    try:
        return contacts.get_contact(external_id)
    except NotFound:
        abort(404)


@bp.route("/contacts/<path:external_id>")
@allowed(*ALL)
def contact_page(external_id: str):
    """One customer: their addresses, consent per channel and timeline."""
    return _render(_contact_or_404(external_id))


def _render(contact, link: str | None = None, error: str | None = None, status: int = 200):
    return render_template("console/contact.html", contact=contact, consent=contacts.consent_by_channel(contact),
                           ledger=contacts.consent_history(contact),
                           timeline=contacts.timeline(contact, 200), button=ButtonForm(), link=link, error=error,
                           telegram_on=bool(settings().telegram_bot_username)), status


@bp.route("/contacts/<path:external_id>/telegram-link", methods=["POST"])
@allowed(*ALL)
def telegram_link(external_id: str):
    """A one-time link that connects the customer's Telegram to this record, to send them by other means."""
    contact = _contact_or_404(external_id)
    if not ButtonForm().validate_on_submit():
        return _render(contact, error="errors.expired", status=400)
    try:
        link, _ = chat_links.create_link(external_id)
    except Conflict as conflict:
        return _render(contact, error=str(conflict), status=409)
    return _render(contacts.get_contact(external_id), link=link)


@bp.route("/contacts/<path:external_id>/export")
@allowed(Role.ADMIN)
def contact_export(external_id: str):
    """Everything held about the customer, as the API's JSON document, to download (admins; audited)."""
    try:
        document = person_export.export(external_id)
    except NotFound:
        abort(404)
    body = json.dumps(document, ensure_ascii=False, indent=2, default=str)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": 'attachment; filename="surveyd-person.json"', "Cache-Control": "private, no-store"})
