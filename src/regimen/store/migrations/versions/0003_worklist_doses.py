"""The worklist knows which dose of a day each row is (and its condition), so that two doses of one drug on one
day are two administrations with two identities; the caches are emptied, to be rebuilt from the records.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("scheduled", sa.Column("dose_number", sa.Integer))
    op.add_column("scheduled", sa.Column("condition", sa.Text))
    # both tables are caches of the replay (never records): rows written before this schema lack the new columns,
    # so they go, and each course's are rebuilt from its records when it is next read (CourseStore.due)
    op.execute("DELETE FROM scheduled")
    op.execute("DELETE FROM course_views")


def downgrade() -> None:
    op.execute("DELETE FROM scheduled")
    op.execute("DELETE FROM course_views")
    with op.batch_alter_table("scheduled") as batch:
        batch.drop_column("condition")
        batch.drop_column("dose_number")
