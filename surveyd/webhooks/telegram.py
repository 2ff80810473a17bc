"""Telegram's webhook (CONTRACT.md: the secret header must match; one effect per update_id)."""
from __future__ import annotations

from flask import Blueprint, Response, request

from bots.channel import WebhookRejected
from bots.telegram_bot import verify_secret
from surveyd.services.answers import telegram_updates
from surveyd.services.health import rejections
from surveyd.services.runtime import settings

bp = Blueprint("telegram_webhook", __name__, url_prefix="/webhooks")


@bp.errorhandler(WebhookRejected)
def _rejected(error: WebhookRejected):
    if error.status == 403:  # refused for its signature: counted, so a wrong public URL or secret shows
        rejections.count_safely("telegram")
    return Response(f"{error}\n", status=error.status, mimetype="text/plain")


@bp.post("/telegram")
def telegram():
    """An update: checked, kept once per update_id, acted on once, answered in the chat after the commit."""
    verify_secret(settings().telegram_webhook_secret, request.headers)
    update = request.get_json(silent=True)
    if update is None:
        raise WebhookRejected("send the update as JSON", status=400)
    telegram_updates.receive(update)
    return Response(status=200)
