"""Renders a dispatch into the message its channel carries."""
from __future__ import annotations

import survey_templates
from bots.channel import OutboundMessage
from surveyd.models import Channel, Dispatch, DispatchPurpose
from surveyd.services.dispatch_planning import survey_link


def question_text(dispatch: Dispatch) -> str:
    """The score question in the dispatch's locale."""
    return dispatch.survey_version.scale_question["text"][dispatch.locale]


def compose(dispatch: Dispatch) -> OutboundMessage:
    """The invitation for a dispatch on its channel, in its locale."""
    url = survey_link(dispatch)
    context = {
        "question": question_text(dispatch),
        "url": url,
        "contact_name": dispatch.contact.name,
        "reminder": dispatch.purpose == DispatchPurpose.REMINDER,
    }
    # The link's token is unique to the dispatch and travels in every body: a provider that keeps
    # the body can be asked later whether it already has this message.
    common = {"dispatch_id": dispatch.id, "locale": dispatch.locale, "reference": url.rsplit("/", 1)[-1]}
    channel = dispatch.channel
    to = dispatch.contact.address(channel) or ""
    if channel == Channel.EMAIL:
        return OutboundMessage(
            channel=channel.value,
            to=to,
            **common,
            subject=survey_templates.render_message("email_invitation.subject.txt", dispatch.locale, **context),
            text=survey_templates.render_message("email_invitation.txt", dispatch.locale, **context),
            html=survey_templates.render_message("email_invitation.html", dispatch.locale, **context),
        )
    template = {Channel.SMS: "sms_invitation.txt", Channel.TELEGRAM: "telegram_invitation.txt"}.get(channel)
    text = survey_templates.render_message(template, dispatch.locale, **context) if template else context["url"]
    return OutboundMessage(channel=channel.value, to=to, text=text, **common)
