"""Signed survey-link tokens: 128 random bits plus a MAC, so a leaked database alone cannot answer surveys."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

NONCE_BYTES = 16
MAC_BYTES = 16


def new_nonce() -> str:
    """128 bits from secrets, URL-safe."""
    return secrets.token_urlsafe(NONCE_BYTES)


def _mac(nonce: str, secret_key: str) -> str:
    digest = hmac.new(secret_key.encode(), b"survey-link:" + nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:MAC_BYTES]).rstrip(b"=").decode()


def sign(nonce: str, secret_key: str) -> str:
    """The token for a dispatch's nonce."""
    return f"{nonce}.{_mac(nonce, secret_key)}"


def verify(token: str, secret_key: str) -> str | None:
    """The nonce of a genuine token, or None for a forged or malformed one."""
    nonce, dot, mac = token.partition(".")
    if not dot or not nonce or len(token) > 100 or not token.isascii():
        return None
    if not hmac.compare_digest(mac, _mac(nonce, secret_key)):
        return None
    return nonce


CHOICE_MAC_BYTES = 8  # 64 bits: a tap cannot be guessed, and the whole payload stays far under Telegram's 64 bytes


def _choice_mac(dispatch_id: int, value: int, audience: str, secret_key: str) -> str:
    message = f"chat-choice:{dispatch_id}:{value}:{audience}".encode()
    digest = hmac.new(secret_key.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:CHOICE_MAC_BYTES]).rstrip(b"=").decode()


def sign_choice(dispatch_id: int, value: int, audience: str, secret_key: str) -> str:
    """Compact button data for one answer to one dispatch, valid only in one chat (the audience)."""
    return f"a:{dispatch_id}:{value}:{_choice_mac(dispatch_id, value, audience, secret_key)}"


def verify_choice(data: str, audience: str, secret_key: str) -> tuple[int, int] | None:
    """(dispatch id, value) of genuine button data tapped in its own chat; None when forged, foreign or malformed."""
    parts = (data or "").split(":")
    if len(parts) != 4 or parts[0] != "a" or not data.isascii():
        return None
    _, dispatch_id, value, mac = parts
    if not (dispatch_id.isdigit() and value.isdigit()) or len(dispatch_id) > 18 or len(value) > 3:
        return None
    if not hmac.compare_digest(mac, _choice_mac(int(dispatch_id), int(value), audience, secret_key)):
        return None
    return int(dispatch_id), int(value)


UNSUBSCRIBE_MAC_BYTES = 12


def _unsubscribe_mac(contact_id: int, channel: str, secret_key: str) -> str:
    digest = hmac.new(secret_key.encode(), f"unsubscribe:{channel}:{contact_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:UNSUBSCRIBE_MAC_BYTES]).decode()


def sign_unsubscribe(contact_id: int, channel: str, secret_key: str) -> str:
    """An unsubscribe token for one contact on one channel; it never lapses, as mail clients keep the header."""
    return f"{channel[0]}{contact_id}.{_unsubscribe_mac(contact_id, channel, secret_key)}"


def verify_unsubscribe(token: str, channel: str, secret_key: str) -> int | None:
    """The contact id of a genuine unsubscribe token for this channel; None when forged or malformed."""
    head, dot, mac = (token or "").partition(".")
    if not dot or len(token) > 64 or not token.isascii() or head[:1] != channel[:1] or not head[1:].isdigit():
        return None
    contact_id = int(head[1:])
    if not hmac.compare_digest(mac, _unsubscribe_mac(contact_id, channel, secret_key)):
        return None
    return contact_id


ALERT_ACTIONS = {"c": "claim", "r": "resolve"}


def _alert_mac(alert_id: int, action: str, locale: str, audience: str, secret_key: str) -> str:
    message = f"alert-action:{alert_id}:{action}:{locale}:{audience}".encode()
    digest = hmac.new(secret_key.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:CHOICE_MAC_BYTES]).rstrip(b"=").decode()


def sign_alert_action(alert_id: int, action: str, locale: str, audience: str, secret_key: str) -> str:
    """Button data for Claim ("c") or Resolve ("r") on one alert's message in one language, valid in one chat."""
    return f"k:{alert_id}:{action}:{locale}:{_alert_mac(alert_id, action, locale, audience, secret_key)}"


def verify_alert_action(data: str, audience: str, secret_key: str) -> tuple[int, str, str] | None:
    """(alert id, "claim" or "resolve", locale) of genuine button data tapped in its own chat; None otherwise."""
    parts = (data or "").split(":")
    if len(parts) != 5 or parts[0] != "k" or not data.isascii():
        return None
    _, alert_id, action, locale, mac = parts
    if not alert_id.isdigit() or len(alert_id) > 18 or action not in ALERT_ACTIONS or not 2 <= len(locale) <= 8:
        return None
    if not hmac.compare_digest(mac, _alert_mac(int(alert_id), action, locale, audience, secret_key)):
        return None
    return int(alert_id), ALERT_ACTIONS[action], locale


PASSWORD_SET_SECONDS = 3 * 24 * 3600  # an invitation's set-password link lasts three days


def _password_mac(user_id: int, epoch: int, expires: int, secret_key: str) -> str:
    message = f"password-set:{user_id}:{epoch}:{expires}".encode()
    return base64.urlsafe_b64encode(hmac.new(secret_key.encode(), message, hashlib.sha256).digest()[:18]).decode()


def sign_password_set(user_id: int, epoch: int, expires: int, secret_key: str) -> str:
    """A set-password token for one user until `expires` (unix time); spent once the password changes (epoch)."""
    return f"{user_id}.{epoch}.{expires}.{_password_mac(user_id, epoch, expires, secret_key)}"


def verify_password_set(token: str, now: int, secret_key: str) -> tuple[int, int] | None:
    """(user id, epoch) of a genuine, unexpired set-password token; None otherwise."""
    parts = (token or "").split(".")
    if len(token or "") > 120 or len(parts) != 4 or not all(p.isdigit() for p in parts[:3]):
        return None
    user_id, epoch, expires = (int(p) for p in parts[:3])
    if expires < now or not hmac.compare_digest(parts[3], _password_mac(user_id, epoch, expires, secret_key)):
        return None
    return user_id, epoch
