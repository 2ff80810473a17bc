"""The audit log in the console, for admins: who changed what, when and from where, newest first."""
from __future__ import annotations

from flask import render_template, request

from surveyd.console import bp
from surveyd.console.access import allowed
from surveyd.models import Role
from surveyd.models.base import LARGEST_ID
from surveyd.services.audit.entries import entries

PAGE = 50


@bp.route("/audit")
@allowed(Role.ADMIN)
def audit_log():
    """Entries, newest first, narrowed by actor and action; 50 to a page."""
    actor = (request.args.get("actor") or "").strip()[:254] or None
    action = (request.args.get("action") or "").strip()[:48] or None
    raw = (request.args.get("before") or "").strip()
    cursor = int(raw) if raw.isdigit() and 0 < int(raw) <= LARGEST_ID else None
    page = entries(actor=actor, action=action, limit=PAGE, cursor=cursor)
    return render_template("console/audit.html", page=page, actor=actor or "", action=action or "")
