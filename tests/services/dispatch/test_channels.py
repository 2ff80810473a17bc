"""Which adapter serves each channel, from the configuration."""
from pathlib import Path

from bots.sandbox import SandboxChannel
from bots.sms_twilio import TwilioSmsChannel
from bots.web_link import WebLinkChannel
from surveyd.config import load_settings
from surveyd.models import Channel
from surveyd.services.dispatch.channels import build_adapters

TWILIO = {"SURVEYD_TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "SURVEYD_TWILIO_AUTH_TOKEN": "token",
          "SURVEYD_TWILIO_FROM": "+15005550006", "SURVEYD_PUBLIC_URL": "https://cx.example.com"}


def _adapters(tmp_path: Path, **env):
    return build_adapters(load_settings(tmp_path, {"SURVEYD_SECRET_KEY": "x" * 20, **env}))


def test_nothing_configured_means_web_only(tmp_path):
    adapters = _adapters(tmp_path)
    assert set(adapters) == {Channel.WEB} and isinstance(adapters[Channel.WEB], WebLinkChannel)


def test_twilio_credentials_turn_sms_on_with_a_status_callback(tmp_path):
    sms = _adapters(tmp_path, **TWILIO)[Channel.SMS]
    assert isinstance(sms, TwilioSmsChannel)
    assert sms.status_callback == "https://cx.example.com/webhooks/twilio/status"
    assert _adapters(tmp_path, **{**TWILIO, "SURVEYD_TWILIO_FROM": ""}).get(Channel.SMS) is None  # no sender: off


def test_the_sandbox_wins_over_a_provider_only_for_the_channels_it_lists(tmp_path):
    partial = _adapters(tmp_path, SURVEYD_SANDBOX="email,telegram", **TWILIO)
    assert isinstance(partial[Channel.SMS], TwilioSmsChannel)
    assert isinstance(partial[Channel.EMAIL], SandboxChannel) and isinstance(partial[Channel.TELEGRAM], SandboxChannel)
    everything = _adapters(tmp_path, SURVEYD_SANDBOX="1", **TWILIO)
    assert isinstance(everything[Channel.SMS], SandboxChannel)


SMTP = {"SURVEYD_SMTP_HOST": "mail.example.com", "SURVEYD_MAIL_FROM": "Acme CX <cx@acme.example>"}


def test_an_smtp_host_turns_email_on_with_starttls_by_default(tmp_path):
    from bots.email_smtp import SmtpEmailChannel

    email = _adapters(tmp_path, **SMTP)[Channel.EMAIL]
    assert isinstance(email, SmtpEmailChannel)
    assert (email.host, email.port, email.starttls, email.ssl, email.envelope_from) == (
        "mail.example.com", 587, True, False, "cx@acme.example")
    assert email.rate_limits(None)[0].key == "smtp:mail.example.com"
    smtps = _adapters(tmp_path, **SMTP, SURVEYD_SMTP_PORT="465")[Channel.EMAIL]
    assert smtps.ssl is True  # port 465 speaks TLS from the first byte
    assert isinstance(_adapters(tmp_path, SURVEYD_SANDBOX="email", **SMTP)[Channel.EMAIL], SandboxChannel)
    assert Channel.EMAIL not in _adapters(tmp_path)
