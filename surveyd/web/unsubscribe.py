"""Email unsubscribe at /u/<token>: a GET asks to confirm (link scanners open every link); a POST opts out.

A mail client's RFC 8058 one-click POST and the confirm button on the page take the same route.
"""
from __future__ import annotations

from flask import Blueprint, request

import survey_templates
from surveyd.request_context import request_id
from surveyd.services.audience import unsubscribing
from surveyd.web.respond import page

bp = Blueprint("unsubscribe", __name__, template_folder="templates")


def _locale(contact) -> str:
    wanted = (contact.locale if contact else None) or request.accept_languages.best
    return survey_templates.resolve_locale(wanted, list(survey_templates.available_locales()))


def _isolated(address: str | None) -> str:
    """The address as a bidi-isolated run, so it reads left to right inside a Persian sentence."""
    return f"\u2068{address}\u2069" if address else ""


@bp.get("/u/<token>")
def confirm(token: str):
    """Ask before opting out; records nothing."""
    contact = unsubscribing.contact_for(token)
    if contact is None:
        return page("unsubscribe/page.html", _locale(None), 404, state="not_found")
    return page("unsubscribe/page.html", _locale(contact), state="confirm", email=_isolated(contact.email))


@bp.post("/u/<token>")
def unsubscribe(token: str):
    """Opt out of email at once, from the page's button or a mail client's one-click POST."""
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    contact = unsubscribing.unsubscribe(token, "list_unsubscribe" if one_click else "unsubscribe_page",
                                        {"request_id": request_id(), "one_click": one_click})
    if contact is None:
        return page("unsubscribe/page.html", _locale(None), 404, state="not_found")
    return page("unsubscribe/page.html", _locale(contact), state="done", email=_isolated(contact.email))
