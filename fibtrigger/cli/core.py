"""Core commands: migrate, compute, table, grants, doctor."""

import json
import sys

import click

from .. import grants as grant_roles
from ..config import database_url as parse_database_url
from ..config import masked
from ..errors import ConfigurationError, argument_error
from .app import SHORT_HELP, database_url_option, json_option, url_of

STDIN = "-"


@click.command(short_help=SHORT_HELP["migrate"])
@click.option(
    "--sql",
    "as_sql",
    is_flag=True,
    help="Print the upgrade as a SQL script for the mysql/mariadb client instead of running it (no connection).",
)
@click.option(
    "--repair",
    is_flag=True,
    help="At head: reinstall the functions and triggers (keeping the backend) and renumber the hidden ids "
    "if their counter nears its end.",
)
@database_url_option
@click.pass_context
def migrate(ctx: click.Context, as_sql: bool, repair: bool, database_url: str | None) -> None:
    """Upgrade the schema to head (table, fibcomp, triggers)."""
    from .. import migrate as migrations

    if as_sql:
        click.echo(migrations.upgrade_sql(parse_database_url(url_of(ctx))), nl=False)
        return
    url = database_url_of(ctx)
    if repair:
        from .. import repair as schema_repair

        for line in schema_repair.repair(url):
            click.echo(f"{masked(url)}: {line}")
        return
    revision = migrations.upgrade(url)
    click.echo(f"{masked(url)} is at revision {revision}")


def database_url_of(ctx: click.Context):
    """The parsed URL; a MySQL URL must name its database (the schema lives in one)."""
    url = parse_database_url(url_of(ctx))
    if url.get_backend_name() != "sqlite" and not url.database:
        raise ConfigurationError(
            f"{masked(url)} names no database: add it, e.g. mysql+pymysql://user:password@host:3306/app"
        )
    return url


def fib_arguments(texts: list[str], limit: int) -> list[int]:
    """Each text as a checked argument; a text that looks like an option is a usage error."""
    from fibtrigger.lambda_function.contract import ArgumentError, parse_fib_text

    arguments = []
    for text in texts:
        if text.startswith("-") and not text[1:2].isdigit():
            raise click.NoSuchOption(text)
        try:
            arguments.append(parse_fib_text(text, limit))
        except ArgumentError as error:
            raise argument_error(error) from None
    return arguments


def rows_as_json(rows: list[tuple[int, int | None]]) -> str:
    """value as a string of digits, as the Lambda answers: exact in every JSON parser; null while queued."""
    return json.dumps([{"fib": fib, "value": None if value is None else str(value)} for fib, value in rows])


# ignore_unknown_options lets "-1" reach the argument check instead of reading as a flag.
@click.command(context_settings={"ignore_unknown_options": True}, short_help=SHORT_HELP["compute"])
@click.argument("numbers", nargs=-1, metavar="N [N ...]")
@database_url_option
@json_option
@click.pass_context
def compute(ctx: click.Context, numbers: tuple[str, ...], database_url: str | None, as_json: bool) -> None:
    """Insert each N into `fibonacci` and print the value the trigger stored, one per line.

    N is an integer, or - to read whitespace-separated integers from standard input.
    """
    if not numbers:
        click.echo(ctx.get_help(), err=True)
        ctx.exit(2)
    texts: list[str] = []
    for text in numbers:
        texts.extend(sys.stdin.read().split() if text == STDIN else [text])
    if not texts:
        raise click.UsageError("no numbers on standard input")
    from ..table import default_table

    table = default_table(database_url_of(ctx))
    arguments = fib_arguments(texts, table.limit)
    values = table.compute_many(arguments) if len(arguments) > 1 else [table.compute(arguments[0])]
    if as_json:
        click.echo(rows_as_json(list(zip(arguments, values, strict=True))))
        return
    for value in values:
        click.echo(value)


def render_table(rows: list[tuple[int, int | None]]) -> str:
    """Rows as the MySQL client shows them: ruled, a header, right-aligned numbers, NULL while queued."""
    cells = [(str(fib), "NULL" if value is None else str(value)) for fib, value in rows]
    widths = [max(len(row[i]) for row in [("fib", "value"), *cells]) for i in range(2)]
    rule = f"+-{'-' * widths[0]}-+-{'-' * widths[1]}-+"
    header = f"| {'fib':<{widths[0]}} | {'value':<{widths[1]}} |"
    body = [f"| {fib:>{widths[0]}} | {value:>{widths[1]}} |" for fib, value in cells]
    return "\n".join([rule, header, rule, *body, rule] if body else [rule, header, rule])


@click.command(short_help=SHORT_HELP["table"])
@database_url_option
@json_option
@click.pass_context
def table(ctx: click.Context, database_url: str | None, as_json: bool) -> None:
    """Print every row of `fibonacci`, oldest first."""
    from ..table import default_table

    rows = default_table(database_url_of(ctx)).rows()
    click.echo(rows_as_json(rows) if as_json else render_table(rows))


@click.command(short_help=SHORT_HELP["grants"])
@click.option("--user", required=True, help="The MySQL account's user name (create it first: CREATE USER).")
@click.option("--host", default="%", show_default=True, help="The MySQL account's host.")
@click.option(
    "--role",
    type=click.Choice(grant_roles.ROLES),
    default="caller",
    show_default=True,
    help="migrator: what Alembic needs; caller: INSERT and SELECT on fibonacci; worker: `fibtrigger worker`; "
    "lambda-definer: what the triggers' definer needs for lambda_sync on Aurora.",
)
@click.option("--schema", help="The database (default: the one in the database URL).")
@database_url_option
@click.pass_context
def grants(ctx: click.Context, user: str, host: str, role: str, schema: str | None, database_url: str | None) -> None:
    """Print least-privilege GRANT statements for a role (run CREATE USER first)."""
    if schema is None:
        url = database_url_of(ctx)
        if url.get_backend_name() == "sqlite":
            raise ConfigurationError(
                "grants are for MySQL: pass --schema NAME or set FIBTRIGGER_DATABASE_URL to a mysql URL"
            )
        schema = url.database
    for statement in grant_roles.grant_statements(role, user, host, schema):
        click.echo(statement)


@click.command(short_help=SHORT_HELP["doctor"])
@database_url_option
@json_option
@click.pass_context
def doctor(ctx: click.Context, database_url: str | None, as_json: bool) -> None:
    """Check the URL, server, schema revision, fibcomp, triggers, binary logging and backend, then make
    a test call (an INSERT that is rolled back). Exit 1 if a check fails."""
    from .. import doctor as doctor_checks

    checks = doctor_checks.diagnose(url_of(ctx))
    ok = all(check.ok for check in checks)
    if as_json:
        fields = [{"name": c.name, "status": c.status, "detail": c.detail, "fix": c.fix or None} for c in checks]
        click.echo(json.dumps({"ok": ok, "checks": fields}))
    else:
        marks = {"ok": "ok  ", "fail": "FAIL", "skip": "skip"}
        for check in checks:
            line = f"{marks[check.status]} {check.name}: {check.detail}"
            if check.fix:
                line += f" -> {check.fix}"
            click.echo(line)
    if not ok:
        raise click.exceptions.Exit(1)
