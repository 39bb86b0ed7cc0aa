"""``regimen serve`` (the web app and HTTP API) and ``regimen plot`` (the timeline chart)."""

from __future__ import annotations

import datetime as dt

import click

from regimen.cli.clinical_options import clinical_options, options_from_context
from regimen.cli.options import (
    cycle_options,
    patient_options,
    refuse_overwrite,
    regimen_argument,
    regimen_path_option,
)
from regimen.clinical.choices import parse_cycles
from regimen.clinical.patient import make_patient
from regimen.engine.expand import expand as expand_plan
from regimen.errors import RegimenError
from regimen.export.io import write_atomic
from regimen.protocol.catalog import ENV_VAR, load
from regimen.quantities.clock import parse_time

WEB_EXTRA = "pip install 'regimen-schedules[web]'"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (this machine only).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port.")
@click.option("--db", metavar="FILE|URL", help="A course database, for the course pages and the worklist.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@click.option(
    "--rate-limit",
    default=300.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Requests a second per client (0: no limit).",
)
@click.option(
    "--allowed-host",
    "names",
    multiple=True,
    metavar="NAME",
    help="A host name a reverse proxy forwards to this server (e.g. regimen.unit.example); needs sign-in.",
)
@regimen_path_option
def serve(
    host: str,
    port: int,
    db: str | None,
    workers: int,
    rate_limit: float,
    names: tuple[str, ...],
    regimen_path: tuple[str, ...],
) -> None:
    """Start the web app and HTTP API (pages, timeline, handout, OpenAPI at /openapi.json).

    On this machine's own address (127.0.0.1) it may stay open for one person. On any other address, or behind a
    reverse proxy (--allowed-host), it starts only once sign-in is configured: an active administrator in the
    course database --db (see 'regimen users').

    \b
    Example:
      regimen serve            # then open http://127.0.0.1:8000
    """
    try:
        import uvicorn  # lazy: the web extra only for this command
    except ImportError:
        raise RegimenError(f"regimen serve needs the web extra: {WEB_EXTRA}") from None
    import os
    import secrets

    from regimen.web import serve as served  # lazy: Starlette and the app only for this command

    if db is not None:
        os.environ[served.DB] = db
    if regimen_path:  # the workers find the folders as every command does: before $REGIMEN_PATH's
        os.environ[ENV_VAR] = os.pathsep.join([*regimen_path, *filter(None, [os.environ.get(ENV_VAR)])])
    os.environ[served.RATE] = str(rate_limit)
    os.environ[served.HOST] = host
    os.environ[served.SECRET] = secrets.token_hex(32)
    os.environ[served.NAMES] = ",".join(names)
    if served.reachable_from_elsewhere(host, list(names)):
        _sign_in_configured(host, names, db)
    click.echo(f"regimen: serving on http://{host}:{port} (Ctrl-C stops)", err=True)
    uvicorn.run(
        "regimen.web.serve:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # no request line in any log: paths and queries never reach a log
        log_level="warning",
        limit_concurrency=200,
        timeout_keep_alive=5,
    )


def _sign_in_configured(host: str, names: tuple[str, ...], db: str | None) -> None:
    """Refuse, in one line naming the fix, to serve other machines without an active administrator in ``db``."""
    where = f"--host {host}" if not names else f"--allowed-host {names[0]}"
    fix = "add one with 'regimen users add NAME --role administrator --db FILE' and serve with --db FILE"
    if db is None:
        raise RegimenError(f"regimen serve {where}: other machines can reach it, so it needs sign-in: {fix}")
    from regimen.store.users import UserStore  # lazy: SQLAlchemy only for a server of a course database

    store = UserStore.open(db)
    try:
        if not store.administrators():
            raise RegimenError(
                f"regimen serve {where}: other machines can reach it, so it needs sign-in, and {store.where} has "
                f"no active administrator: {fix}"
            )
    finally:
        store.close()


@click.command()
@regimen_argument
@patient_options
@click.option("--start", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="YYYY-MM-DD", help="Date of day 1.")
@click.option("--time", "time_", metavar="HH:MM", help="Time of the first drug of each treatment day.")
@click.option("--tz", metavar="ZONE", help="IANA zone of --time.")
@cycle_options
@clinical_options
@click.option(
    "-o", "--output", required=True, metavar="FILE", type=click.Path(dir_okay=False), help="timeline.svg, .png or .pdf"
)
@regimen_path_option
def plot(
    regimen_ref: str,
    weight: str | None,
    bsa: str | None,
    age: str | None,
    dob: str | None,
    height: str | None,
    sex: str | None,
    start: dt.datetime | None,
    time_: str | None,
    tz: str | None,
    cycles: tuple[str, ...],
    cycle_length: int | None,
    output: str,
    regimen_path: tuple[str, ...],
) -> None:
    """The plan's timeline chart: one lane per drug, infusions as bars, doses as marks, cycles and dates.

    \b
    Example:
      regimen plot cenersen-arm3 --weight 70 --bsa 1.8 --age 45 --start 2026-12-01 -o timeline.svg
    """
    refuse_overwrite(["output"])
    fmt = output.rsplit(".", 1)[-1].lower() if "." in output else ""
    if fmt not in ("svg", "png", "pdf"):
        raise RegimenError(f"-o {output!r}: name a .svg, .png or .pdf file")
    try:
        import matplotlib  # noqa: F401  # lazy: checked before anything is computed
    except ImportError:
        raise RegimenError(f"regimen plot needs the web extra (matplotlib): {WEB_EXTRA}") from None
    from regimen.export.chart import chart_bytes  # lazy: matplotlib only for charts

    clinical, renal = options_from_context()
    plan = expand_plan(
        load(regimen_ref, regimen_path),
        make_patient(weight=weight, bsa=bsa, age=age, height=height, sex=sex, dob=dob, **renal),
        start=start.date() if start else None,
        cycles=parse_cycles(cycles),
        cycle_length=cycle_length,
        options=clinical,
        time=parse_time(time_) if time_ else None,
        tz=tz,
    )
    write_atomic(output, chart_bytes(plan, fmt))
    click.echo(f"{output}: written (timeline, {fmt})", err=True)


__all__ = ["plot", "serve"]
