"""The worklist holds each dose's rounded amount and its rate as numbers (issue 26), so that ``regimen due --format
csv`` gives a numeric dose, rate and unit beside the display text; the caches are emptied, to be rebuilt from the
records.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("scheduled", sa.Column("dose_shown", sa.String(100)))
    op.add_column("scheduled", sa.Column("rate_shown", sa.String(100)))
    op.add_column("scheduled", sa.Column("rate_unit", sa.String(20)))
    # caches of the replay (never records): rows written before this schema lack the new columns, so they go, and
    # each course's are rebuilt from its records when it is next read (as migration 0003)
    op.execute("DELETE FROM scheduled")
    op.execute("DELETE FROM course_views")


def downgrade() -> None:
    op.execute("DELETE FROM scheduled")
    op.execute("DELETE FROM course_views")
    with op.batch_alter_table("scheduled") as batch:
        batch.drop_column("rate_unit")
        batch.drop_column("rate_shown")
        batch.drop_column("dose_shown")
