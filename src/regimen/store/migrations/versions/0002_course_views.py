"""The course as it stands, rendered with each change (``regimen course show`` reads it without replaying).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "course_views",
        sa.Column("course_id", sa.String(64), sa.ForeignKey("courses.id"), primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("code_version", sa.String(40), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("json", sa.Text, nullable=False),
        sa.Column("warnings", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("course_views")
