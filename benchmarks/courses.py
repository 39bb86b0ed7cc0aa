"""Speed of treatment courses (issue 12.5), each figure beside its target.

    python benchmarks/courses.py                    # 100,000 active courses in a new SQLite file (issue 29)
    python benchmarks/courses.py --courses 2000     # a smaller unit
    python benchmarks/courses.py --postgres         # on a new PostgreSQL cluster of its own (127.0.0.1, a free port)
    python benchmarks/courses.py --db postgresql://postgres@127.0.0.1:5432/bench   # on a PostgreSQL server
    python benchmarks/courses.py --keep unit.sqlite3                  # seed once into this file, reuse it later
    python benchmarks/courses.py --postgres --seed-from unit.sqlite3  # PostgreSQL, the same courses copied over

Seeding takes long (each course is started as ``regimen course start`` starts it, a thousand to a transaction: about
7 ms a course on a loaded 2-core machine, so 100,000 take about 12 minutes); the figure is the worklist's. Seed once
into a file of its own (``--keep``) and copy its rows into another database (``--seed-from``: the records and their
caches as they are, by PostgreSQL's COPY; then VACUUM ANALYZE, as autovacuum would after a unit's courses came in).

1. ``regimen due --from DAY`` (a new process, wall time, start-up included) over N active courses of the bundled
   regimens, patients, day 1 and the morning's first time drawn at random (seed 1) over 2026, the worklist of a
   busy day written as CSV; median of ``--repeats`` runs, on SQLite or PostgreSQL (the line names which), with the
   command's own CPU time and the load average beside it.                                 target < 1 s
2. ``regimen course show ID`` (a new process) against ``regimen expand cenersen-arm3 --weight 70 --bsa 1.8``
   (a new process), medians of ``--repeats`` interleaved runs each, for a course with a delay, a new weight, a dose
   reduction, an omission and a dose given recorded: the difference.                      target < 150 ms

The machine is shared and noisy: medians of interleaved runs, never a timed test. The package is byte-compiled first
(as ``pip install`` leaves it; see ``byte_compiled`` in benchmarks/run.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable
BIN = Path(PY).parent / "regimen"
REGIMEN = [str(BIN)] if BIN.exists() else [PY, "-m", "regimen"]
BUSY_DAY = dt.date(2026, 7, 1)


def wall(cmd: list[str]) -> float:
    return timed(cmd)[0]


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall time and the command's own CPU time (user + system; a database server's is not counted): on a shared
    machine the wall time grows with the other jobs' load, the CPU time much less."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    took = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return took, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def seed(db: str, n: int) -> tuple[int, float]:
    """N courses of the bundled regimens (those that expand for a weight, BSA and age) in one transaction."""
    from regimen.engine.courses import CourseBook, CourseStart
    from regimen.engine.courses.replay import replay
    from regimen.export.course import rendered
    from regimen.protocol.catalog import bundled_dir
    from regimen.store.courses import CourseStore

    rng = random.Random(1)
    texts = {}
    for path in sorted(bundled_dir().glob("*.toml")):
        texts[path.stem] = (path, path.read_text(encoding="utf-8"))
    usable = []
    for rid, (path, text) in texts.items():
        trial = CourseStart(
            course_id="probe",
            regimen_text=text,
            regimen_file=str(path),
            start=BUSY_DAY,
            patient={"weight": "70", "bsa": "1.8", "age": "60", "height": "175", "sex": "female", "scr": "1"},
        )
        try:
            replay(trial, [])
            usable.append(rid)
        except Exception:  # a regimen that needs another value (e.g. a cycle length): left out of the unit
            continue
    starts = []
    for i in range(n):
        rid = usable[i % len(usable)]
        path, text = texts[rid]
        starts.append(
            CourseStart(
                course_id=f"c{i:06d}",
                regimen_text=text,
                regimen_file=str(path),
                start=dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(0, 300)),
                patient={
                    "weight": f"{rng.uniform(45, 110):.1f}",
                    "bsa": f"{rng.uniform(1.4, 2.3):.2f}",
                    "age": str(rng.randrange(25, 80)),
                    "height": "175",
                    "sex": "female",
                    "scr": "1",
                },
                # each course's first drug at a time of the unit's morning, as 'course start --time --tz' records it:
                # the worklist's rows have start times to read and sort, as a unit's do
                time=rng.choice(("08:00", "08:30", "09:00", "09:30", "10:00", "11:00")),
                tz="Europe/Berlin",
            )
        )
    store = CourseBook(CourseStore.open(db), rendered)
    began = time.perf_counter()
    for k in range(0, n, 1000):
        store.start_many(starts[k : k + 1000], who="benchmark", why="seeded")
    took = time.perf_counter() - began
    store.close()
    return len(usable), took


def copy_courses(source: str, db: str) -> int:
    """The courses of the SQLite file ``source`` (records and caches, as they are) copied into the database ``db``
    (its schema made by regimen's migrations); the number of courses."""
    import sqlalchemy as sa

    from regimen.store.db import connect, resolve
    from regimen.store.schema import changes, courses, scheduled, views

    reader = sa.create_engine(f"sqlite:///{source}")
    writer = connect(resolve(db))
    postgres = writer.dialect.name == "postgresql"
    with reader.connect() as src, writer.begin() as dst:
        for table in (courses, changes, scheduled, views):
            names = [c.name for c in table.columns]
            rows = src.execute(sa.select(*table.columns)).yield_per(20_000)
            if postgres:  # COPY: a few seconds for the unit's millions of worklist rows
                cursor = dst.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(tuple(row))
            else:
                for part in rows.partitions():
                    dst.execute(table.insert(), [dict(zip(names, r, strict=True)) for r in part])
    if postgres:
        with writer.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    with writer.connect() as conn:
        n = int(conn.execute(sa.select(sa.func.count()).select_from(courses)).scalar_one())
    reader.dispose()
    writer.dispose()
    return n


def count_courses(db: str) -> int:
    """The courses in ``db`` (a reused or copied unit holds its own number, not ``--courses``)."""
    import sqlalchemy as sa

    from regimen.store.db import connect, resolve
    from regimen.store.schema import courses

    engine = connect(resolve(db))
    with engine.connect() as conn:
        n = int(conn.execute(sa.select(sa.func.count()).select_from(courses)).scalar_one())
    engine.dispose()
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--courses", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--db", help="a database URL (default: a new SQLite file)")
    ap.add_argument("--postgres", action="store_true", help="on a new PostgreSQL cluster (Debian's postgresql)")
    ap.add_argument("--keep", help="seed into this SQLite file and keep it; a later run finds it seeded and reuses it")
    ap.add_argument("--seed-from", help="copy the courses of this SQLite file (a --keep file) instead of seeding")
    args = ap.parse_args()
    if args.postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.postgres import postgres_server  # the tests' throwaway cluster: loopback, a free port

        with postgres_server() as url:
            run(args, url)
    else:
        run(args, args.db)


def run(args: argparse.Namespace, url: str | None) -> None:
    from run import byte_compiled  # benchmarks/run.py, beside this file

    byte_compiled()  # as pip install leaves it: each timed process reads bytecode, not compiles the package
    with tempfile.TemporaryDirectory() as tmp:
        db = url or args.keep or str(Path(tmp) / "bench.sqlite3")
        if args.seed_from:
            began = time.perf_counter()
            n = copy_courses(args.seed_from, db)
            print(f"copied {n:,} active courses from {args.seed_from} in {time.perf_counter() - began:.1f} s")
        elif args.keep and Path(args.keep).exists():
            print(f"reusing the courses seeded in {args.keep}")
        elif url and count_courses(url):  # a --db that holds a unit already (one copied over once, say)
            print("reusing the courses already in the database")
        else:
            kinds, seeded = seed(db, args.courses)
            print(f"seeded {args.courses:,} active courses of {kinds} regimens in {seeded:.1f} s")
        out = Path(tmp) / "due.csv"
        due_cmd = [*REGIMEN, "due", "--from", BUSY_DAY.isoformat(), "--db", db, "-o", str(out)]
        wall(due_cmd)  # warm the file cache
        runs = [timed(due_cmd) for _ in range(args.repeats)]
        times = [w for w, _ in runs]
        rows = sum(1 for _ in out.open()) - 1
        median = statistics.median(times)
        backend = "PostgreSQL" if db.startswith("postgresql") else "SQLite"
        load = os.getloadavg()[0]
        print(
            f"1. regimen due over {count_courses(db):,} courses on {backend} ({rows:,} administrations due "
            f"{BUSY_DAY}): median {median * 1000:.0f} ms (p90 {sorted(times)[int(0.9 * (len(times) - 1))] * 1000:.0f}"
            f" ms; its own CPU {statistics.median(c for _, c in runs) * 1000:.0f} ms; load average {load:.1f})   "
            f"target < 1000 ms  {'ok' if median < 1 else 'MISSED'}"
        )
        r = REGIMEN
        course = f"bench-capox-{time.time_ns()}"  # a new id each run: a kept database is reused
        subprocess.run(
            [*r, "course", "start", "capox", "--course", course, "--weight", "70", "--bsa", "1.8", "--start",
             BUSY_DAY.isoformat(), "--time", "08:00", "--tz", "Europe/Berlin", "--db", db,
             "--confirm"],  # the busy day is a fixed date: a start long past is confirmed
            check=True,
            capture_output=True,
        )  # fmt: skip
        for change in (
            ["delay", course, "--cycle", "2", "--by", "7d", "--reason", "counts"],
            ["measure", course, "--cycle", "3", "--weight", "60", "--reason", "re-weighed"],
            [
                "dose",
                course,
                "--cycle",
                "4",
                "--drug",
                "oxaliplatin",
                "--dose-percent",
                "75%",
                "--reason",
                "neuropathy",
            ],
            ["omit", course, "--cycle", "2", "--day", "1", "--reason", "holiday"],
            # the first dose waits for CAPOX's DPYD requirement to be recorded
            ["requirement", course, "--id", "dpyd", "--status", "met", "--reason", "genotyped"],
            ["given", course, "--cycle", "1", "--day", "1", "--drug", "oxaliplatin", "--dose", "234 mg"],
        ):
            subprocess.run([*r, "course", *change, "--db", db], check=True, capture_output=True)
        show = [*r, "course", "show", course, "--db", db]
        expand = [*r, "expand", "cenersen-arm3", "--weight", "70", "--bsa", "1.8"]
        wall(show), wall(expand)
        shows, expands = [], []
        for _ in range(args.repeats):
            shows.append(wall(show))
            expands.append(wall(expand))
        above = statistics.median(shows) - statistics.median(expands)
        print(
            f"2. regimen course show: median {statistics.median(shows) * 1000:.0f} ms; regimen expand "
            f"{statistics.median(expands) * 1000:.0f} ms; above expand {above * 1000:.0f} ms   target < 150 ms  "
            f"{'ok' if above < 0.150 else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
