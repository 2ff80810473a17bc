"""Opening: the first time a dispatch's survey page is shown while it can still be answered."""
from __future__ import annotations

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Dispatch, utcnow
from surveyd.services.answers.responding import Progress, Stage


def mark_opened(state: Progress) -> bool:
    """Record when an open dispatch's page was first shown; never overwrites, records nothing else; True if set.

    Email security scanners that prefetch links count as opens: the server cannot tell them from people.
    """
    if state.stage != Stage.OPEN or state.dispatch is None or state.dispatch.opened_at is not None:
        return False
    now = utcnow()
    # A conditional UPDATE, so two first views at once keep the earlier time and neither overwrites it.
    done = db.session.execute(
        sa.update(Dispatch).where(Dispatch.id == state.dispatch.id, Dispatch.opened_at.is_(None))
        .values(opened_at=now).execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(done)
