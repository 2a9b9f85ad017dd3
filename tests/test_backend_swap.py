"""The backend swap where there is no lambda_sync: the shared MariaDB, SQLite, bad ARNs, hand-edited triggers.

Nothing here installs the UDF: the shared server must stay without it.
"""

import pytest

from fibtrigger import backend, doctor, migrate
from fibtrigger.backend import BackendState
from fibtrigger.cli import main
from fibtrigger.errors import ConfigurationError, LambdaSyncUnavailable, SchemaNotInstalled
from fibtrigger.grants import grant_statements
from fibtrigger.schema import mysql
from fibtrigger.table import FibonacciTable

ARN = "arn:aws:lambda:us-east-1:000000000000:function:fibtrigger"


@pytest.fixture
def run(capsys):
    """The real entry point in-process: (exit code, stdout, stderr)."""

    def invoke(*args):
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def one_line_error(result, exit_code):
    code, out, err = result
    assert code == exit_code, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fibtrigger: ") and "Traceback" not in err
    return lines[0]


@pytest.mark.mysql
def test_lambda_is_refused_clearly_on_a_server_without_lambda_sync(run, mysql_url, mysql_raw):
    url = mysql_url.render_as_string(hide_password=False)
    line = one_line_error(run("--database-url", url, "backend", "lambda", "--function-arn", ARN), 2)
    assert "no lambda_sync" in line and "Aurora MySQL" in line and "fibtrigger local up" in line
    with pytest.raises(LambdaSyncUnavailable):
        backend.use_lambda(mysql_url, ARN)
    assert backend.current_backend(mysql_url) == BackendState("sql")
    cursor = mysql_raw.cursor()
    cursor.execute(mysql.SELECT_UDF_LIBRARY)
    assert cursor.fetchone() is None  # the probe installed nothing


@pytest.mark.mysql
def test_sql_is_idempotent_and_shown(run, mysql_url):
    url = mysql_url.render_as_string(hide_password=False)
    assert "backend already sql" in run("--database-url", url, "backend", "sql")[1]
    assert run("--database-url", url, "backend")[1].strip() == "sql"
    assert not backend.use_sql(mysql_url).changed


@pytest.mark.parametrize(
    "arn",
    [
        "fibtrigger",
        "arn:aws:lambda:us-east-1:000000000000:function:fib'); DROP TABLE fibonacci; --",
        "arn:aws:lambda:us-east-1:0000:function:fibtrigger",
        "arn:aws:s3:::bucket",
        "arn:aws:lambda:us-east-1:000000000000:function:" + "f" * 65,
    ],
)
def test_a_malformed_function_arn_is_bad_input(run, arn):
    with pytest.raises(ConfigurationError, match="is not a Lambda function ARN"):
        backend.check_function_arn(arn)
    line = one_line_error(run("--database-url", "mysql+pymysql://u@127.0.0.1:1/x", "backend", "lambda",
                              "--function-arn", arn), 2)
    assert "is not a Lambda function ARN" in line


def test_aliases_versions_and_other_partitions_are_accepted():
    china = ARN.replace("aws:", "aws-cn:", 1).replace("us-east-1", "cn-north-1")
    for arn in (ARN + ":live", ARN + ":7", ARN + ":$LATEST", china):
        assert backend.check_function_arn(arn) == arn


def test_sqlite_has_one_backend(run, sqlite_url):
    line = one_line_error(run("--database-url", sqlite_url, "backend", "lambda", "--function-arn", ARN), 2)
    assert "SQLite" in line
    migrate.upgrade(sqlite_url)  # revision 0002 is a no-op on SQLite
    assert FibonacciTable(sqlite_url).compute(10) == 55


@pytest.mark.mysql
def test_an_unmigrated_database_says_to_migrate(empty_mysql_url):
    with pytest.raises(SchemaNotInstalled, match="fibtrigger migrate"):
        backend.current_backend(empty_mysql_url)


@pytest.mark.mysql
def test_hand_edited_triggers_are_reported_and_sql_reinstalls_them(empty_mysql_url, mysql_databases):
    migrate.upgrade(empty_mysql_url)
    admin = mysql_databases.admin(empty_mysql_url.database)
    edited = mysql.before_insert("fibcomp(NEW.fib) + 1")
    admin.cursor().execute(edited.drop_sql())
    admin.cursor().execute(edited.create_sql())
    try:
        with pytest.raises(ConfigurationError, match="changed outside fibtrigger"):
            backend.current_backend(empty_mysql_url)
        assert backend.use_sql(empty_mysql_url).changed
        assert backend.current_backend(empty_mysql_url) == BackendState("sql")
        assert FibonacciTable(empty_mysql_url).compute(10) == 55
    finally:
        admin.close()


@pytest.mark.mysql
def test_revision_0002_installs_fiblambda_and_downgrades_cleanly(empty_mysql_url, mysql_databases):
    admin = mysql_databases.admin(empty_mysql_url.database)
    cursor = admin.cursor()
    routines = "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() ORDER BY 1"
    assert migrate.upgrade(empty_mysql_url, "0002") == "0002"
    cursor.execute(routines)
    assert [name for (name,) in cursor.fetchall()] == ["fibcomp", "fiblambda"]
    assert migrate.downgrade(empty_mysql_url, "0001") == "0001"
    cursor.execute(routines)
    assert [name for (name,) in cursor.fetchall()] == ["fibcomp"]
    assert FibonacciTable(empty_mysql_url).compute(10) == 55
    admin.close()


def test_grants_for_the_lambda_definer(run):
    assert grant_statements("lambda-definer", "fibtrigger", "%", "app") == [
        "GRANT AWS_LAMBDA_ACCESS TO 'fibtrigger'@'%';",
        "SET DEFAULT ROLE AWS_LAMBDA_ACCESS TO 'fibtrigger'@'%';",
        "GRANT LOCK TABLES ON `app`.* TO 'fibtrigger'@'%';",
        "-- Aurora MySQL v2 instead of the first two: GRANT INVOKE LAMBDA ON *.* TO 'fibtrigger'@'%';",
    ]
    output = run("grants", "--role", "lambda-definer", "--user", "fibtrigger", "--schema", "app")[1]
    assert output.splitlines()[0] == "GRANT AWS_LAMBDA_ACCESS TO 'fibtrigger'@'%';"


@pytest.mark.mysql
def test_doctor_says_lambda_sync_is_missing_and_the_backend_is_sql(mysql_url):
    checks = {check.name: check for check in doctor.diagnose(mysql_url)}
    assert checks["lambda_sync"].ok and checks["lambda_sync"].detail.startswith("not available")
    assert checks["backend"].ok and checks["backend"].detail == "sql"
