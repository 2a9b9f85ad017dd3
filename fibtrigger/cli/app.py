"""The root command group and the options commands share. Sub-modules attach their commands to ``cli``."""

from collections.abc import Callable

import click

from ..config import DATABASE_URL_ENV

DATABASE_URL_HELP = f"Database URL (default: ${DATABASE_URL_ENV}, else sqlite:///fibtrigger.db)."


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fibtrigger", prog_name="fibtrigger", message="%(prog)s %(version)s")
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
            return value
        current = current.parent
    return None
