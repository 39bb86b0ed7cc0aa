"""The worklist keeps each administration's role (anticancer, or supportive care: premedication, hydration, growth
factor...), so that the worklist shows supportive care apart from the chemotherapy, as the plan does (issue 27); the
caches are emptied, to be rebuilt from the records with each row's role.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("scheduled", sa.Column("role", sa.String(16), nullable=False, server_default="anticancer"))
    # caches of the replay (never records): rebuilt from each course's records when next read (CourseStore.due)
    op.execute("DELETE FROM scheduled")
    op.execute("DELETE FROM course_views")


def downgrade() -> None:  # the rows stay right without their role (the schema before had none)
    with op.batch_alter_table("scheduled") as batch:
        batch.drop_column("role")
