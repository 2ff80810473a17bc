"""The four doors that face the internet, fuzzed: Twilio's form posts (signed right, so the parsers behind the
signature see every shape, and forged), Telegram updates of every JSON shape with the right secret header, and the
survey and unsubscribe pages with any token and any form. No answer may be a 5xx; a forged or unsigned request is
refused and changes nothing. Bounded and derandomized (SURVEYD_FUZZ_EXAMPLES, default 8 per door in CI)."""
from __future__ import annotations

import os
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from surveyd import create_app
from surveyd.extensions import db
from surveyd.models import InboundMessage
from tests.bots.test_twilio_webhooks import _sign as sign_twilio
from tests.conftest import PUBLIC_URL, make_env

EXAMPLES = int(os.environ.get("SURVEYD_FUZZ_EXAMPLES", "8")) * 3
TOKEN = "fuzz-twilio-auth-token"
HOOK_SECRET = "fuzz-telegram-hook-secret"
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))

# Anything a form field may carry: empty, huge, control characters, other scripts, numbers past 64 bits.
VALUES = st.one_of(st.text(max_size=300), st.integers(-(2**70), 2**70).map(str),
                   st.sampled_from(("", "0", "+447700900123", "STOP", "9", "۹", "dokuz", "\x00", "SM" + "a" * 32)))
TWILIO_NAMES = ("MessageSid", "SmsSid", "From", "To", "Body", "NumMedia", "MessageStatus", "SmsStatus", "ErrorCode",
                "AccountSid", "OptOutType")
FORMS = st.lists(st.tuples(st.one_of(st.sampled_from(TWILIO_NAMES), st.text(min_size=1, max_size=20)), VALUES),
                 max_size=12)
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.text(max_size=50)),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children,
                                                                                max_size=4)),
    max_leaves=20)
UPDATES = st.one_of(
    JSON,
    st.fixed_dictionaries({"update_id": st.integers(-(2**70), 2**70)}, optional={
        "message": st.fixed_dictionaries({}, optional={
            "message_id": JSON, "chat": st.fixed_dictionaries({"id": JSON}), "text": JSON, "date": JSON,
            "from": st.fixed_dictionaries({"id": JSON, "language_code": JSON})}),
        "callback_query": st.fixed_dictionaries({}, optional={
            "id": JSON, "data": st.one_of(JSON, st.sampled_from(("score:9", "s:1:9", "9"))),
            "message": st.fixed_dictionaries({"message_id": JSON, "chat": st.fixed_dictionaries({"id": JSON})}),
            "from": st.fixed_dictionaries({"id": JSON})}),
        "my_chat_member": JSON,
    }),
)
TOKENS = st.one_of(st.text(min_size=1, max_size=200), st.sampled_from(("x", "a.b.c", "." * 300, "%00")))


@pytest.fixture
def doors(app, database_url, tmp_path):
    """A client of an app with Twilio and a Telegram webhook configured, on the suite's database."""
    door_app = create_app(make_env(database_url, SURVEYD_TWILIO_ACCOUNT_SID="AC" + "0" * 32,
                                   SURVEYD_TWILIO_AUTH_TOKEN=TOKEN, SURVEYD_TELEGRAM_WEBHOOK_SECRET=HOOK_SECRET),
                          instance_path=str(tmp_path))
    door_app.config["TESTING"] = True
    return door_app.test_client(), door_app


def _signed(path: str, pairs: list[tuple[str, str]], query: str = "") -> dict[str, str]:
    return sign_twilio(PUBLIC_URL.rstrip("/") + path + (f"?{query}" if query else ""), pairs, TOKEN)


def _inbound_count(door_app) -> int:
    with door_app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(InboundMessage))
        db.session.remove()
        return count


def _clean(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    # A form can't carry NUL in a name the test client would send; values keep theirs.
    return [(name.replace("\x00", ""), value) for name, value in pairs if name.replace("\x00", "")]


def test_twilio_messages_signed_right_never_break_us(doors):
    client, _ = doors
    seen = set()

    @FUZZ
    @given(pairs=FORMS)
    def run(pairs):
        pairs = _clean(pairs)
        response = client.post("/webhooks/twilio/sms", data=MultiDict(pairs),
                               headers=_signed("/webhooks/twilio/sms", pairs))
        assert response.status_code < 500, response.get_data(as_text=True)
        seen.add(response.status_code)

    run()
    assert seen - {403}, "no example got past the signature: the fuzzing reached no parser"


def test_twilio_statuses_signed_right_never_break_us(doors):
    client, _ = doors
    seen = set()

    @FUZZ
    @given(pairs=FORMS, dispatch=st.one_of(st.integers(-(2**70), 2**70).map(str), st.text(max_size=20)))
    def run(pairs, dispatch):
        pairs = _clean(pairs)
        query = "dispatch=" + quote(dispatch, safe="")
        response = client.post(f"/webhooks/twilio/status?{query}", data=MultiDict(pairs),
                               headers=_signed("/webhooks/twilio/status", pairs, query))
        assert response.status_code < 500, response.get_data(as_text=True)
        seen.add(response.status_code)

    run()
    assert seen - {403}, "no example got past the signature: the fuzzing reached no parser"


def test_forged_twilio_requests_are_refused_and_change_nothing(doors):
    client, door_app = doors
    before = _inbound_count(door_app)

    @FUZZ
    @given(pairs=FORMS, signature=st.one_of(st.none(), st.text(max_size=40)),
           path=st.sampled_from(("/webhooks/twilio/sms", "/webhooks/twilio/status?dispatch=1")))
    def run(pairs, signature, path):
        pairs = _clean(pairs)
        headers = {} if signature is None else {"X-Twilio-Signature": signature}
        response = client.post(path, data=MultiDict(pairs), headers=headers)
        # 403 for the signature; 400 when a NUL character is refused before the signature is looked at.
        assert response.status_code in (400, 403), response.get_data(as_text=True)

    run()
    assert _inbound_count(door_app) == before


def test_telegram_updates_of_any_shape_never_break_us(doors):
    client, _ = doors
    seen = set()

    @FUZZ
    @given(update=UPDATES)
    def run(update):
        response = client.post("/webhooks/telegram", json=update,
                               headers={"X-Telegram-Bot-Api-Secret-Token": HOOK_SECRET})
        assert response.status_code < 500, response.get_data(as_text=True)
        seen.add(response.status_code)

    run()
    assert 200 in seen, "no update was taken: the fuzzing reached no parser"


def test_telegram_bodies_that_are_not_json_and_wrong_secrets_are_refused(doors):
    client, door_app = doors
    before = _inbound_count(door_app)

    @FUZZ
    @given(body=st.binary(max_size=200), secret=st.one_of(st.none(), st.text(max_size=40)))
    def run(body, secret):
        headers = {"Content-Type": "application/json"}
        if secret is not None and secret.isascii() and "\n" not in secret and "\r" not in secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        response = client.post("/webhooks/telegram", data=body, headers=headers)
        assert response.status_code in (400, 401, 403), (response.status_code, response.get_data(as_text=True))

    run()
    assert _inbound_count(door_app) == before


def test_survey_and_unsubscribe_pages_take_any_token_and_form(doors):
    client, _ = doors

    @FUZZ
    @given(token=TOKENS, form=FORMS, score=st.one_of(st.none(), st.integers(-(2**70), 2**70).map(str)))
    def run(token, form, score):
        form = _clean(form)
        path = quote(token, safe="")
        for response in (client.get(f"/s/{path}" + (f"?score={quote(score)}" if score else "")),
                         client.post(f"/s/{path}", data=MultiDict(form)),
                         client.get(f"/u/{path}"),
                         client.post(f"/u/{path}", data=MultiDict(form + [("List-Unsubscribe", "One-Click")]))):
            assert response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])

    run()
