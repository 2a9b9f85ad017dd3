"""The command groups whose commands load heavy modules (the local stack, the AWS code): each group
is defined here, light, and loads its commands' module only when one of them runs or is listed."""

import click

from .app import SHORT_HELP, LazyGroup


@click.group(
    short_help=SHORT_HELP["local"],
    cls=LazyGroup,
    lazy_subcommands={name: f"fibtrigger.cli.local_commands:{name}" for name in ("up", "down", "status")},
)
def local() -> None:
    """The Lambda path on this machine: MariaDB + local lambda_sync + the local Lambda service."""


@click.group(
    "aws",
    short_help=SHORT_HELP["aws"],
    cls=LazyGroup,
    lazy_subcommands={
        name: f"fibtrigger.cli.aws_commands:{name}" for name in ("plan", "deploy", "destroy", "template")
    },
)
def aws_group() -> None:
    """Deploy the Lambda function, an IAM-authorized API and Aurora's access to AWS."""
