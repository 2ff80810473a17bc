"""Bearer API-key authentication for every API route but the OpenAPI document."""
from __future__ import annotations

from typing import Callable, TypeVar

from flask import g, request

from surveyd.api import rate_limit
from surveyd.api.envelope import envelope
from surveyd.database import SNAPSHOT
from surveyd.extensions import db
from surveyd.services.access.api_keys import authenticate

V = TypeVar("V", bound=Callable)
READ_ONLY_CHECK = "surveyd_key_checked_read_only"


def key_checked_read_only(view: V) -> V:
    """Mark a view whose API key is checked in a read-only transaction of its own, which the view ends before it
    writes in another (the events route, whose writes may run in another request's transaction: group commit).
    On SQLite that check then does not take the one writer, so requests need not queue for it to be checked."""
    setattr(view, READ_ONLY_CHECK, True)
    return view


def require_api_key(read_only: bool = False):
    """401 in the envelope unless the request carries a live API key; `read_only` checks it in a read-only
    transaction (see key_checked_read_only)."""
    if read_only:
        db.session.connection(execution_options={SNAPSHOT: True})
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
