"""An index of the rendered views by the version of regimen that wrote them: the worklist first asks whether every
course's caches are current (as many views of this version as courses, :func:`regimen.store.courses._all_current`),
which the index answers without reading the views themselves (issue 29: 100,000 courses).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("course_views_by_version", "course_views", ["code_version"])


def downgrade() -> None:
    op.drop_index("course_views_by_version", table_name="course_views")
