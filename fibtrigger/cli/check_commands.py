"""`fibtrigger check [--json]`: does the database still hold what the migrations declare?"""

import json

import click

from ..errors import FibtriggerError
from .app import SHORT_HELP, database_url_option, url_of

IN_SYNC, DRIFT, SETUP_ERROR = 0, 1, 2


@click.command(short_help=SHORT_HELP["check"])
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@database_url_option
@click.pass_context
def check(ctx: click.Context, as_json: bool, database_url: str | None) -> None:
    """Compare the live table, functions and triggers with revision head's; print a diff of each drift.

    Exit 0 in sync, 1 on drift, 2 when the check cannot run (URL, connection, schema not at head).
    Triggers on another backend (`fibtrigger backend`) are not drift.
    """
    from .. import check as drift_check  # Alembic loads only for this command

    try:
        drifts = drift_check.drift(url_of(ctx))
    except FibtriggerError as error:
        # Exit 1 means drift here, so every failure to check is a setup error.
        raise click.exceptions.Exit(_fail(error, as_json)) from None
    if as_json:
        click.echo(json.dumps({"in_sync": not drifts, "drifts": [drift.as_dict() for drift in drifts]}, indent=2))
    elif not drifts:
        click.echo("in sync: the table, functions and triggers are as revision head declares them")
    else:
        for drift in drifts:
            click.echo(f"drift: {drift.label} {drift.change}")
            click.echo(drift.diff())
    raise click.exceptions.Exit(DRIFT if drifts else IN_SYNC)


def _fail(error: FibtriggerError, as_json: bool) -> int:
    message = " ".join(str(error).split())
    if as_json:
        click.echo(json.dumps({"in_sync": None, "error": message}))
    click.echo(f"fibtrigger: {message}", err=True)
    return SETUP_ERROR
