"""The tables, as SQLAlchemy Core sees them (the migrations in ``migrations/versions`` create the same; a test
compares them)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, ForeignKey, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

#: One row per course: its start, as recorded (JSON of :class:`regimen.engine.courses.CourseStart`). Append-only.
courses = Table(
    "courses",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("regimen_id", String(200), nullable=False),
    Column("regimen_sha256", String(64), nullable=False),
    Column("regimen_version", String(200)),
    Column("start_date", Date, nullable=False),
    Column("started", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("reason", Text, nullable=False),
)

#: Every change, in order within its course (seq 1, 2, ...). Append-only.
changes = Table(
    "course_changes",
    metadata,
    Column("course_id", String(64), ForeignKey("courses.id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(16), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("who", String(200), nullable=False),
    Column("why", Text, nullable=False),
    Column("data", Text, nullable=False),
)

#: The planned administrations of every course as it now stands: a cache of the replay, rebuilt with each change,
#: read by the worklist. ``revision`` is the number of changes it reflects.
scheduled = Table(
    "scheduled",
    metadata,
    Column("course_id", String(64), ForeignKey("courses.id"), primary_key=True),
    Column("n", Integer, primary_key=True, autoincrement=False),
    Column("revision", Integer, nullable=False),
    Column("date", Date, nullable=False),
    Column("start_utc", DateTime(timezone=True)),
    Column("tz", String(64)),  # the course's zone, for the local time of start_utc
    Column("phase", String(64), nullable=False),
    Column("cycle", Integer, nullable=False),
    Column("day", Integer, nullable=False),
    Column("drug", String(200), nullable=False),
    Column("component", String(200), nullable=False),
    Column("dose", String(100), nullable=False),  # exact, as a fraction "1343/2"
    Column("dose_text", String(100), nullable=False),
    Column("unit", String(20), nullable=False),
    Column("rate_text", String(100)),
    Column("route", String(100)),
    Column("method", String(100)),
    Column("hours", String(100)),
    Column("preparation", Text),
    Column("calculation", Text, nullable=False),
    Column("warnings", Text, nullable=False),
    Column("dose_number", Integer),  # with several doses a day: which (migration 0003)
    Column("condition", Text),  # given only if this holds, when the patient value is missing
    # the dose and rate as shown, rounded by the plan's rule, as decimals "1312.5" (migration 0005)
    Column("dose_shown", String(100)),
    Column("rate_shown", String(100)),
    Column("rate_unit", String(20)),
    # planned, verified, given or omitted (migration 0006: the worklist page shows what became of each, issue 28)
    Column("status", String(16), nullable=False, server_default="planned"),
    Column("regimen_id", String(200)),  # the course's, kept here so the worklist reads no course (migration 0007)
    Column("role", String(16), nullable=False, server_default="anticancer"),  # or supportive (migration 0008)
)
Index("scheduled_by_date", scheduled.c.date, scheduled.c.start_utc)

#: The course as it stands, rendered (text and JSON) in the transaction of each change, for ``course show``: a cache
#: of the replay, used only while ``revision`` is the number of changes and ``code_version`` this regimen's version.
views = Table(
    "course_views",
    metadata,
    Column("course_id", String(64), ForeignKey("courses.id"), primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("code_version", String(40), nullable=False),
    Column("text", Text, nullable=False),
    Column("json", Text, nullable=False),
    Column("warnings", Text, nullable=False),
)
Index("course_views_by_version", views.c.code_version)  # is every course's cache current? (migration 0007)

#: The people of a unit who sign in (migration 0004): a role each (:mod:`regimen.store.roles`), an Argon2id hash of
#: the password (never the password), and the failed sign-ins that lock the account for a while (kept here, so a
#: restart does not reset a brute-force attempt). A user is disabled, never deleted: the audit trail names them.
users = Table(
    "users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("failures", Integer, nullable=False),  # failed sign-ins since the last success or lock-out
    Column("locked_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
)

#: Signed-in sessions (web and command line): the SHA-256 of the token the browser cookie or the session file
#: holds (never the token), whose user, and when it ends. Signing out, disabling a user or a new password ends them.
sessions = Table(
    "user_sessions",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("user_name", String(64), ForeignKey("users.name"), nullable=False),
    Column("kind", String(8), nullable=False),  # web | cli
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

__all__ = ["changes", "courses", "metadata", "scheduled", "sessions", "users", "views"]
