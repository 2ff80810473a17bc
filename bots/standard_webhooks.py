"""The Standard Webhooks signature scheme (standardwebhooks.com): whsec_ secrets, v1 HMAC-SHA256 signatures."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from typing import Mapping

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
# The spec asks for keys of 24 to 64 bytes; a shorter one is a mistake worth refusing loudly.
MIN_SECRET_BYTES, MAX_SECRET_BYTES = 24, 64
DEFAULT_TOLERANCE = 300  # seconds either side of now, as the spec and its reference libraries use


class SignatureMismatch(Exception):
    """The request's webhook-signature does not match, is missing, or its timestamp is out of tolerance."""


def new_secret() -> str:
    """A fresh secret: whsec_ and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _key(secret: str) -> bytes:
    """The HMAC key inside a whsec_ secret; ValueError when it is not one."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a Standard Webhooks secret starts with {SECRET_PREFIX}")
    encoded = secret[len(SECRET_PREFIX):]
    try:
        # The reference libraries accept unpadded base64 too.
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"the part after {SECRET_PREFIX} is not base64") from exc
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(f"a secret must hold {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, not {len(key)}")
    return key


def _digest(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    """HMAC-SHA256 of "{msg_id}.{timestamp}.{body}"; the body is signed as the exact bytes sent."""
    return hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The v1 signature, "v1,<base64>", of one message."""
    return "v1," + base64.b64encode(_digest(_key(secret), msg_id, int(timestamp), body)).decode("ascii")


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers that carry a signed JSON message: webhook-id, -timestamp, -signature and content-type."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
        "content-type": "application/json",
    }


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float,
           tolerance: float = DEFAULT_TOLERANCE) -> None:
    """Raise SignatureMismatch unless one v1 signature in the headers signs this body, id and a recent timestamp."""
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get("webhook-id")
    stamp = lowered.get("webhook-timestamp", "").strip()
    signatures = lowered.get("webhook-signature")
    if not (msg_id and stamp and signatures):
        raise SignatureMismatch("webhook-id, webhook-timestamp and webhook-signature are all required")
    if not stamp.isdigit():
        raise SignatureMismatch(f"webhook-timestamp is not whole seconds: {stamp!r}")
    timestamp = int(stamp)
    # Both ways: a timestamp far in the future would let a captured request be replayed later.
    if abs(now - timestamp) > tolerance:
        raise SignatureMismatch(f"webhook-timestamp {timestamp} is more than {tolerance}s from now ({int(now)})")
    expected = _digest(_key(secret), msg_id, timestamp, body)
    matched = False
    # Several signatures, space-separated, let a sender rotate secrets; any one v1 match will do.
    for candidate in signatures.split():
        version, _, encoded = candidate.partition(",")
        if version != "v1":
            continue  # v1a (asymmetric) and future versions are not ours to check
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        # Every candidate is compared, so the time taken does not tell which one matched.
        matched |= hmac.compare_digest(expected, given)
    if not matched:
        raise SignatureMismatch("no webhook-signature matches")
