"""The root command group and the options commands share.

Each command lives in a module of this package and is imported only when it runs:
``COMMANDS`` names where each one is, after click's LazyGroup pattern, and ``SHORT_HELP`` holds
the line ``fibtrigger --help`` lists for it (each command declares the same text as its
``short_help``), so that listing them imports none. The command modules import the library
inside their command functions, so that a command loads what it uses.
"""

import importlib
from collections.abc import Callable

import click

from .. import __version__
from ..config import DATABASE_URL_ENV, DEFAULT_URL

DATABASE_URL_HELP = f"Database URL (default: ${DATABASE_URL_ENV}, else {DEFAULT_URL})."

COMMANDS = {
    "migrate": "fibtrigger.cli.core:migrate",
    "compute": "fibtrigger.cli.core:compute",
    "table": "fibtrigger.cli.core:table",
    "grants": "fibtrigger.cli.core:grants",
    "doctor": "fibtrigger.cli.core:doctor",
    "check": "fibtrigger.cli.check_commands:check",
    "backend": "fibtrigger.cli.backend_commands:backend",
    "local": "fibtrigger.cli.groups:local",
    "lambda": "fibtrigger.cli.lambda_commands:lambda_group",
    "invoke": "fibtrigger.cli.lambda_commands:invoke",
    "aws": "fibtrigger.cli.groups:aws_group",
    "worker": "fibtrigger.cli.queue_commands:worker",
    "queue": "fibtrigger.cli.queue_commands:queue",
}
# The root listing's text for each command: the commands use it as their short_help too.
SHORT_HELP = {
    "migrate": "Upgrade the schema to head (table, fibcomp, triggers).",
    "compute": "Insert each N into `fibonacci` and print the value stored.",
    "table": "Print every row of `fibonacci`, oldest first.",
    "grants": "Print least-privilege GRANT statements for a role.",
    "doctor": "Check the URL, server, schema and backend; make a test call.",
    "check": "Compare the live schema with revision head's; print each drift.",
    "backend": "Show the triggers' backend (sql, lambda, queue), or swap it.",
    "local": "The Lambda path on this machine: MariaDB, lambda_sync, the service.",
    "lambda": "The Lambda function: build its package, or serve it locally.",
    "invoke": "Compute F(N) with the Lambda function and print the value.",
    "aws": "Deploy the Lambda function and its IAM-authorized API to AWS.",
    "worker": "Compute the queue backend's waiting rows, a batch per call.",
    "queue": "The queue backend's rows: what waits, what failed; re-drive them.",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported from ``module:attribute`` on first use."""

    def __init__(
        self,
        *args,
        lazy_subcommands: dict[str, str] | None = None,
        lazy_short_help: dict[str, str] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = dict(lazy_subcommands or {})
        self.lazy_short_help = dict(lazy_short_help or {})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands; those with a ``lazy_short_help`` line are listed without importing them."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names), default=0)  # as click.Group does
        rows = []
        for name in names:
            if name in self.lazy_short_help and name not in self.commands:
                rows.append((name, self.lazy_short_help[name]))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_subcommands:
            return self._load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def _load(self, cmd_name: str) -> click.Command:
        module_name, _, attribute = self.lazy_subcommands[cmd_name].partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}:{attribute} is not a click command")
        return command


@click.group(
    cls=LazyGroup,
    lazy_subcommands=COMMANDS,
    lazy_short_help=SHORT_HELP,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="fibtrigger", message="%(prog)s %(version)s")
@click.option("--database-url", envvar=DATABASE_URL_ENV, metavar="URL", help=DATABASE_URL_HELP)
def cli(database_url: str | None) -> None:
    """fibtrigger: insert an argument into `fibonacci`, a trigger stores F(n).

    Shell completion: eval "$(_FIBTRIGGER_COMPLETE=bash_source fibtrigger)" (zsh_source, fish_source).
    """


def database_url_option(command: Callable) -> Callable:
    """--database-url on a command too, so that it works before or after the arguments."""
    return click.option("--database-url", metavar="URL", help=DATABASE_URL_HELP)(command)


def json_option(command: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout (errors stay on stderr).")(
        command
    )


def url_of(ctx: click.Context) -> str | None:
    """The nearest --database-url: the command's own, else its group's, else the root's (or the variable)."""
    current: click.Context | None = ctx
    while current is not None:
        value = current.params.get("database_url")
        if value is not None:
            if current.get_parameter_source("database_url") is click.core.ParameterSource.ENVIRONMENT:
                return None  # the library reads the variable itself, and names it in its errors
            return value
        current = current.parent
    return None
