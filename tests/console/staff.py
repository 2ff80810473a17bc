"""Staff users and signed-in test clients for the console tests."""
from __future__ import annotations

import re

from surveyd.extensions import db
from surveyd.services.access import users

PASSWORD = "correct horse battery"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_user(app, email: str, role: str, password: str = PASSWORD) -> int:
    """A staff user; their id."""
    with app.app_context():
        user_id = users.create_user(email, role, password).id
        db.session.remove()
        return user_id


def csrf(client, path: str = "/console/login") -> str:
    """A fresh CSRF token from a console page this client may open."""
    page = client.get(path)
    found = TOKEN.search(page.get_data(as_text=True))
    assert found, f"no CSRF token on {path} ({page.status_code})"
    return found.group(1)


def sign_in(client, email: str, password: str = PASSWORD, next_: str = ""):
    """Post the sign-in form as a browser would; the response."""
    return client.post("/console/login", data={"csrf_token": csrf(client), "email": email, "password": password,
                                               "next": next_})


def signed_in(app, role: str, email: str | None = None):
    """A new test client signed in as a new user of this role."""
    email = email or f"{role}@example.com"
    make_user(app, email, role)
    client = app.test_client()
    assert sign_in(client, email).status_code == 302
    return client
