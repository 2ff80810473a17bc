"""Survey-link tokens: 128 random bits, a MAC, forgeries refused."""
from hypothesis import given, strategies as st

from surveyd.services import tokens

KEY = "k" * 32


def test_nonce_has_at_least_128_bits():
    nonces = {tokens.new_nonce() for _ in range(200)}
    assert len(nonces) == 200
    assert all(len(n) >= 22 for n in nonces)  # 16 bytes in URL-safe base64


def test_round_trip_and_forgeries():
    nonce = tokens.new_nonce()
    token = tokens.sign(nonce, KEY)
    assert tokens.verify(token, KEY) == nonce
    assert tokens.verify(token, "another-key-000000000000000000") is None
    assert tokens.verify(nonce + ".AAAAAAAAAAAAAAAAAAAAAA", KEY) is None
    assert tokens.verify(nonce, KEY) is None
    assert tokens.verify("", KEY) is None


@given(st.text(max_size=120))
def test_arbitrary_strings_never_verify(text):
    assert tokens.verify(text, KEY) is None or tokens.sign(tokens.verify(text, KEY), KEY) == text


def test_a_choice_is_compact_and_bound_to_its_chat():
    from surveyd.services.tokens import sign_choice, verify_choice

    data = sign_choice(123456789012, 10, "987654321", "k" * 32)
    assert len(data.encode()) <= 64
    assert verify_choice(data, "987654321", "k" * 32) == (123456789012, 10)
    assert verify_choice(data, "111", "k" * 32) is None  # tapped in another chat: someone else's survey
    assert verify_choice(data, "987654321", "other-key" * 4) is None
    forged = data.replace(":10:", ":0:")
    assert verify_choice(forged, "987654321", "k" * 32) is None  # the value is signed too
    for junk in ("", "a:1:2", "a:x:1:mac", "b:1:2:" + data.rsplit(":", 1)[1], "a:1:2:ü", data + ":x"):
        assert verify_choice(junk, "987654321", "k" * 32) is None


@given(st.integers(0, 10**15), st.integers(0, 10), st.integers(-10**12, 10**12))
def test_any_choice_round_trips_and_fits_telegram(dispatch_id, value, chat):
    from surveyd.services.tokens import sign_choice, verify_choice

    data = sign_choice(dispatch_id, value, str(chat), "s" * 32)
    assert len(data.encode()) <= 64
    assert verify_choice(data, str(chat), "s" * 32) == (dispatch_id, value)


def test_alert_buttons_are_bound_to_alert_action_language_and_chat():
    data = tokens.sign_alert_action(42, "c", "tr", "-1001", "k" * 32)
    assert len(data.encode()) <= 64
    assert tokens.verify_alert_action(data, "-1001", "k" * 32) == (42, "claim", "tr")
    assert tokens.verify_alert_action(data, "-1002", "k" * 32) is None  # pasted into another chat
    assert tokens.verify_alert_action(data, "-1001", "x" * 32) is None  # another install's key
    for forged in (data.replace(":c:", ":r:"), data.replace(":tr:", ":fa:"), data.replace("k:42", "k:43"),
                   "k:42:c:tr", "a:42:c:tr:xx", "k:42:z:tr:" + data.rsplit(":", 1)[1]):
        assert tokens.verify_alert_action(forged, "-1001", "k" * 32) is None
