"""The sandbox inbox: each channel's messages as the customer would see them, and staff's view."""
from __future__ import annotations

import re

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from markupsafe import Markup, escape
from wtforms import ValidationError

from bots.sms_segments import count_segments
from surveyd.extensions import login_manager
from surveyd.models import Channel
from surveyd.services.errors import ServiceError
from surveyd.services.intake import events
from surveyd.services.sandbox import agents as sandbox_agents
from surveyd.services.sandbox import chats as sandbox_chats
from surveyd.services.sandbox import inbox as sandbox_inbox

bp = Blueprint("sandbox", __name__, template_folder="templates")
URL = re.compile(r"https?://[^\s<>\"]+")
LOOPBACK = ("127.0.0.1", "::1")


@bp.before_request
def staff_only():
    """The sandbox fires events and answers as customers, and with only some channels sandboxed (a staging box)
    those events send real messages: outside --demo it needs a signed-in staff user, and every form its CSRF
    token. Under --demo, reached on this machine's loopback, it stays open, as the quick start promises."""
    settings = current_app.config["SURVEYD"]
    if not (settings.demo and request.remote_addr in LOOPBACK) and not current_user.is_authenticated:
        return login_manager.unauthorized()  # to the console's sign-in, and back here afterwards
    if request.method == "POST":
        try:
            validate_csrf(request.form.get("csrf_token"))
        except (ValidationError, CSRFError):
            abort(400, description="This form has expired or did not come from the sandbox page: reload the "
                                   "sandbox and try again. Nothing was changed.")


def linkify(text: str) -> Markup:
    """Escape message text and make its links clickable."""
    escaped = str(escape(text))
    return Markup(URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped))


def framed(html: str | None) -> str:
    """An email's HTML for the inbox's iframe: its links open a new tab, as a mail client opens them."""
    return (html or "").replace("<head>", '<head><base target="_blank">', 1)


ONE_CLICK = re.compile(r"<(https?://[^>]+)>")


def one_click_url(message) -> str | None:
    """The https target of an email's List-Unsubscribe header, which a mail client POSTs to (RFC 8058)."""
    for name, value in (message.extra or {}).get("mime_headers", []):
        if name.lower() == "list-unsubscribe" and (found := ONE_CLICK.search(value)):
            return found.group(1)
    return None


@bp.get("/sandbox")
def inbox():
    """Every message the sandbox delivered, newest first: the customers' side, or agents' with ?view=agents."""
    view = "agents" if request.args.get("view") == "agents" else "customers"
    shown = sandbox_agents.page() if view == "agents" else {
        "messages": sandbox_inbox.inbox(), "threads": sandbox_chats.threads(Channel.SMS),
        "telegram_threads": sandbox_chats.threads(Channel.TELEGRAM), "staff": sandbox_inbox.staff_view(),
        "choices": sandbox_inbox.event_choices()}
    return render_template(
        "sandbox/inbox.html", view=view, agent_count=sandbox_agents.count(), segments=count_segments,
        linkify=linkify, one_click_url=one_click_url, framed=framed, error=request.args.get("error"),
        notice=request.args.get("notice"), tapped=request.args.get("tapped", type=int), **shown,
    )


@bp.post("/sandbox/events")
def fire_event():
    """Report a touchpoint for a contact, as an integrator would."""
    payload = {"touchpoint": request.form.get("touchpoint", ""), "contact": {"external_id": request.form.get("contact", "")}}
    if not payload["touchpoint"] or not payload["contact"]["external_id"]:
        return redirect(url_for("sandbox.inbox", error="Choose a touchpoint and a contact."))
    try:
        events.record_event(payload, events.request_hash(payload), None, lambda event, dispatches: "{}")
    except ServiceError as error:
        return redirect(url_for("sandbox.inbox", error=error.message))
    return redirect(url_for("sandbox.inbox"))


@bp.post("/sandbox/sms/reply")
def reply_sms():
    """Reply to an SMS as the customer would, through the same inbound path as Twilio's webhook."""
    return _chat(lambda: sandbox_chats.reply_sms(request.form.get("phone", ""), request.form.get("text", "")), "sms")


@bp.post("/sandbox/telegram/tap")
def tap_telegram():
    """Tap a button under a Telegram message, through the same update path as Telegram's webhook."""
    message_id = request.form.get("message_id", type=int) or 0
    return _chat(lambda: sandbox_chats.tap_telegram(request.form.get("chat", ""), message_id,
                                                    request.form.get("data", "")), "telegram")


@bp.post("/sandbox/agents/telegram/tap")
def tap_as_agent():
    """Tap Claim or Resolve under an alert's Telegram message as the sandbox's staff account (the webhook's path)."""
    message_id = request.form.get("message_id", type=int) or 0
    try:
        toast = sandbox_chats.tap_as_staff(request.form.get("chat", ""), message_id, request.form.get("data", ""))
    except ServiceError as error:
        return redirect(url_for("sandbox.inbox", view="agents", error=error.message, _anchor="agents-heading"))
    # Back to the tapped message, with the toast Telegram would have shown beside it.
    return redirect(url_for("sandbox.inbox", view="agents", tapped=message_id, notice=toast or None,
                            _anchor=f"message-{message_id}"))


@bp.post("/sandbox/telegram/message")
def type_telegram():
    """Type to the bot as the customer (a /command too), through the same update path as the webhook."""
    return _chat(lambda: sandbox_chats.type_telegram(request.form.get("chat", ""), request.form.get("text", "")),
                 "telegram")


def _chat(act, channel: str):
    anchor = f"{channel}-heading"
    try:
        act()
    except ServiceError as error:
        return redirect(url_for("sandbox.inbox", error=error.message, _anchor=anchor))
    return redirect(url_for("sandbox.inbox", _anchor=anchor))
