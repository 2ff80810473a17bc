"""Telegram's webhook (CONTRACT.md: the secret header must match; one effect per update_id)."""
from __future__ import annotations

import json

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
    """An update: checked, kept once per update_id, acted on once, answered in the chat after the commit; a tap's
    answer rides in this response as a Bot API call, which Telegram performs."""
    verify_secret(settings().telegram_webhook_secret, request.headers)
    update = request.get_json(silent=True)
    if update is None:
        raise WebhookRejected("send the update as JSON", status=400)
    call = telegram_updates.receive(update, answer_in_response=True)
    if call is None:
        return Response(status=200)
    return Response(json.dumps(call, ensure_ascii=False), status=200, mimetype="application/json")
