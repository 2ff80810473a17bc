"""What a browser would post for a form on a console page: its fields, read from the page's HTML."""
from __future__ import annotations

from html.parser import HTMLParser


class _Form(HTMLParser):
    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside, self.fields = form_id, False, []
        self._textarea: str | None = None
        self._select: str | None = None
        self._option: tuple[str, bool] | None = None
        self._first_option: dict[str, str] = {}
        self._selected: set[str] = set()
        self._text = ""

    def _mine(self, attrs: dict) -> bool:
        return self.inside or attrs.get("form") == self.form_id

    def handle_starttag(self, tag, attrs):
        attrs = {key: (value if value is not None else "") for key, value in attrs}
        if tag == "form" and attrs.get("id") == self.form_id:
            self.inside = True
        elif tag == "input" and self._mine(attrs) and attrs.get("name"):
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            if kind not in ("submit", "button", "image", "reset"):
                self.fields.append((attrs["name"], attrs.get("value", "")))
        elif tag == "textarea" and self._mine(attrs):
            self._textarea, self._text = attrs.get("name"), ""
        elif tag == "select" and self._mine(attrs):
            self._select = attrs.get("name")
        elif tag == "option" and self._select:
            value = attrs.get("value")
            self._option = (value, "selected" in attrs)
            self._text = ""
            self._first_option.setdefault(self._select, value)
            if "selected" in attrs:
                self._selected.add(self._select)
                self.fields.append((self._select, value))

    def handle_data(self, data):
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea, self._text.removeprefix("\n")))
            self._textarea = None
        elif tag == "select" and self._select:
            if self._select not in self._selected and self._select in self._first_option:
                self.fields.append((self._select, self._first_option[self._select]))
            self._select = None


def form_fields(html: str, form_id: str) -> list[tuple[str, str]]:
    """(name, value) pairs of every successful control of the form with this id, in page order, as a browser
    would post them without a button (the caller adds the button's name and value)."""
    parser = _Form(form_id)
    parser.feed(html)
    return parser.fields


def as_dict(fields: list[tuple[str, str]]) -> dict[str, list[str]]:
    """The fields as {name: [values]}, for editing before a post."""
    found: dict[str, list[str]] = {}
    for name, value in fields:
        found.setdefault(name, []).append(value)
    return found
