"""`fibtrigger local up|down|status`: a private mariadbd with lambda_sync, and the local Lambda service."""

import click

from ..local import servers as local_stack

_STATE_DIR = click.option(
    "--state-dir",
    envvar=local_stack.STATE_DIR_ENV,
    metavar="DIR",
    help=f"Where the stack keeps its datadir, logs and PIDs (default: ${local_stack.STATE_DIR_ENV}, "
    f"else ./{local_stack.DEFAULT_STATE_DIR}).",
)


@click.command()
@_STATE_DIR
@click.option("--db-port", type=click.IntRange(0, 65535), default=local_stack.DEFAULT_DB_PORT, show_default=True,
              help="mariadbd's TCP port (0: a free one).")
@click.option("--lambda-port", type=click.IntRange(0, 65535), default=local_stack.DEFAULT_LAMBDA_PORT,
              show_default=True, help="The Lambda service's port (0: a free one).")
@click.option("--lambda-timeout-ms", type=click.IntRange(1), default=None,
              help="Longest a lambda_sync call may take (default 60000).")
def up(state_dir: str | None, db_port: int, lambda_port: int, lambda_timeout_ms: int | None) -> None:
    """Start the stack (building lambda_sync if needed); print the variables to export."""
    stack = local_stack.up(state_dir, db_port=db_port, lambda_port=lambda_port, lambda_timeout_ms=lambda_timeout_ms)
    click.echo(f"mariadbd pid {stack.mariadbd_pid}, lambda_sync from {stack.udf_library}, "
               f"Lambda service pid {stack.lambda_pid}; state in {stack.state_dir}", err=True)
    click.echo(stack.exports())


@click.command()
@_STATE_DIR
def down(state_dir: str | None) -> None:
    """Stop mariadbd and the Lambda service (the data stays for the next `up`)."""
    stopped = local_stack.down(state_dir)
    click.echo("stopped " + ", ".join(stopped) if stopped else "nothing was running")


@click.command()
@_STATE_DIR
def status(state_dir: str | None) -> None:
    """Show mariadbd and the Lambda service: PID, endpoint and what they answer. Exit 1 if one is down."""
    components = local_stack.status(state_dir)
    if not components:
        click.echo(f"no local stack in {local_stack.state_dir(state_dir)}: run `fibtrigger local up`")
        raise click.exceptions.Exit(1)
    for component in components:
        if component.running:
            click.echo(f"{component.name:<8} pid {component.pid:<6} {component.endpoint}  {component.detail}")
        else:
            click.echo(f"{component.name:<8} stopped    {component.endpoint}")
    if not all(component.running for component in components):
        raise click.exceptions.Exit(1)
