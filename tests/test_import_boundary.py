"""The one-way house: the core never loads the local emulation or the AWS code, `import fibtrigger`
loads neither boto3, Alembic nor click, and each CLI command loads only what it uses."""

import json
import subprocess
import sys

import click
import pytest

from fibtrigger.cli.app import COMMANDS, SHORT_HELP, cli

CORE = [
    "fibtrigger",
    "fibtrigger.errors",
    "fibtrigger.arn",
    "fibtrigger.config",
    "fibtrigger.database",
    "fibtrigger.liveness",
    "fibtrigger.idle_connections",
    "fibtrigger.table",
    "fibtrigger.backend",
    "fibtrigger.migrate",
    "fibtrigger.doctor",
    "fibtrigger.check",
    "fibtrigger.grants",
    "fibtrigger.queue",
    "fibtrigger.queue_defaults",
    "fibtrigger.repair",
    "fibtrigger.bundled",
    "fibtrigger.schema",
    "fibtrigger.schema.mysql",
    "fibtrigger.schema.sqlite",
    "fibtrigger.schema.objects",
]
OUTSIDE_THE_CORE = ("fibtrigger.local", "fibtrigger.aws", "fibtrigger.cli")


def loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def top_level(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_the_core_loads_no_local_emulation_aws_code_or_cli():
    modules = loaded_after("\n".join(f"import {name}" for name in CORE))
    assert {name for name in modules if name.startswith(OUTSIDE_THE_CORE)} == set()
    assert {"boto3", "botocore", "click"}.isdisjoint(top_level(modules))


def test_import_fibtrigger_loads_neither_boto3_alembic_nor_click():
    modules = top_level(loaded_after("import fibtrigger"))
    assert {"boto3", "botocore", "alembic", "click"}.isdisjoint(modules)


def test_the_facade_loads_no_alembic_until_it_migrates():
    modules = top_level(loaded_after("from fibtrigger import FibonacciTable, compute"))
    assert "sqlalchemy" in modules and {"alembic", "boto3", "click"}.isdisjoint(modules)


def command_loads(*argv: str) -> set[str]:
    code = f"import sys\nfrom fibtrigger.cli import main\nmain({list(argv)!r})"
    return loaded_after(code)


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["aws", "--help"], ["local", "--help"]])
def test_help_and_version_load_no_library_behind_the_commands(argv):
    modules = command_loads(*argv)
    assert {"sqlalchemy", "alembic", "boto3", "botocore", "pymysql"}.isdisjoint(top_level(modules))
    assert "http.server" not in modules
    if len(argv) == 1:  # the top level lists its commands without loading any of their modules
        loaded_later = ("fibtrigger.local.", "fibtrigger.aws.", "fibtrigger.grants")
        assert not any(name.startswith(loaded_later) for name in modules)
        command_modules = {target.partition(":")[0] for target in COMMANDS.values()}
        assert command_modules.isdisjoint(modules)


def test_the_root_listing_shows_each_commands_own_short_help():
    for name in COMMANDS:
        command = cli.get_command(click.Context(cli), name)
        assert command is not None and command.short_help == SHORT_HELP[name], name
    assert set(SHORT_HELP) == set(COMMANDS)


def test_each_command_loads_what_it_uses(tmp_path):
    package = command_loads("lambda", "package", "-o", str(tmp_path / "function.zip"))
    assert {"sqlalchemy", "boto3", "alembic"}.isdisjoint(top_level(package))
    assert not any(name.startswith(("fibtrigger.local", "fibtrigger.cli.aws_commands")) for name in package)
    grants = command_loads("grants", "--user", "app", "--schema", "app")
    assert {"boto3", "alembic", "http"}.isdisjoint(top_level(grants))
    assert not any(name.startswith(("fibtrigger.local", "fibtrigger.aws")) for name in grants)
