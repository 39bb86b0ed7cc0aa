"""The worklist over 100,000 courses (issue 29): an index of the rendered views by the version of regimen that wrote
them, so that whether every course's caches are current (as many views of this version as courses,
:func:`regimen.store.courses._all_current`) is answered without reading the views; and each worklist row carries its
course's regimen id (filled here from the courses), so that the day's rows are read without reading a course.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("course_views_by_version", "course_views", ["code_version"])
    op.add_column("scheduled", sa.Column("regimen_id", sa.String(200)))
    op.execute(
        "UPDATE scheduled SET regimen_id = (SELECT regimen_id FROM courses WHERE courses.id = scheduled.course_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("scheduled") as batch:
        batch.drop_column("regimen_id")
    op.drop_index("course_views_by_version", table_name="course_views")
