"""The root command group. Sub-modules attach their commands to ``cli``."""

import click

from ..config import DATABASE_URL_ENV


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--database-url",
    envvar=DATABASE_URL_ENV,
    metavar="URL",
    help=f"Database URL (default: ${DATABASE_URL_ENV}, else sqlite:///fibtrigger.db).",
)
@click.pass_context
def cli(ctx: click.Context, database_url: str | None) -> None:
    """fibtrigger: insert an argument into `fibonacci`, a trigger stores F(n)."""
    ctx.obj = {"url": database_url}


def url_of(ctx: click.Context) -> str | None:
    return ctx.find_root().obj["url"]
