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
