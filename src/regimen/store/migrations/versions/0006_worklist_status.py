"""The worklist keeps each administration's status (planned, verified by a pharmacist, given or omitted), so that the
worklist page shows what became of each (issue 28); the caches are emptied, to be rebuilt from the records.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("scheduled", sa.Column("status", sa.String(16), nullable=False, server_default="planned"))
    # caches of the replay (never records): rebuilt from each course's records when next read (CourseStore.due)
    op.execute("DELETE FROM scheduled")
    op.execute("DELETE FROM course_views")


def downgrade() -> None:
    op.execute("DELETE FROM scheduled")
    op.execute("DELETE FROM course_views")
    with op.batch_alter_table("scheduled") as batch:
        batch.drop_column("status")
