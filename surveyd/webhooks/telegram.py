"""Telegram's webhook (CONTRACT.md: the secret header must match; one effect per update_id)."""
from __future__ import annotations

from flask import Blueprint, Response, request

from bots.channel import WebhookRejected
from bots.telegram_bot import TelegramChannel, parse_update, verify_secret
from surveyd.models import Channel
from surveyd.services import channels, inbound, telegram_updates
from surveyd.services.runtime import settings

bp = Blueprint("telegram_webhook", __name__, url_prefix="/webhooks")


@bp.errorhandler(WebhookRejected)
def _rejected(error: WebhookRejected):
    return Response(f"{error}\n", status=error.status, mimetype="text/plain")


@bp.post("/telegram")
def telegram():
    """An update: checked, kept once per update_id, acted on once, answered in the chat after the commit."""
    verify_secret(settings().telegram_webhook_secret, request.headers)
    update = request.get_json(silent=True)
    if update is None:
        raise WebhookRejected("send the update as JSON", status=400)
    event = parse_update(update)
    inbound_id = inbound.store_once(event, update)
    if inbound_id:
        effects = telegram_updates.take_update(inbound_id, event)
        adapter = channels.adapter(Channel.TELEGRAM)
        if isinstance(adapter, TelegramChannel):
            telegram_updates.deliver(event, effects, adapter)
    return Response(status=200)
