"""Helpers the respondent-page, sandbox and browser tests share: a stdlib HTML reader and survey links."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Alert, Answer, Dispatch, Response
from tests import factories

_ids = itertools.count(1)


@pytest.fixture
def inside(app):
    """Run a function in a fresh app context of the test app (its own session), then drop the session.

    Import this fixture into a test module. Requests made with the test client then run in their own
    contexts too, so they see only what was committed, as a real server would.
    """

    def run(fn, *args, **kwargs):
        with app.app_context():
            try:
                return fn(*args, **kwargs)
            finally:
                db.session.remove()

    return run


@dataclass
class Element:
    """One start tag with its attributes (valueless attributes map to "")."""

    tag: str
    attrs: dict[str, str]


@dataclass
class Page:
    """What a test needs from an HTML page."""

    html_attrs: dict[str, str] = field(default_factory=dict)
    elements: list[Element] = field(default_factory=list)
    texts: dict[str, list[str]] = field(default_factory=dict)  # text inside h1, legend, label, p, title...
    labels: list[tuple[dict[str, str], str]] = field(default_factory=list)  # (attrs, text) of each <label>
    rows: list[tuple[dict[str, str], list[str]]] = field(default_factory=list)  # (attrs, cell texts) of each <tr>
    text: str = ""

    def all(self, tag: str, **attrs: str) -> list[Element]:
        """Elements of a tag whose attributes include the given ones."""
        return [e for e in self.elements if e.tag == tag and all(e.attrs.get(k) == v for k, v in attrs.items())]

    def radios(self, name: str = "score") -> list[Element]:
        return self.all("input", type="radio", name=name)

    def checked(self, name: str = "score") -> list[str]:
        return [e.attrs["value"] for e in self.radios(name) if "checked" in e.attrs]

    def table_rows(self, cls: str | None = None) -> list[list[str]]:
        """Cell texts of the table rows (of one class, when given)."""
        return [cells for attrs, cells in self.rows if cls is None or cls in attrs.get("class", "").split()]

    def label_for(self, element_id: str) -> list[str]:
        """Texts of the <label for=element_id> elements."""
        return [text for attrs, text in self.labels if attrs.get("for") == element_id]


class _Reader(HTMLParser):
    TEXT_TAGS = {"title", "h1", "h2", "legend", "label", "p", "button", "small", "td", "th"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._open: list[tuple[str, dict[str, str], list[str]]] = []
        self._all_text: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "html":
            self.page.html_attrs = values
        self.page.elements.append(Element(tag, values))
        if tag == "tr":
            self.page.rows.append((values, []))
        if tag in self.TEXT_TAGS:
            self._open.append((tag, values, []))

    def handle_endtag(self, tag):
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index][0] == tag:
                name, attrs, parts = self._open.pop(index)
                text = " ".join("".join(parts).split())
                self.page.texts.setdefault(name, []).append(text)
                if name == "label":
                    self.page.labels.append((attrs, text))
                if name in ("td", "th") and self.page.rows:
                    self.page.rows[-1][1].append(text)
                break

    def handle_data(self, data):
        self._all_text.append(data)
        for _, _, parts in self._open:
            parts.append(data)

    def close(self):
        super().close()
        self.page.text = " ".join("".join(self._all_text).split())


def parse(html: str) -> Page:
    """Read an HTML document with the standard library's parser."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.page


def path_of(url: str) -> str:
    """The path (and query) of an absolute link."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass
class Link:
    """A web survey link handed out for one dispatch."""

    url: str
    path: str
    dispatch_id: int
    survey_id: int

    @property
    def token(self) -> str:
        return self.path.rsplit("/", 1)[1]


def new_link(kind: str = "nps", locales: list[str] | None = None, contact_locale: str | None = "en",
             touchpoint: str | None = None, **survey_fields) -> Link:
    """A survey, a web trigger, a contact and an event through the real services (call inside ctx)."""
    n = next(_ids)
    touchpoint = touchpoint or f"web.test{n}"
    survey = factories.survey(kind=kind, locales=locales or ["en", "tr", "fa"], **survey_fields)
    factories.trigger(survey.id, touchpoint=touchpoint)
    external_id = f"web-{n}"
    factories.contact(external_id, locale=contact_locale)
    answer = factories.event(touchpoint=touchpoint, external_id=external_id)
    (dispatch,) = answer["dispatches"]
    assert dispatch["status"] == "sent", dispatch
    return Link(url=dispatch["url"], path=path_of(dispatch["url"]), dispatch_id=dispatch["id"], survey_id=survey.id)


def stored(dispatch_id: int) -> dict:
    """What the database holds for one dispatch: its status, its responses with answers, and alerts."""
    db.session.expire_all()
    dispatch = db.session.get(Dispatch, dispatch_id)
    responses = list(db.session.scalars(sa.select(Response).where(Response.dispatch_id == dispatch_id)))
    result = {
        "status": dispatch.status.value,
        "history": [change.status.value for change in dispatch.history],
        "responses": [
            {"score": r.score, "completed": r.completed, "answers": {a.question_id: a.value for a in r.answers}}
            for r in responses
        ],
        "alerts": [a.reasons for a in db.session.scalars(
            sa.select(Alert).join(Response, Alert.response_id == Response.id).where(Response.dispatch_id == dispatch_id))],
        "answer_rows": db.session.scalar(
            sa.select(sa.func.count(Answer.id)).join(Response).where(Response.dispatch_id == dispatch_id)),
    }
    db.session.rollback()
    return result
