"""Treatment courses: start records, append-only changes, and the worklist cache.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY = ("courses", "course_changes")


def upgrade() -> None:
    op.create_table(
        "courses",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("regimen_id", sa.String(200), nullable=False),
        sa.Column("regimen_sha256", sa.String(64), nullable=False),
        sa.Column("regimen_version", sa.String(200)),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("started", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_table(
        "course_changes",
        sa.Column("course_id", sa.String(64), sa.ForeignKey("courses.id"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("who", sa.String(200), nullable=False),
        sa.Column("why", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_table(
        "scheduled",
        sa.Column("course_id", sa.String(64), sa.ForeignKey("courses.id"), primary_key=True),
        sa.Column("n", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("start_utc", sa.DateTime(timezone=True)),
        sa.Column("tz", sa.String(64)),
        sa.Column("phase", sa.String(64), nullable=False),
        sa.Column("cycle", sa.Integer, nullable=False),
        sa.Column("day", sa.Integer, nullable=False),
        sa.Column("drug", sa.String(200), nullable=False),
        sa.Column("component", sa.String(200), nullable=False),
        sa.Column("dose", sa.String(100), nullable=False),
        sa.Column("dose_text", sa.String(100), nullable=False),
        sa.Column("unit", sa.String(20), nullable=False),
        sa.Column("rate_text", sa.String(100)),
        sa.Column("route", sa.String(100)),
        sa.Column("method", sa.String(100)),
        sa.Column("hours", sa.String(100)),
        sa.Column("preparation", sa.Text),
        sa.Column("calculation", sa.Text, nullable=False),
        sa.Column("warnings", sa.Text, nullable=False),
    )
    op.create_index("scheduled_by_date", "scheduled", ["date", "start_utc"])
    # the records are append-only: the database itself refuses to change or remove one
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION regimen_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'regimen: course records are append-only (% on %)', TG_OP, TG_TABLE_NAME; END $$"
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION regimen_append_only()"
            )
    elif dialect == "sqlite":
        for table in APPEND_ONLY:
            for event in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'regimen: course records are append-only ({event} on {table})'); END"
                )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS regimen_append_only()")
    op.drop_index("scheduled_by_date", table_name="scheduled")
    op.drop_table("scheduled")
    op.drop_table("course_changes")
    op.drop_table("courses")
