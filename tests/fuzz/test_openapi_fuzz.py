"""schemathesis over the whole OpenAPI document, in process: every operation gets bounded, derandomized examples
(SURVEYD_FUZZ_EXAMPLES, default 8 in CI; `./dev fuzz` runs more), valid and invalid, with a real API key. No
answer may be a 5xx, and every answer must match what the document says of its status, media type and body."""
from __future__ import annotations

import os
import tempfile

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from surveyd import create_app
from tests.conftest import make_env

EXAMPLES = int(os.environ.get("SURVEYD_FUZZ_EXAMPLES", "8"))
METHODS = ("get", "put", "post", "patch", "delete")
# A request the document allows may still be refused for what JSON Schema cannot say (until before since, a
# survey that does not exist, a trigger for a channel the survey lacks): 422 and 404 are answers the document
# lists, so "schema-valid request rejected" is no fault here. Everything else schemathesis checks stays on.
EXCLUDED = [schemathesis.checks.positive_data_acceptance]


def _operations() -> list[tuple[str, str]]:
    """Every (method, path) of the document, read at collection off an app that never opens its database."""
    folder = tempfile.mkdtemp(prefix="surveyd-fuzz-")
    app = create_app(make_env(f"sqlite:///{folder}/unused.sqlite"), instance_path=folder)
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    return [(method, path) for path, item in sorted(document["paths"].items())
            for method in METHODS if method in item]


@pytest.mark.parametrize(("method", "path"), _operations())
def test_every_operation_answers_within_its_schema(app, api_key, method, path):
    operation = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)[path][method.upper()]

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def answers_within_schema(case):
        case.call_and_validate(headers={"Authorization": f"Bearer {api_key}"}, excluded_checks=EXCLUDED)

    answers_within_schema()
