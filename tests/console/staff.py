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


def sandbox_staff(app):
    """A test client signed in as a staff member whose sandbox form posts carry the CSRF token the sandbox page
    gave it, as a browser's would: the sandbox needs both outside --demo."""
    from flask.testing import FlaskClient

    class StaffBrowser(FlaskClient):
        token: str | None = None

        def open(self, *args, **kwargs):
            path = args[0] if args and isinstance(args[0], str) else kwargs.get("path", "")
            if kwargs.get("method") == "POST" and path.startswith("/sandbox/"):
                if self.token is None:
                    self.token = csrf(self, "/sandbox")
                data = kwargs.get("data")
                if isinstance(data, dict) and "csrf_token" not in data:
                    kwargs["data"] = {**data, "csrf_token": self.token}
            return super().open(*args, **kwargs)

    make_user(app, "sandbox-staff@example.com", "admin")
    browser = StaffBrowser(app, app.response_class, use_cookies=True)
    assert sign_in(browser, "sandbox-staff@example.com").status_code == 302
    return browser
