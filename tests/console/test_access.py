"""Every console route against every role: the page for a role it is for, 403 for another, sign-in for nobody."""
from __future__ import annotations

import re

import pytest

from surveyd.models import Role
from tests.console.staff import signed_in

ROLES = [role.value for role in Role]


def console_routes(app) -> list[tuple[str, str, tuple, tuple]]:
    """(method, path, roles, read-only roles) of every guarded console route, found by walking the URL map."""
    found = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        roles = getattr(view, "console_roles", None)  # set by `allowed`, carried to the guard by functools.wraps
        if not rule.endpoint.startswith("console.") or roles is None:
            continue
        path = re.sub(r"<int:\w+>", "999999", rule.rule).replace("<path:external_id>", "cust-x").replace("<label>", "2026-10")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, path, tuple(r.value for r in roles[0]), tuple(r.value for r in roles[1])))
    return found


EVERYONE, WORKERS, DESIGNERS = ("admin", "designer", "agent"), ("admin", "agent"), ("admin", "designer")
# Who reaches what, as CONTRACT.md's "Staff console" section says: (roles, roles that may only read).
CONTRACT = {
    ("GET", "/console/"): (EVERYONE, ()),
    ("GET", "/console/responses"): (EVERYONE, ()),
    ("GET", "/console/responses/export"): (DESIGNERS, ()),
    ("GET", "/console/reports"): (EVERYONE, ()),
    ("GET", "/console/reports/2026-10"): (EVERYONE, ()),
    ("GET", "/console/reports/2026-10.pdf"): (EVERYONE, ()),
    ("GET", "/console/themes"): (EVERYONE, ()),
    ("POST", "/console/themes/build"): (DESIGNERS, ()),
    ("GET", "/console/themes/999999"): (EVERYONE, ()),
    ("POST", "/console/themes/999999/rename"): (DESIGNERS, ()),
    ("POST", "/console/themes/999999/merge"): (DESIGNERS, ()),
    ("POST", "/console/themes/999999/comments/999999"): (DESIGNERS, ()),
    ("GET", "/console/alerts"): (WORKERS, ("designer",)),
    ("GET", "/console/alerts/999999"): (WORKERS, ("designer",)),
    ("GET", "/console/alerts/stream"): (WORKERS, ("designer",)),
    ("POST", "/console/alerts/999999/claim"): (WORKERS, ()),
    ("POST", "/console/alerts/999999/resolve"): (WORKERS, ()),
    ("POST", "/console/alerts/999999/reply"): (WORKERS, ()),
    ("GET", "/console/contacts"): (EVERYONE, ()),
    ("GET", "/console/contacts/cust-x"): (EVERYONE, ()),
    ("POST", "/console/contacts/cust-x/telegram-link"): (EVERYONE, ()),
    ("GET", "/console/contacts/cust-x/export"): (("admin",), ()),
    ("GET", "/console/surveys"): (DESIGNERS, ()),
    ("GET", "/console/surveys/new"): (DESIGNERS, ()),
    ("POST", "/console/surveys/new"): (DESIGNERS, ()),
    ("GET", "/console/surveys/999999"): (DESIGNERS, ()),
    ("POST", "/console/surveys/999999"): (DESIGNERS, ()),
    ("POST", "/console/surveys/999999/draft-preview"): (DESIGNERS, ()),
    ("GET", "/console/surveys/999999/versions"): (DESIGNERS, ()),
    ("GET", "/console/surveys/999999/preview"): (DESIGNERS, ()),
    ("GET", "/console/surveys/999999/preview/email"): (DESIGNERS, ()),
    ("GET", "/console/surveys/999999/preview/web"): (DESIGNERS, ()),
    ("POST", "/console/surveys/999999/test"): (DESIGNERS, ()),
    ("GET", "/console/triggers"): (DESIGNERS, ()),
    ("GET", "/console/triggers/new"): (DESIGNERS, ()),
    ("POST", "/console/triggers/new"): (DESIGNERS, ()),
    ("GET", "/console/triggers/999999"): (DESIGNERS, ()),
    ("POST", "/console/triggers/999999"): (DESIGNERS, ()),
    ("POST", "/console/triggers/999999/pause"): (DESIGNERS, ()),
    ("GET", "/console/triggers/check"): (DESIGNERS, ()),
    ("GET", "/console/users"): (("admin",), ()),
    ("POST", "/console/users"): (("admin",), ()),
    ("POST", "/console/users/999999"): (("admin",), ()),
    ("GET", "/console/api-keys"): (("admin",), ()),
    ("POST", "/console/api-keys"): (("admin",), ()),
    ("POST", "/console/api-keys/999999/revoke"): (("admin",), ()),
    ("GET", "/console/audit"): (("admin",), ()),
    ("POST", "/console/language"): (EVERYONE, ()),
    ("GET", "/console/password"): (EVERYONE, ()),
    ("POST", "/console/password"): (EVERYONE, ()),
}


def test_every_route_declares_the_roles_the_contract_gives_it(app):
    declared = {(method, path): (tuple(sorted(roles)), tuple(sorted(read)))
                for method, path, roles, read in console_routes(app)}
    assert declared == {key: (tuple(sorted(roles)), tuple(sorted(read))) for key, (roles, read) in CONTRACT.items()}


@pytest.fixture
def clients(app):
    return {role: signed_in(app, role) for role in ROLES}


def test_every_route_for_every_role(app, clients):
    checked = 0
    for method, path, roles, read in console_routes(app):
        anonymous = app.test_client().open(path, method=method)
        assert anonymous.status_code == 302, (method, path)
        wanted = f"/console/login?next={path}" if method == "GET" else "/console/login"
        assert anonymous.headers["Location"] == wanted, (method, path)
        for role in ROLES:
            response = clients[role].open(path, method=method)
            allowed = role in roles or (method == "GET" and role in read)
            if allowed:
                # Through the guard: the page, its own 404 for a missing alert, its own form refusal, or its own
                # redirect (never to the sign-in page).
                assert response.status_code in (200, 302, 400, 404), (role, method, path, response.status_code)
                assert not response.headers.get("Location", "").startswith("/console/login"), (role, path)
            else:
                assert response.status_code == 403, (role, method, path, response.status_code)
                assert "You cannot open this page" in response.get_data(as_text=True)
            checked += 1
    assert checked >= 21


def test_a_designer_reads_alerts_but_cannot_act_on_them(app, clients):
    assert clients["designer"].get("/console/alerts").status_code == 200
    assert clients["designer"].post("/console/alerts/1/claim").status_code == 403
