"""The whole loop as an outside client drives it: over HTTP against a real server, reading the page's form."""
import json
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser

from survey_templates import translate


class FormReader(HTMLParser):
    """Collects the first form's method, action and radio values like a browser would see them."""

    def __init__(self):
        super().__init__()
        self.method = self.action = None
        self.radios: list[str] = []
        self.textareas: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.method is None:
            self.method, self.action = attrs.get("method", "get").lower(), attrs.get("action") or ""
        elif tag == "input" and attrs.get("type") == "radio":
            self.radios.append(attrs["value"])
        elif tag == "textarea":
            self.textareas.append(attrs["name"])


def call(base, method, path, key=None, body=None, headers=None, form=None):
    data = json.dumps(body).encode() if body is not None else None
    all_headers = {"Content-Type": "application/json"} if body is not None else {}
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        all_headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if key:
        all_headers["Authorization"] = f"Bearer {key}"
    all_headers.update(headers or {})
    request = urllib.request.Request(base + path if path.startswith("/") else path, data=data, method=method,
                                     headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_survey_event_answer_alert_metrics_over_http(live_server, api_key):
    status, body = call(live_server, "POST", "/api/v1/surveys", api_key,
                        {"name": "Delivery", "kind": "nps", "template": "nps", "locales": ["en", "tr", "fa"]})
    assert status == 201, body
    survey = json.loads(body)
    assert survey["locales"] == ["en", "tr", "fa"] and set(survey["questions"][0]["text"]) == {"en", "tr", "fa"}
    status, _ = call(live_server, "POST", "/api/v1/triggers", api_key,
                     {"touchpoint": "order.delivered", "survey_id": survey["id"], "channels": ["web"]})
    assert status == 201
    event = {"touchpoint": "order.delivered", "contact": {"external_id": "ext-77", "locale": "tr-TR"},
             "attributes": {"order_id": "A-1"}}
    status, first = call(live_server, "POST", "/api/v1/events", api_key, event, {"Idempotency-Key": "evt-77"})
    assert status == 202
    status, replay = call(live_server, "POST", "/api/v1/events", api_key, event, {"Idempotency-Key": "evt-77"})
    assert (status, replay) == (202, first)
    (dispatch,) = json.loads(first)["dispatches"]
    assert dispatch["url"].startswith(live_server + "/s/")

    status, page = call(live_server, "GET", dispatch["url"])
    assert status == 200 and b'lang="tr"' in page
    form = FormReader()
    form.feed(page.decode())
    assert form.method == "post" and form.radios == [str(n) for n in range(11)]
    target = urllib.parse.urljoin(dispatch["url"], form.action)
    status, follow_up = call(live_server, "POST", target, form={"score": "2"})
    assert status == 200
    reader = FormReader()
    reader.feed(follow_up.decode())
    assert reader.textareas == ["improve"]
    status, thanks = call(live_server, "POST", target, form={"improve": "Kargo geç geldi"})
    assert status == 200
    status, again = call(live_server, "POST", target, form={"score": "10"})
    assert translate("tr", "page.thanks_title") in thanks.decode()
    assert status == 200 and translate("tr", "page.already_title") in again.decode()

    status, body = call(live_server, "GET", f"/api/v1/responses?survey_id={survey['id']}", api_key)
    (response,) = json.loads(body)["items"]
    assert response["score"] == 2 and response["completed"] is True and response["contact"] == "ext-77"
    assert {"question_id": "improve", "value": "Kargo geç geldi"}.items() <= response["answers"][1].items()
    status, body = call(live_server, "GET", "/api/v1/alerts?status=open", api_key)
    (alert,) = json.loads(body)["items"]
    assert alert["response_id"] == response["id"] and alert["reasons"] == ["score"]
    status, body = call(live_server, "GET", f"/api/v1/surveys/{survey['id']}/metrics", api_key)
    overall = json.loads(body)["overall"]
    assert overall["n"] == 1 and overall["score"] == -100.0
