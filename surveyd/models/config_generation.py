"""The configuration's generation: a counter the database moves on every change to what requests cache."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from surveyd.models.base import Base

# The tables whose rows processes cache (services/config_cache.py). Triggers on each of them move the counter in
# the same transaction as the change (migration 0019), whoever writes: a web process, a worker, the CLI, psql.
CACHED_TABLES = ("api_keys", "touchpoints", "triggers", "surveys", "survey_versions")


class ConfigGeneration(Base):
    """One row (id 1): `n` grows with every committed change to a cached table."""

    __tablename__ = "config_generation"

    id: Mapped[int] = mapped_column(primary_key=True)
    n: Mapped[int] = mapped_column(sa.BigInteger)
