"""The console's forms: Flask-WTF for the CSRF token and the field data; labels and messages come from the
console's strings when the page is rendered."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length


class SignInForm(FlaskForm):
    """Email and password."""

    email = StringField(validators=[DataRequired(), Length(max=254)])
    password = PasswordField(validators=[DataRequired(), Length(max=1024)])


class ButtonForm(FlaskForm):
    """A form that is only a button (sign out, claim): the CSRF token alone."""


class PasswordForm(FlaskForm):
    """Change one's own password."""

    current = PasswordField(validators=[Length(max=1024)])
    new = PasswordField(validators=[Length(max=1024)])
    confirm = PasswordField(validators=[Length(max=1024)])


class ResolveForm(FlaskForm):
    """Resolve an alert: a root cause from the configured list, and what was done."""

    root_cause = SelectField(validate_choice=False)
    resolution = TextAreaField(validators=[Length(max=2000)])


class ReplyForm(FlaskForm):
    """The agent's message to the customer."""

    text = TextAreaField(validators=[Length(max=1600)])
