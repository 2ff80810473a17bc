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
