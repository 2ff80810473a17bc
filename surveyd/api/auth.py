"""Bearer API-key authentication for every API route but the OpenAPI document."""
from __future__ import annotations

from flask import g, request

from surveyd.api import rate_limit
from surveyd.api.envelope import envelope
from surveyd.services.access.api_keys import authenticate


def require_api_key():
    """401 in the envelope unless the request carries a live API key."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        response, status = envelope(401, "Send an API key as Authorization: Bearer <key>.")
        return response, status, {"WWW-Authenticate": 'Bearer realm="surveyd"'}
    key_id = authenticate(raw.strip())
    if key_id is None:
        response, status = envelope(401, "The API key is not valid.")
        return response, status, {"WWW-Authenticate": 'Bearer realm="surveyd", error="invalid_token"'}
    g.api_key_id = key_id
    return rate_limit.check(key_id)
