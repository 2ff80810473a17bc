"""The web-link adapter: form posts become answer events."""
import pytest

from bots.channel import WebhookRejected
from bots.web_link import TOKEN_HEADER, WebLinkChannel


def test_form_post_becomes_one_answer_event():
    (event,) = WebLinkChannel().parse_inbound({TOKEN_HEADER: "tok"}, "score=9&liked=Fast+%C3%A7ok+iyi&skip=".encode())
    assert (event.kind, event.channel, event.dispatch_ref, event.score) == ("answer", "web", "tok", 9)
    assert dict(event.answers) == {"liked": "Fast çok iyi"}


def test_no_score_is_a_follow_up_only_post():
    (event,) = WebLinkChannel().parse_inbound({TOKEN_HEADER: "tok"}, b"improve=late")
    assert event.score is None and dict(event.answers) == {"improve": "late"}


@pytest.mark.parametrize("body", [b"score=nine", b"score=9.5", b"score=%FF"])
def test_non_numeric_score_is_rejected(body):
    with pytest.raises(WebhookRejected):
        WebLinkChannel().parse_inbound({TOKEN_HEADER: "tok"}, body)


def test_missing_token_is_rejected():
    with pytest.raises(WebhookRejected) as caught:
        WebLinkChannel().parse_inbound({}, b"score=1")
    assert caught.value.status == 404
