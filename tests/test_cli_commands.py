"""The CLI's conventions, in process through click's CliRunner: --version, --json, stdin, options
after arguments, usage, doctor's test call and its caller account, and exit 2 for setup errors."""

import json
import uuid

import pytest
from sqlalchemy.engine import make_url

from cli_in_process import fibtrigger, one_line_error
from fibtrigger import migrate


def test_version():
    done = fibtrigger("--version")
    assert done.returncode == 0 and done.stdout.startswith("fibtrigger ") and done.stdout.split()[1][0].isdigit()


def test_a_bare_compute_prints_the_usage_and_exits_2():
    done = fibtrigger("compute")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("Usage: fibtrigger compute [OPTIONS] N [N ...]")


def test_the_database_url_option_works_before_and_after_the_arguments(tmp_path):
    first, second = f"sqlite:///{tmp_path / 'first.db'}", f"sqlite:///{tmp_path / 'second.db'}"
    assert fibtrigger("compute", "5", "--database-url", first).stdout == "5\n"
    assert fibtrigger("--database-url", second, "compute", "6", "7").stdout == "8\n13\n"
    assert json.loads(fibtrigger("table", "--json", "--database-url", first).stdout) == [{"fib": 5, "value": "5"}]
    # The command's own option wins over the group's (and the variable).
    done = fibtrigger("--database-url", first, "table", "--database-url", second, "--json")
    assert [row["fib"] for row in json.loads(done.stdout)] == [6, 7]


def test_compute_reads_numbers_from_standard_input(tmp_path):
    url = f"sqlite:///{tmp_path / 'f.db'}"
    done = fibtrigger("compute", "-", "10", "--json", "--database-url", url, input="3\n4 92\n")
    assert json.loads(done.stdout) == [
        {"fib": 3, "value": "2"}, {"fib": 4, "value": "3"}, {"fib": 92, "value": "7540113804746346429"},
        {"fib": 10, "value": "55"},
    ]
    assert "no numbers" in one_line_error(fibtrigger("compute", "-", "--database-url", url, input=" \n"), 2)
    assert "fib must be" in one_line_error(fibtrigger("compute", "-", "--database-url", url, input="3 x"), 2)


def test_errors_stay_one_line_on_stderr_with_json(tmp_path):
    url = f"sqlite:///{tmp_path / 'f.db'}"
    assert "between 0 and 92" in one_line_error(fibtrigger("compute", "93", "--json", "--database-url", url), 2)
    assert "--jsn" in one_line_error(fibtrigger("compute", "1", "--jsn", "--database-url", url), 2)
    assert json.loads(fibtrigger("table", "--json", "--database-url", url).stdout) == []


def test_table_has_a_header_rule(tmp_path):
    url = f"sqlite:///{tmp_path / 'f.db'}"
    fibtrigger("compute", "0", "92", "--database-url", url)
    assert fibtrigger("table", "--database-url", url).stdout.splitlines() == [
        "+-----+---------------------+",
        "| fib | value               |",
        "+-----+---------------------+",
        "|   0 |                   0 |",
        "|  92 | 7540113804746346429 |",
        "+-----+---------------------+",
    ]


def test_doctor_json_and_its_test_call_leave_the_table_unchanged(tmp_path):
    url = f"sqlite:///{tmp_path / 'f.db'}"
    fibtrigger("compute", "7", "--database-url", url)
    done = fibtrigger("doctor", "--json", "--database-url", url)
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report["ok"] is True
    statuses = {check["name"]: check["status"] for check in report["checks"]}
    assert statuses["test call"] == "ok" and set(statuses.values()) == {"ok"}
    assert json.loads(fibtrigger("table", "--json", "--database-url", url).stdout) == [{"fib": 7, "value": "13"}]


def test_a_mysql_url_without_a_database_is_named_as_the_problem():
    url = "mysql+pymysql://someone:Secret-Pa55@127.0.0.1:1/"
    for command in (["migrate"], ["compute", "1"], ["table"], ["backend"]):
        line = one_line_error(fibtrigger(*command, "--database-url", url), 2)
        assert "names no database" in line and "Secret-Pa55" not in line
    done = fibtrigger("doctor", "--database-url", url)
    assert done.returncode == 1 and "FAIL database URL" in done.stdout and "names no database" in done.stdout


@pytest.mark.mysql
def test_setup_errors_exit_2_and_say_what_to_do(empty_mysql_url):
    url = empty_mysql_url.render_as_string(hide_password=False)
    for command in (["compute", "3"], ["table"], ["backend"], ["backend", "--json"]):
        assert "fibtrigger migrate" in one_line_error(fibtrigger(*command, "--database-url", url), 2)
    migrate.upgrade(empty_mysql_url)
    arn = "arn:aws:lambda:us-east-1:000000000000:function:fibtrigger"
    line = one_line_error(fibtrigger("backend", "lambda", "--function-arn", arn, "--database-url", url), 2)
    assert "lambda_sync" in line and "fibtrigger local up" in line
    assert json.loads(fibtrigger("backend", "--json", "--database-url", url).stdout) == {
        "backend": "sql", "function_arn": None,
    }


@pytest.fixture
def caller_url(mysql_url, mysql_databases):
    """A caller account with exactly `fibtrigger grants --role caller`, dropped afterwards."""
    user, password = f"fibtrigger_caller_{uuid.uuid4().hex[:8]}", "Caller-Pa55"
    admin = mysql_databases.admin()
    grants = fibtrigger("grants", "--user", user, "--schema", mysql_url.database).stdout
    admin.cursor().execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
    admin.cursor().execute(grants)
    yield mysql_url.set(username=user, password=password).render_as_string(hide_password=False)
    admin.cursor().execute(f"DROP USER '{user}'@'%'")
    admin.close()


@pytest.mark.mysql
def test_doctor_works_for_the_caller_account_and_skips_what_it_may_not_read(caller_url, mysql_raw):
    before = _count(mysql_raw)
    done = fibtrigger("doctor", "--json", "--database-url", caller_url)
    report = json.loads(done.stdout)
    statuses = {check["name"]: check["status"] for check in report["checks"]}
    assert done.returncode == 0 and report["ok"], done
    assert statuses["schema revision"] == "skip" and statuses["backend"] == "skip"
    assert statuses["test call"] == "ok" and statuses["connect"] == "ok"
    assert _count(mysql_raw) == before  # the test call was rolled back
    text = fibtrigger("doctor", "--database-url", caller_url).stdout
    assert "skip schema revision: a caller account" in text and "Caller-Pa55" not in text
    # A missing grant is a setup error: exit 2, and the message names what prints the grants.
    line = one_line_error(fibtrigger("backend", "sql", "--database-url", caller_url), 2)
    assert "fibtrigger grants" in line
    # Showing the backend names the missing privilege. MariaDB lists the triggers to the caller
    # (with no text), so there it must not call them missing; MySQL hides them altogether.
    line = one_line_error(fibtrigger("backend", "--database-url", caller_url), 2)
    assert "TRIGGER privilege" in line, line
    line = one_line_error(fibtrigger("check", "--database-url", caller_url), 2)
    assert "run it as the migrator" in line and "Caller-Pa55" not in line, line
    cursor = mysql_raw.cursor()
    cursor.execute("SELECT VERSION()")
    if "mariadb" in cursor.fetchone()[0].lower():
        assert "missing" not in line, line


@pytest.mark.mysql
def test_a_database_the_caller_may_not_use_is_named_with_both_causes(caller_url):
    # The server answers a database that does not exist and one without access alike (1044).
    elsewhere = make_url(caller_url).set(database="fibtrigger_test_typo").render_as_string(hide_password=False)
    line = one_line_error(fibtrigger("compute", "5", "--database-url", elsewhere), 2)
    assert "may not use database 'fibtrigger_test_typo'" in line and "or it does not exist" in line, line
    assert "check the database name in the URL" in line and "Caller-Pa55" not in line


def _count(connection) -> int:
    cursor = connection.cursor()
    cursor.execute("SELECT COUNT(*) FROM fibonacci")
    return cursor.fetchone()[0]



@pytest.mark.mysql
def test_on_the_queue_backend_doctor_expects_a_waiting_row_and_table_shows_null(empty_mysql_url, mysql_databases):
    url = empty_mysql_url.render_as_string(hide_password=False)
    migrate.upgrade(empty_mysql_url)
    arn = "arn:aws:lambda:us-east-1:000000000000:function:fibtrigger"
    assert fibtrigger("backend", "queue", "--function-arn", arn, "--database-url", url).returncode == 0
    raw = mysql_databases.admin(empty_mysql_url.database)
    raw.cursor().execute("INSERT INTO fibonacci VALUES (5, null)")
    raw.close()
    report = json.loads(fibtrigger("doctor", "--json", "--database-url", url).stdout)
    checks = {check["name"]: check for check in report["checks"]}
    assert report["ok"] and checks["backend"]["status"] == "ok", report
    assert checks["test call"]["detail"] == "INSERT (10, NULL) queued for a worker, rolled back"
    assert json.loads(fibtrigger("table", "--json", "--database-url", url).stdout) == [{"fib": 5, "value": None}]
    assert "|   5 |  NULL |" in fibtrigger("table", "--database-url", url).stdout
