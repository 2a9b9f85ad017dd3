"""Core commands: migrate, compute, table, grants, doctor."""

import click

from fibtrigger.lambda_function.contract import ArgumentError, parse_fib_text

from .. import doctor as doctor_checks
from .. import grants as grant_roles
from .. import migrate as migrations
from ..config import database_url, masked
from ..errors import ConfigurationError, InvalidArgument, ResultOutOfRange
from ..table import default_table
from .app import cli, url_of


@cli.command()
@click.option(
    "--sql",
    "as_sql",
    is_flag=True,
    help="Print the upgrade as a SQL script for the mysql/mariadb client instead of running it (no connection).",
)
@click.pass_context
def migrate(ctx: click.Context, as_sql: bool) -> None:
    """Upgrade the schema to head (table, fibcomp, triggers)."""
    url = database_url(url_of(ctx))
    if as_sql:
        click.echo(migrations.upgrade_sql(url), nl=False)
        return
    revision = migrations.upgrade(url)
    click.echo(f"{masked(url)} is at revision {revision}")


# ignore_unknown_options lets "-1" reach the argument check instead of reading as a flag.
@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("numbers", nargs=-1, required=True, metavar="N [N ...]")
@click.pass_context
def compute(ctx: click.Context, numbers: tuple[str, ...]) -> None:
    """Insert each N into `fibonacci` and print the value the trigger stored, one per line."""
    table = default_table(url_of(ctx))
    arguments = []
    for text in numbers:
        try:
            arguments.append(parse_fib_text(text, table.limit))
        except ArgumentError as error:
            raise (ResultOutOfRange if error.out_of_range else InvalidArgument)(str(error)) from None
    values = table.compute_many(arguments) if len(arguments) > 1 else [table.compute(arguments[0])]
    for value in values:
        click.echo(value)


def render_table(rows: list[tuple[int, int]]) -> str:
    """Rows as the MySQL client shows them: a header, then right-aligned columns."""
    cells = [("fib", "value")] + [(str(fib), str(value)) for fib, value in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(2)]
    return "\n".join(f"| {row[0]:>{widths[0]}} | {row[1]:>{widths[1]}} |" for row in cells)


@cli.command()
@click.pass_context
def table(ctx: click.Context) -> None:
    """Print every row of `fibonacci`."""
    click.echo(render_table(default_table(url_of(ctx)).rows()))


@cli.command()
@click.option("--user", required=True, help="The MySQL account's user name.")
@click.option("--host", default="%", show_default=True, help="The MySQL account's host.")
@click.option(
    "--role",
    type=click.Choice(grant_roles.ROLES),
    default="caller",
    show_default=True,
    help="migrator: what Alembic needs; caller: INSERT and SELECT on fibonacci.",
)
@click.option("--schema", help="The database (default: the one in the database URL).")
@click.pass_context
def grants(ctx: click.Context, user: str, host: str, role: str, schema: str | None) -> None:
    """Print least-privilege GRANT statements for a role."""
    if schema is None:
        url = database_url(url_of(ctx))
        if url.get_backend_name() == "sqlite" or not url.database:
            raise ConfigurationError(
                "grants are for MySQL: pass --schema NAME or set FIBTRIGGER_DATABASE_URL to a mysql URL"
            )
        schema = url.database
    for statement in grant_roles.grant_statements(role, user, host, schema):
        click.echo(statement)


@cli.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Check connectivity, server, schema revision, fibcomp, triggers and binary logging."""
    checks = doctor_checks.diagnose(url_of(ctx))
    for check in checks:
        mark = "ok  " if check.ok else "FAIL"
        line = f"{mark} {check.name}: {check.detail}"
        if check.fix:
            line += f" -> {check.fix}"
        click.echo(line)
    if not all(check.ok for check in checks):
        raise click.exceptions.Exit(1)
