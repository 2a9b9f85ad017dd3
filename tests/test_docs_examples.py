"""Every example output in the README and docs/ that needs no server or cloud is real: these tests
run the documented commands and compare what they print with what the page shows. The MySQL
quickstart runs verbatim too, with the mariadb client, under unique names."""

import doctest
import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from fibtrigger.aws import package
from fibtrigger.cli import main

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Where the README's SQLite example ran; the test runs it in a temporary directory instead.
EXAMPLE_DIRECTORY = "/home/you/fibtrigger"


def console_examples(markdown: str) -> list[tuple[str, str]]:
    """(command, expected output) for each `$ ` line of the console blocks."""
    examples: list[tuple[str, str]] = []
    for block in re.findall(r"```console\n(.*?)```", markdown, re.S):
        command, output = None, []
        for line in block.splitlines():
            if line.startswith("$ "):
                if command is not None:
                    examples.append((command, "\n".join(output)))
                command, output = line[2:], []
            elif command is not None:
                output.append(line)
        if command is not None:
            examples.append((command, "\n".join(output)))
    return examples


def run_in_process(command: str, cwd: Path) -> str:
    """`[echo WORDS |] fibtrigger ARGS` through the CLI's entry point; stdout and stderr as a terminal shows them."""
    stdin = None
    if "|" in command:
        producer, command = (part.strip() for part in command.split("|", 1))
        stdin = " ".join(shlex.split(producer)[1:]) + "\n"
    words = shlex.split(command, comments=True)
    assert words[0] == "fibtrigger", command
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with CliRunner().isolation(input=stdin, env={"FIBTRIGGER_DATABASE_URL": None}) as streams:
            main(words[1:])
    finally:
        os.chdir(old)
    return (streams[0].getvalue() + streams[1].getvalue()).decode().rstrip("\n")


def serverless(command: str) -> bool:
    """Examples whose output depends on nothing but this checkout."""
    return command.startswith(("fibtrigger grants ", "fibtrigger lambda package")) and "|" not in command


SERVERLESS = [
    pytest.param(command, output, id=f"{page.name}: {command[:60]}")
    for page in PAGES
    for command, output in console_examples(page.read_text(encoding="utf-8"))
    if serverless(command)
]


def test_the_pages_show_serverless_examples():
    commands = [param.values[0] for param in SERVERLESS]
    assert any(c.startswith("fibtrigger lambda package") for c in commands)
    assert sum(c.startswith("fibtrigger grants") for c in commands) >= 3


def test_every_package_size_the_pages_name_is_the_real_one(tmp_path):
    size = package.write(tmp_path / "function.zip").size
    for page in PAGES:
        for shown in re.findall(r"package (\d+) bytes|function\.zip: (\d+) bytes", page.read_text(encoding="utf-8")):
            assert int("".join(shown)) == size, f"docs/{page.name} names an old package size: it is {size} bytes"


@pytest.mark.parametrize(("command", "expected"), SERVERLESS)
def test_a_serverless_example_prints_what_the_page_shows(command, expected, tmp_path):
    assert run_in_process(command, tmp_path) == expected, "paste the real output into the page"


def test_the_readme_sqlite_quickstart_prints_what_it_shows(tmp_path):
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Quickstart: SQLite")[1].split("\n## ")[0]
    examples = console_examples(section)
    assert [command for command, _ in examples][:2] == [
        "python3 -m venv .venv && . .venv/bin/activate && pip install -e .",
        "fibtrigger migrate",
    ]
    for command, expected in examples[1:]:
        shown = run_in_process(command, tmp_path).replace(str(tmp_path), EXAMPLE_DIRECTORY)
        assert shown == expected, command


@pytest.mark.mysql
def test_the_readme_mysql_quickstart_runs_verbatim(mysql_server_url):
    """The six commands with the mariadb client, as the README shows them, under unique names."""
    client = shutil.which("mariadb") or shutil.which("mysql")
    server = make_url(str(mysql_server_url))
    if client is None or (server.host, server.port, server.username, server.password) != (
        "127.0.0.1", 3306, "root", None
    ):
        pytest.skip("the README's commands name root@127.0.0.1:3306 and the mariadb client")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quickstart: MySQL or MariaDB")[1].split("\n## ")[0]
    blocks = re.findall(r"```console\n(.*?)```", section, re.S)
    tag = uuid.uuid4().hex[:8]
    database, migrator, caller = f"fibtrigger_qs_{tag}", f"fibtrigger_qsm_{tag}", f"fibtrigger_qsc_{tag}"
    replacements = [
        ("CREATE DATABASE app", f"CREATE DATABASE {database}"), ("'migrator'@", f"'{migrator}'@"),
        ("'app'@", f"'{caller}'@"), ("--user migrator", f"--user {migrator}"), ("--user app", f"--user {caller}"),
        ("--schema app", f"--schema {database}"), ("//migrator:", f"//{migrator}:"), ("//app:", f"//{caller}:"),
        ("3306/app", f"3306/{database}"), ("-u app -papp-secret app ", f"-u {caller} -papp-secret {database} "),
    ]
    commands, expected = [], []
    for line in "".join(blocks).splitlines():
        if line.startswith("$ "):
            commands.append(line[2:])
        elif line.startswith("    ") and commands[-1].count('"') % 2:
            commands[-1] += "\n" + line  # the continued CREATE statements
        else:
            expected.append(line)
    script = "\n".join(commands)
    for old, new in replacements:
        assert old in script, old
        script = script.replace(old, new)
    env = {k: v for k, v in os.environ.items() if k != "FIBTRIGGER_DATABASE_URL"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    try:
        done = subprocess.run(
            ["bash", "-e", "-c", script], capture_output=True, text=True, env=env, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        shown = done.stdout.replace(database, "app").replace(migrator, "migrator").replace(caller, "app")
        assert shown.splitlines() == expected
    finally:
        subprocess.run(
            [client, "-h", "127.0.0.1", "-u", "root", "-e",
             f"DROP DATABASE IF EXISTS {database}; DROP USER IF EXISTS '{migrator}'@'%';"
             f" DROP USER IF EXISTS '{caller}'@'%'"],
            check=True, timeout=60,
        )


@pytest.mark.mysql
def test_the_readme_python_session_prints_what_it_shows(mysql_url, monkeypatch):
    """The README's >>> lines, run by doctest against a migrated MySQL-family database."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    session = readme.split("## Python")[1].split("```python\n")[1].split("```")[0]
    test = doctest.DocTestParser().get_doctest(session, {}, "README.md: Python", "README.md", 0)
    assert len(test.examples) >= 4
    monkeypatch.setenv("FIBTRIGGER_DATABASE_URL", mysql_url.render_as_string(hide_password=False))
    runner = doctest.DocTestRunner()
    failures: list[str] = []
    runner.run(test, out=failures.append)
    assert runner.summarize(verbose=False).failed == 0, "".join(failures)
