"""Treatment courses kept in a database: SQLite by default, PostgreSQL for a unit of several workstations.

One database layer (SQLAlchemy Core) with versioned schema migrations (Alembic). The course records are
append-only (the tables refuse UPDATE and DELETE); the plan as it stands is replayed from them by
:func:`regimen.engine.courses.replay`, and its planned administrations are kept, as a cache rebuilt in the same
transaction as each change, for the worklist (``regimen due``).
"""
