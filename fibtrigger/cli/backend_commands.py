"""`fibtrigger backend [sql | lambda --function-arn ARN | queue --function-arn ARN]`: what the trigger runs."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from ..config import masked
from .app import SHORT_HELP, database_url_option, json_option
from .core import database_url_of

if TYPE_CHECKING:
    from ..backend import BackendState, SwapResult


def _state(state: BackendState) -> dict:
    return {"backend": state.name, "function_arn": state.function_arn}


@click.group(invoke_without_command=True, short_help=SHORT_HELP["backend"])
@database_url_option
@json_option
@click.pass_context
def backend(ctx: click.Context, database_url: str | None, as_json: bool) -> None:
    """Show the trigger's backend (sql: fibcomp; lambda: lambda_sync to a function ARN; queue: workers
    call the function in batches), or swap it."""
    if ctx.invoked_subcommand is None:
        from .. import backend as backends

        state = backends.current_backend(database_url_of(ctx))
        click.echo(json.dumps(_state(state)) if as_json else str(state))


@backend.command("lambda")
@click.option("--function-arn", required=True, metavar="ARN", help="The Lambda function the trigger invokes.")
@database_url_option
@json_option
@click.pass_context
def use_lambda(ctx: click.Context, function_arn: str, database_url: str | None, as_json: bool) -> None:
    """Make the trigger call the Lambda function through lambda_sync (Aurora MySQL, or `fibtrigger local up`)."""
    from .. import backend as backends

    url = database_url_of(ctx)
    _report(url, backends.use_lambda(url, function_arn), as_json)


@backend.command("queue")
@click.option("--function-arn", required=True, metavar="ARN", help="The Lambda function the workers invoke.")
@database_url_option
@json_option
@click.pass_context
def use_queue(ctx: click.Context, function_arn: str, database_url: str | None, as_json: bool) -> None:
    """Store each row at once with value NULL; `fibtrigger worker` computes it in batches (MySQL 8.0, MariaDB 10.6+)."""
    from .. import backend as backends

    url = database_url_of(ctx)
    _report(url, backends.use_queue(url, function_arn), as_json)


@backend.command("sql")
@database_url_option
@json_option
@click.pass_context
def use_sql(ctx: click.Context, database_url: str | None, as_json: bool) -> None:
    """Make the trigger compute with fibcomp in the database (the default); computes any row the queue left waiting."""
    from .. import backend as backends

    url = database_url_of(ctx)
    _report(url, backends.use_sql(url), as_json)


def _report(url, result: SwapResult, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"before": _state(result.before), "after": _state(result.after),
                               "changed": result.changed}))
    elif result.changed:
        click.echo(f"{masked(url)}: backend {result.before} -> {result.after}")
    else:
        click.echo(f"{masked(url)}: backend already {result.after}")
