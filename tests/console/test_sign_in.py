"""Signing in and out: the form, safe `next`, CSRF, throttling per account and per address, sessions."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from surveyd.extensions import db
from surveyd.models import SignInAttempt, User, utcnow
from surveyd.services.access import sign_in as signing
from tests.console.staff import PASSWORD, TOKEN, csrf, make_user, sign_in, signed_in


def test_the_form_has_the_labels_and_button_the_contract_names(client):
    page = client.get("/console/login").get_data(as_text=True)
    assert '<label for="email">Email</label>' in page and '<label for="password">Password</label>' in page
    assert '<button type="submit">Sign in</button>' in page


def test_signing_in_goes_to_next_on_this_site_and_nowhere_else(app):
    make_user(app, "agent@example.com", "agent")
    for target, lands in (("/console/alerts?status=open", "/console/alerts?status=open"), ("", "/console/"),
                          ("//evil.example/x", "/console/"), ("https://evil.example/", "/console/"),
                          ("/\\evil.example", "/console/"), ("javascript:alert(1)", "/console/")):
        client = app.test_client()
        response = sign_in(client, "agent@example.com", next_=target)
        assert (response.status_code, response.headers["Location"]) == (302, lands), target


def test_a_wrong_password_says_so_and_signs_nobody_in(app, client):
    make_user(app, "agent@example.com", "agent")
    response = sign_in(client, "agent@example.com", "wrong password")
    assert response.status_code == 400
    assert "The email or password is not right" in response.get_data(as_text=True)
    assert client.get("/console/").status_code == 302
    unknown = sign_in(client, "nobody@example.com", "wrong password")

    def page(r) -> str:  # the CSRF token is signed with the time: it may differ from one page to the next
        return TOKEN.sub("", r.get_data(as_text=True)).replace("nobody@example.com", "agent@example.com")

    assert unknown.status_code == 400 and page(unknown) == page(response)  # the same answer: no account probing


def test_a_post_without_the_csrf_token_changes_nothing(app, client):
    make_user(app, "agent@example.com", "agent")
    response = client.post("/console/login", data={"email": "agent@example.com", "password": PASSWORD})
    assert response.status_code == 400 and "This form has expired" in response.get_data(as_text=True)
    assert client.get("/console/").status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SignInAttempt)) == 0
        db.session.remove()


def test_signing_out_is_a_post_with_the_token(app):
    client = signed_in(app, "agent")
    assert client.get("/console/logout").status_code == 405
    assert client.post("/console/logout").status_code == 302 and client.get("/console/").status_code == 200
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})
    assert client.get("/console/").status_code == 302


def test_the_session_cookie_is_http_only_and_same_site_lax(app):
    make_user(app, "agent@example.com", "agent")
    response = sign_in(app.test_client(), "agent@example.com")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_five_failures_lock_the_account_and_twenty_the_address_for_a_while(app, ctx):
    make_user(app, "agent@example.com", "agent")
    start = utcnow()
    for minute in range(5):
        with pytest.raises(signing.Refused) as refused:
            signing.sign_in("agent@example.com", "nope", "10.0.0.1", now=start + timedelta(minutes=minute))
        assert refused.value.reason == "wrong"
    with pytest.raises(signing.Refused) as throttled:  # even the right password, from anywhere
        signing.sign_in("agent@example.com", PASSWORD, "10.0.0.2", now=start + timedelta(minutes=5))
    assert (throttled.value.reason, throttled.value.retry_after_minutes) == ("throttled", 10)
    assert signing.sign_in("agent@example.com", PASSWORD, "10.0.0.2", now=start + timedelta(minutes=15, seconds=1))
    for n in range(20):  # one address trying many accounts
        with pytest.raises(signing.Refused):
            signing.sign_in(f"guess{n}@example.com", "nope", "10.9.9.9", now=start + timedelta(minutes=16))
    with pytest.raises(signing.Refused) as by_address:
        signing.sign_in("agent@example.com", PASSWORD, "10.9.9.9", now=start + timedelta(minutes=17))
    assert by_address.value.reason == "throttled"
    assert signing.sign_in("agent@example.com", PASSWORD, "10.0.0.3", now=start + timedelta(minutes=17))


def test_the_form_says_how_long_to_wait(app, client):
    make_user(app, "agent@example.com", "agent")
    for _ in range(5):
        sign_in(client, "agent@example.com", "nope")
    response = sign_in(client, "agent@example.com")
    assert response.status_code == 429
    assert "Too many failed sign-ins. Try again in 15 minutes." in response.get_data(as_text=True)


def test_a_deactivated_user_cannot_sign_in_and_their_session_ends(app):
    client = signed_in(app, "agent")
    with app.app_context():
        db.session.scalar(sa.select(User)).active = False
        db.session.commit()
        db.session.remove()
    assert client.get("/console/").status_code == 302
    assert sign_in(app.test_client(), "agent@example.com").status_code == 400


def test_changing_the_password_ends_every_other_session(app):
    client, other = signed_in(app, "agent"), app.test_client()
    sign_in(other, "agent@example.com")
    form = {"csrf_token": csrf(client, "/console/password"), "current": PASSWORD, "new": "a brand new secret",
            "confirm": "a brand new secret"}
    response = client.post("/console/password", data=form)
    assert response.status_code == 200 and "Your password has been changed" in response.get_data(as_text=True)
    assert client.get("/console/").status_code == 200  # this session follows the new password
    assert other.get("/console/").status_code == 302
    assert sign_in(app.test_client(), "agent@example.com", "a brand new secret").status_code == 302


def test_a_bad_password_change_says_what_is_wrong_and_changes_nothing(app):
    client = signed_in(app, "agent")
    token = csrf(client, "/console/password")
    for form, message in (({"current": "nope", "new": "long enough", "confirm": "long enough"},
                           "Your current password is not right."),
                          ({"current": PASSWORD, "new": "short", "confirm": "short"}, "at least 8 characters"),
                          ({"current": PASSWORD, "new": "long enough", "confirm": "long enougH"}, "not the same")):
        response = client.post("/console/password", data={"csrf_token": token, **form})
        assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert sign_in(app.test_client(), "agent@example.com").status_code == 302


def test_new_hashes_are_argon2id_and_an_old_hash_is_replaced_on_sign_in(app, ctx):
    user_id = make_user(app, "agent@example.com", "agent")
    assert db.session.get(User, user_id).password_hash.startswith("$argon2id$")
    db.session.get(User, user_id).password_hash = generate_password_hash(PASSWORD)
    db.session.commit()
    signing.sign_in("agent@example.com", PASSWORD, "10.0.0.1")
    db.session.expire_all()
    assert db.session.get(User, user_id).password_hash.startswith("$argon2id$")


def test_console_pages_carry_a_strict_content_security_policy(app):
    client = signed_in(app, "admin")
    for path in ("/console/login", "/console/", "/console/alerts"):
        headers = client.get(path).headers
        assert "script-src 'self'" in headers["Content-Security-Policy"] and "unsafe-inline" not in headers[
            "Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"


def test_the_language_follows_the_browser_then_the_user(app):
    client = app.test_client()
    page = client.get("/console/login", headers={"Accept-Language": "fa-IR,fa;q=0.9"}).get_data(as_text=True)
    assert 'lang="fa" dir="rtl"' in page and '<label for="email">ایمیل</label>' in page
    assert 'lang="tr" dir="ltr"' in client.get("/console/login", headers={"Accept-Language": "tr"}).get_data(
        as_text=True)


def test_a_user_keeps_the_console_in_the_language_they_chose(app):
    client = signed_in(app, "agent")
    token = csrf(client, "/console/password")
    english = {"Accept-Language": "en"}
    assert client.post("/console/language", data={"csrf_token": token, "locale": "fa"}).status_code == 302
    assert 'lang="fa" dir="rtl"' in client.get("/console/", headers=english).get_data(as_text=True)
    assert client.post("/console/language", data={"csrf_token": token, "locale": "xx"}).status_code == 400
    client.post("/console/language", data={"csrf_token": token, "locale": ""})
    assert 'lang="en" dir="ltr"' in client.get("/console/", headers=english).get_data(as_text=True)
