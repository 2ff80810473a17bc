"""Admin pages: invite users with a one-time link, change roles, deactivate; create and revoke API keys."""
from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import User, utcnow
from surveyd.services.access import users
from tests.console.staff import csrf, sign_in, signed_in

LINK = re.compile(r'href="http://surveyd\.test(/console/set-password/[^"]+)"')


def user_id(app, email: str) -> int:
    with app.app_context():
        found = db.session.scalar(sa.select(User.id).where(User.email == email))
        db.session.remove()
        return found


def invite(admin, email: str, role: str = "agent"):
    return admin.post("/console/users", data={"csrf_token": csrf(admin, "/console/users"), "email": email,
                                              "role": role})


def test_an_invited_user_sets_a_password_once_and_is_signed_in(app):
    admin = signed_in(app, "admin")
    response = invite(admin, "new.agent@example.com")
    assert response.status_code == 201
    (path,) = LINK.findall(response.get_data(as_text=True))
    newcomer = app.test_client()
    assert newcomer.get(path).status_code == 200
    form = {"csrf_token": csrf(newcomer, path), "new": "my own secret", "confirm": "my own secret"}
    done = newcomer.post(path, data=form)
    assert done.status_code == 302 and newcomer.get("/console/alerts").status_code == 200
    again = app.test_client().get(path)
    assert again.status_code == 410 and "expired or was already used" in again.get_data(as_text=True)
    assert sign_in(app.test_client(), "new.agent@example.com", "my own secret").status_code == 302


def test_an_invitation_lapses_after_three_days_and_bad_input_is_refused(app, ctx):
    user, token = users.invite_user("late@example.com", "agent", now=utcnow() - timedelta(days=3, minutes=1))
    assert users.password_set_user(token) is None
    fresh_user, fresh = users.invite_user("fresh@example.com", "agent")
    assert users.password_set_user(fresh + "x") is None and users.password_set_user("1.0.9.abc") is None
    assert users.password_set_user(fresh).id == fresh_user.id


def test_a_bad_invitation_says_why_and_creates_nobody(app):
    admin = signed_in(app, "admin")
    assert invite(admin, "not-an-email").status_code == 400
    assert invite(admin, "admin@example.com").status_code == 409  # already there
    assert admin.post("/console/users", data={"email": "x@example.com", "role": "agent"}).status_code == 400
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1
        db.session.remove()


def test_deactivating_ends_the_users_sessions_and_reactivating_lets_them_back(app):
    admin, agent = signed_in(app, "admin"), signed_in(app, "agent")
    target = user_id(app, "agent@example.com")
    token = csrf(admin, "/console/users")
    assert admin.post(f"/console/users/{target}", data={"csrf_token": token, "action": "deactivate"}).status_code == 302
    assert agent.get("/console/").status_code == 302
    assert sign_in(app.test_client(), "agent@example.com").status_code == 400
    admin.post(f"/console/users/{target}", data={"csrf_token": token, "action": "activate", "role": "designer"})
    designer = app.test_client()
    assert sign_in(designer, "agent@example.com").status_code == 302
    assert designer.post("/console/alerts/1/claim").status_code == 403  # a designer now


def test_the_last_admin_cannot_be_deactivated_or_demoted(app):
    admin = signed_in(app, "admin")
    me = user_id(app, "admin@example.com")
    token = csrf(admin, "/console/users")
    for form in ({"action": "deactivate"}, {"role": "agent"}):
        response = admin.post(f"/console/users/{me}", data={"csrf_token": token, **form})
        assert response.status_code == 409 and "at least one active admin" in response.get_data(as_text=True)
    assert admin.get("/console/users").status_code == 200
    assert admin.post("/console/users/424242", data={"csrf_token": token, "action": "deactivate"}).status_code == 404


def test_an_api_key_is_shown_once_and_revoking_it_locks_it_out(app, client):
    admin = signed_in(app, "admin")
    token = csrf(admin, "/console/api-keys")
    created = admin.post("/console/api-keys", data={"csrf_token": token, "name": "helpdesk"})
    assert created.status_code == 201
    (raw,) = re.findall(r"<code dir=\"ltr\">(sk_[A-Za-z0-9_-]+)</code>", created.get_data(as_text=True))
    assert raw not in admin.get("/console/api-keys").get_data(as_text=True)  # never again
    auth = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/surveys", headers=auth).status_code == 200
    key_id = int(re.search(r'/console/api-keys/(\d+)/revoke', admin.get("/console/api-keys").get_data(
        as_text=True)).group(1))
    assert admin.post(f"/console/api-keys/{key_id}/revoke", data={"csrf_token": token}).status_code == 302
    assert client.get("/api/v1/surveys", headers=auth).status_code == 401
    assert "Revoked" in admin.get("/console/api-keys").get_data(as_text=True)


def test_a_key_needs_a_name_and_a_token_and_an_unknown_key_is_404(app):
    admin = signed_in(app, "admin")
    token = csrf(admin, "/console/api-keys")
    assert admin.post("/console/api-keys", data={"csrf_token": token, "name": " "}).status_code == 400
    assert admin.post("/console/api-keys", data={"name": "no token"}).status_code == 400
    assert admin.post("/console/api-keys/424242/revoke", data={"csrf_token": token}).status_code == 404
    assert "No API keys yet." in admin.get("/console/api-keys").get_data(as_text=True)
