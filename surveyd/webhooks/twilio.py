"""Twilio's inbound SMS and status callbacks (CONTRACT.md: signature checked against SURVEYD_PUBLIC_URL)."""
from __future__ import annotations

from flask import Blueprint, Response, request
from twilio.twiml.messaging_response import MessagingResponse

from bots import twilio_webhooks
from bots.channel import InboundEvent, WebhookRejected
from surveyd.services.answers import conversations, delivery_status, inbound
from surveyd.services.health import rejections
from surveyd.services.runtime import public_url, settings

bp = Blueprint("twilio_webhooks", __name__, url_prefix="/webhooks/twilio")


def _verified(parse) -> InboundEvent:
    """The request's event, once its signature proves it is Twilio's; WebhookRejected otherwise."""
    url = twilio_webhooks.signed_url(public_url(), request.path, request.query_string.decode("latin-1"))
    twilio_webhooks.verify(settings().twilio_auth_token, url, request.headers, request.form.items(multi=True))
    return parse(request.form)


def _twiml(replies: list[str]) -> Response:
    twiml = MessagingResponse()
    for reply in replies:
        twiml.message(reply)
    return Response(str(twiml), mimetype="text/xml")


@bp.errorhandler(WebhookRejected)
def _rejected(error: WebhookRejected):
    if error.status == 403:  # refused for its signature: counted, so a wrong public URL or secret shows
        rejections.count_safely("twilio")
    return Response(f"{error}\n", status=error.status, mimetype="text/plain")


@bp.post("/sms")
def sms():
    """A customer's text: kept once per MessageSid, acted on once, answered in TwiML."""
    message = _verified(twilio_webhooks.parse_message)
    inbound_id = inbound.store_once(message, request.form.to_dict())
    return _twiml(conversations.take_message(inbound_id, message) if inbound_id else [])


@bp.post("/status")
def status():
    """A delivery status: applied once per MessageSid and status; the dispatch only moves forward."""
    event = _verified(twilio_webhooks.parse_status)
    dispatch_id = request.args.get("dispatch", type=int)
    inbound_id = inbound.store_once(event, {**request.form.to_dict(), "dispatch": dispatch_id})
    if inbound_id:
        delivery_status.take_status(inbound_id, event, dispatch_id)
    return Response(status=200)
