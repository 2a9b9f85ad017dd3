"""`fibtrigger backend [sql | lambda --function-arn ARN]`: which computation the trigger runs."""

import click

from .. import backend as backends
from ..config import database_url, masked
from .app import cli, url_of


@cli.group(invoke_without_command=True)
@click.pass_context
def backend(ctx: click.Context) -> None:
    """Show the trigger's backend (sql: fibcomp; lambda: lambda_sync to a function ARN), or swap it."""
    if ctx.invoked_subcommand is None:
        click.echo(str(backends.current_backend(url_of(ctx))))


@backend.command("lambda")
@click.option("--function-arn", required=True, metavar="ARN", help="The Lambda function the trigger invokes.")
@click.pass_context
def use_lambda(ctx: click.Context, function_arn: str) -> None:
    """Make the trigger call the Lambda function through lambda_sync (Aurora MySQL, or `fibtrigger local up`)."""
    url = database_url(url_of(ctx))
    _report(url, backends.use_lambda(url, function_arn))


@backend.command("sql")
@click.pass_context
def use_sql(ctx: click.Context) -> None:
    """Make the trigger compute with fibcomp in the database (the default)."""
    url = database_url(url_of(ctx))
    _report(url, backends.use_sql(url))


def _report(url, result: backends.SwapResult) -> None:
    if result.changed:
        click.echo(f"{masked(url)}: backend {result.before} -> {result.after}")
    else:
        click.echo(f"{masked(url)}: backend already {result.after}")
