"""The contract's error envelope: {"error": {"code", "message", "fields"}} for every API failure."""
from __future__ import annotations

from flask import jsonify, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from surveyd.schemas.common import ErrorEnvelopeSchema

CODES = {
    400: "malformed_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    503: "unavailable",
}


def envelope(status: int, message: str, code: str | None = None, fields: dict | None = None):
    """A JSON error response in the contract's shape."""
    body = {"error": {"code": code or CODES.get(status, "error"), "message": message, "fields": fields or {}}}
    return jsonify(body), status


def _fields_from_messages(messages) -> dict:
    """Flatten webargs' {location: {field: [...]}} into {field: [...]}."""
    if not isinstance(messages, dict):
        return {}
    fields: dict = {}
    for location, errors in messages.items():
        if isinstance(errors, dict):
            fields.update(errors)
        else:
            fields[location] = errors
    return fields


class EnvelopeApi(Api):
    """flask-smorest's Api with errors in surveyd's envelope."""

    ERROR_SCHEMA = ErrorEnvelopeSchema

    def handle_http_exception(self, error: HTTPException):
        """Render HTTP errors of API paths in the envelope; other paths keep Flask's own pages."""
        if not request.path.startswith("/api/"):
            return error.get_response()
        data = getattr(error, "data", None) or {}
        fields = _fields_from_messages(data.get("messages"))
        if error.code == 400 and "json" in (data.get("messages") or {}) and not isinstance(data["messages"]["json"], dict):
            message = "The request body is not valid JSON."
            fields = {}
        elif error.code == 422:
            message = "The request is valid JSON but its content is not acceptable."
        else:
            message = data.get("message") or error.description or error.name
        response, status = envelope(error.code or 500, message, data.get("code"), fields)
        if data.get("headers"):
            response.headers.update(data["headers"])
        return response, status
