"""The `fibtrigger` command: a thin layer over the library, one module per command group."""

import sys

import click

from ..errors import (
    ClusterNotFound,
    ConfigurationError,
    FibtriggerError,
    InvalidArgument,
    LambdaSyncUnavailable,
    ResourceNotOwned,
    SchemaNotInstalled,
    UnsupportedCluster,
)
from .app import cli

BAD_INPUT_EXIT = 2
# What `pip install fibtrigger` leaves out and the aws extra brings.
AWS_EXTRA_MODULES = frozenset({"boto3", "botocore", "yaml"})
OTHER_ERROR_EXIT = 1

# Exit codes by error class, the nearest class in an error's MRO deciding: 2 for bad input or
# setup the user must fix (argument, URL, schema, grants, cluster), 1 for everything else.
EXIT_CODES: dict[type[FibtriggerError], int] = {
    InvalidArgument: BAD_INPUT_EXIT,
    ConfigurationError: BAD_INPUT_EXIT,
    SchemaNotInstalled: BAD_INPUT_EXIT,
    LambdaSyncUnavailable: BAD_INPUT_EXIT,
    ClusterNotFound: BAD_INPUT_EXIT,
    ResourceNotOwned: BAD_INPUT_EXIT,
    UnsupportedCluster: BAD_INPUT_EXIT,
}


def exit_code_of(error: FibtriggerError) -> int:
    for cls in type(error).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return OTHER_ERROR_EXIT


INTERRUPTED_EXIT = 130  # 128 + SIGINT, as shells report it


def main(argv: list[str] | None = None) -> int:
    """Entry point: every error is one line on stderr; 2 for bad input, 1 otherwise, 130 for Ctrl-C."""
    try:
        # Not cli.main(): it turns Ctrl-C into Abort after printing a blank line of its own.
        args = sys.argv[1:] if argv is None else list(argv)
        with cli.make_context("fibtrigger", args) as ctx:
            code = cli.invoke(ctx)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.exceptions.Abort:
        click.echo("fibtrigger: aborted", err=True)
        return 1
    except click.exceptions.NoArgsIsHelpError as error:  # a bare group: its help, as it is
        click.echo(error.format_message(), err=True)
        return BAD_INPUT_EXIT
    except click.UsageError as error:
        click.echo(f"fibtrigger: {error.format_message()}", err=True)
        return BAD_INPUT_EXIT
    except click.ClickException as error:
        click.echo(f"fibtrigger: {error.format_message()}", err=True)
        return error.exit_code
    except FibtriggerError as error:
        click.echo(f"fibtrigger: {_one_line(error)}", err=True)
        return exit_code_of(error)
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in AWS_EXTRA_MODULES:
            raise
        click.echo(f"fibtrigger: this command needs {error.name}: pip install 'fibtrigger[aws]'", err=True)
        return BAD_INPUT_EXIT
    except KeyboardInterrupt:
        click.echo("fibtrigger: interrupted", err=True)
        return INTERRUPTED_EXIT
    except Exception as error:  # noqa: BLE001 - the promise: one line, never a traceback
        # Only the type: the message of an error nobody foresaw might hold a secret.
        click.echo(
            f"fibtrigger: unexpected {type(error).__name__}: a fibtrigger bug; "
            "please report it with the command that caused it",
            err=True,
        )
        return 1
    return code if isinstance(code, int) else 0


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def run() -> None:
    sys.exit(main())


__all__ = ["EXIT_CODES", "cli", "exit_code_of", "main", "run"]
