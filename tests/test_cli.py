"""The `fibtrigger` command: a real subprocess the way a user runs it for the flows, in process
(cli_in_process) for the many input-validation cases."""

import os
import subprocess
import sys

import pytest

from cli_in_process import fibtrigger
from fibtrigger.cli.core import render_table

PASSWORD = "Recognisable-Pa55word"


def run(*args, url=None, cwd=None):
    env = {k: v for k, v in os.environ.items() if k != "FIBTRIGGER_DATABASE_URL"}
    if url is not None:
        env["FIBTRIGGER_DATABASE_URL"] = str(url)
    return subprocess.run(
        [sys.executable, "-c", "from fibtrigger.cli import run; run()", *args],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=60,
    )


def assert_one_line_error(done, code):
    assert done.returncode == code, (done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def test_demo_flow_on_the_default_sqlite(tmp_path):
    assert run("migrate", cwd=tmp_path).returncode == 0
    done = run("compute", "0", "10", "92", cwd=tmp_path)
    assert done.stdout.split() == ["0", "55", "7540113804746346429"]
    table = run("table", cwd=tmp_path)
    assert table.stdout.splitlines() == [
        "+-----+---------------------+",
        "| fib | value               |",
        "+-----+---------------------+",
        "|   0 |                   0 |",
        "|  10 |                  55 |",
        "|  92 | 7540113804746346429 |",
        "+-----+---------------------+",
    ]


@pytest.mark.parametrize("argument", ["-1", "93", "1.5", "abc", "1e3", "", "99999999999999999999999999999"])
def test_bad_input_is_one_line_exit_2(tmp_path, argument):
    url = f"sqlite:///{tmp_path / 'f.db'}"
    line = assert_one_line_error(fibtrigger("compute", "1", argument, "--database-url", url), 2)
    assert "fib must be" in line
    assert fibtrigger("table", "--json", "--database-url", url).stdout.strip() == "[]"  # nothing stored


def test_usage_errors_are_one_line_exit_2():
    assert_one_line_error(fibtrigger("grants"), 2)
    assert_one_line_error(fibtrigger("no-such-command"), 2)


def test_unreachable_database_is_one_line_exit_1_without_password(tmp_path):
    line = assert_one_line_error(run("compute", "5", url=f"mysql+pymysql://app:{PASSWORD}@127.0.0.1:1/fib"), 1)
    assert "127.0.0.1:1" in line and PASSWORD not in line


def test_doctor_masks_the_password_and_reports_failure():
    done = fibtrigger("doctor", env={"FIBTRIGGER_DATABASE_URL": f"mysql+pymysql://app:{PASSWORD}@127.0.0.1:1/fib"})
    assert done.returncode == 1
    assert "app:***@127.0.0.1:1/fib" in done.stdout
    assert PASSWORD not in done.stdout + done.stderr


def test_grants():
    run = fibtrigger
    migrator = run("grants", "--user", "mig", "--host", "10.0.0.%", "--role", "migrator", "--schema", "app")
    assert migrator.stdout.strip() == (
        "GRANT CREATE, DROP, ALTER, TRIGGER, CREATE ROUTINE, ALTER ROUTINE, EXECUTE, LOCK TABLES, "
        "SELECT, INSERT, UPDATE, DELETE ON `app`.* TO 'mig'@'10.0.0.%';"
    )
    caller = run("grants", "--user", "app", "--schema", "app")
    assert caller.stdout.strip() == "GRANT INSERT, SELECT ON `app`.`fibonacci` TO 'app'@'%';"
    assert_one_line_error(run("grants", "--user", "x'; DROP TABLE t; --", "--schema", "app"), 2)
    assert_one_line_error(run("grants", "--user", "app"), 2)  # SQLite URL: no schema


@pytest.mark.mysql
def test_mysql_commands(empty_mysql_url):
    url = empty_mysql_url.set(password=None)

    def run(*args, url):
        return fibtrigger(*args, env={"FIBTRIGGER_DATABASE_URL": url})

    line = assert_one_line_error(run("compute", "3", url=url.render_as_string(False)), 2)
    assert "fibtrigger migrate" in line
    doctor = run("doctor", url=url.render_as_string(False))
    assert doctor.returncode == 1 and "FAIL schema revision" in doctor.stdout
    assert run("migrate", url=url.render_as_string(False)).returncode == 0
    assert run("compute", "10", "312", url=url.render_as_string(False)).stdout.split()[0] == "55"
    doctor = run("doctor", url=url.render_as_string(False))
    assert doctor.returncode == 0, doctor.stdout
    assert "MariaDB" in doctor.stdout or "MySQL" in doctor.stdout
    assert "function fibcomp" in doctor.stdout
    assert "|  10 |" in run("table", url=url.render_as_string(False)).stdout
    grants = run("grants", "--user", "app", url=url.render_as_string(False))
    assert f"`{url.database}`.`fibonacci`" in grants.stdout


def test_render_table_matches_the_mysql_client_layout():
    rule = "+-----+-------+"
    assert render_table([(0, 0), (10, 55)]).splitlines() == [
        rule, "| fib | value |", rule, "|   0 |     0 |", "|  10 |    55 |", rule
    ]
    assert render_table([]).splitlines() == [rule, "| fib | value |", rule]
