"""The OpenAPI document: served without a key, OpenAPI 3, covering every route of the contract."""
from __future__ import annotations

import json
import re

import pytest

PREFIX = "/api/v1"
# Every route in shared/CONTRACT.md's HTTP API table, as (method, path template).
CONTRACT_ROUTES = [
    ("post", "/surveys"),
    ("get", "/surveys"),
    ("get", "/surveys/{survey_id}"),
    ("patch", "/surveys/{survey_id}"),
    ("post", "/triggers"),
    ("put", "/contacts/{external_id}"),
    ("get", "/contacts/{external_id}"),
    ("post", "/events"),
    ("get", "/dispatches/{dispatch_id}"),
    ("get", "/responses"),
    ("get", "/alerts"),
    ("patch", "/alerts/{alert_id}"),
    ("get", "/surveys/{survey_id}/metrics"),
]
METHODS = {"get", "put", "post", "patch", "delete", "head", "options"}


@pytest.fixture
def doc(client) -> dict:
    response = client.get(PREFIX + "/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return json.loads(response.get_data(as_text=True))


def _path(doc: dict, template: str) -> dict:
    paths = doc["paths"]
    for candidate in (PREFIX + template, template):
        if candidate in paths:
            return paths[candidate]
    raise AssertionError(f"{template} is not in the document: {sorted(paths)}")


def test_served_without_a_key_as_openapi_3(doc):
    assert re.fullmatch(r"3\.\d+\.\d+", doc["openapi"])
    assert doc["info"]["title"] and doc["info"]["version"]
    assert isinstance(doc["paths"], dict) and doc["paths"]


def test_every_contract_route_is_documented(doc):
    for method, template in CONTRACT_ROUTES:
        item = _path(doc, template)
        assert method in item, f"{method.upper()} {template} missing; has {sorted(item)}"
        operation = item[method]
        assert any(code.startswith("2") for code in operation.get("responses", {})), (template, operation)
        # Every {parameter} of the template is declared as a path parameter.
        declared = {p["name"] for p in item.get("parameters", []) + operation.get("parameters", []) if p.get("in") == "path"}
        assert set(re.findall(r"{(\w+)}", template)) <= declared, template
        if method in ("post", "put", "patch"):
            assert "application/json" in operation["requestBody"]["content"], template


def test_the_documented_success_codes_match_the_contract(doc):
    assert "201" in _path(doc, "/surveys")["post"]["responses"]
    assert "201" in _path(doc, "/triggers")["post"]["responses"]
    assert "202" in _path(doc, "/events")["post"]["responses"]
    assert {"200", "201"} <= set(_path(doc, "/contacts/{external_id}")["put"]["responses"])


def test_bearer_security_applies_to_the_api(doc):
    schemes = doc["components"]["securitySchemes"]
    bearer = [name for name, scheme in schemes.items() if scheme.get("type") == "http" and scheme.get("scheme") == "bearer"]
    assert bearer, schemes
    required = {name for requirement in doc.get("security", []) for name in requirement}
    if not required:  # or per operation
        required = {name for item in doc["paths"].values() for op in item.values() if isinstance(op, dict)
                    for requirement in op.get("security", []) for name in requirement}
    assert required & set(bearer)


def test_events_document_the_idempotency_key(doc):
    operation = _path(doc, "/events")["post"]
    headers = [p for p in operation.get("parameters", []) if p.get("in") == "header"]
    assert any(p["name"].lower() == "idempotency-key" for p in headers)


def test_query_parameters_of_lists_and_metrics(doc):
    def query_names(template: str) -> set[str]:
        operation = _path(doc, template)["get"]
        return {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}

    assert {"survey_id", "since", "until", "limit", "cursor"} <= query_names("/responses")
    assert {"status"} <= query_names("/alerts")
    assert {"since", "until", "interval", "group_by"} <= query_names("/surveys/{survey_id}/metrics")


def test_every_reference_resolves(doc):
    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    refs = set(walk(doc))
    assert refs
    for ref in refs:
        assert ref.startswith("#/"), ref
        node = doc
        for part in ref[2:].split("/"):
            assert part in node, f"unresolved {ref}"
            node = node[part]


def test_the_error_envelope_is_described(doc):
    schemas = doc["components"]["schemas"]
    envelope = next(s for name, s in schemas.items() if name.startswith("ErrorEnvelope"))
    inner_ref = envelope["properties"]["error"]
    inner = inner_ref if "properties" in inner_ref else schemas[inner_ref.get("$ref", inner_ref.get("allOf", [{}])[0].get("$ref", "")).split("/")[-1]]
    assert {"code", "message", "fields"} <= set(inner["properties"])


def test_operations_are_unique_and_well_formed(doc):
    ids = []
    for path, item in doc["paths"].items():
        assert path.startswith(PREFIX + "/"), path
        for method, operation in item.items():
            if method in METHODS:
                ids.append(operation.get("operationId") or f"{method} {path}")
    assert len(ids) == len(set(ids))
