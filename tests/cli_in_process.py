"""Run `fibtrigger ARGS` in this process through the CLI's own entry point (its error handling
included), with click's CliRunner isolation: fast enough for every input-validation case."""

from dataclasses import dataclass

from click.testing import CliRunner

from fibtrigger.cli import main


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


def fibtrigger(*args: str, input: str | None = None, env: dict | None = None) -> Done:
    environment = {"FIBTRIGGER_DATABASE_URL": None, **(env or {})}
    with CliRunner().isolation(input=input, env=environment) as streams:
        code = main(list(args))
    return Done(code, streams[0].getvalue().decode(), streams[1].getvalue().decode())


def one_line_error(done: Done, code: int) -> str:
    """The error line of a failed run: exit code as given, nothing on stdout, one line, no traceback."""
    assert done.returncode == code, done
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
    return done.stderr.strip()
