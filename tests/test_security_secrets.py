"""Secrets never show: not in repr(), exception messages, log records (DEBUG), CLI output or HTTP answers.

The database password and the AWS secret key are recognisable strings; every test looks for them, and
for their URL-encoded forms, in everything a user or a log collector could see.
"""

import http.client
import io
import logging
import os
import re
import subprocess
import sys
import traceback
import uuid
from urllib.parse import quote, quote_plus

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from sqlalchemy.engine import URL

from fibtrigger import backend, doctor, migrate
from fibtrigger.cli import main
from fibtrigger.errors import (
    ConfigurationError,
    DatabaseUnreachable,
    FibtriggerError,
    PermissionDenied,
    SchemaNotInstalled,
)
from fibtrigger.local.service import LocalLambdaService
from fibtrigger.table import FibonacciTable

pytestmark = pytest.mark.mysql

PASSWORD = "Fib0nacci-S3cret:p@ss/w0rd"
ACCESS_KEY = "AKIASECRETSTEST00001"
SECRET_KEY = "Lambda-S3cret-Key/Never+Shown"
SECRETS = {PASSWORD, quote(PASSWORD, safe=""), quote_plus(PASSWORD), SECRET_KEY, quote(SECRET_KEY, safe="")}


def assert_clean(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"a secret leaked into: {text[:300]!r}"


def everything_about(error: BaseException) -> str:
    """What a user, a log or a crash report could show of an exception, its hidden context included."""
    shown = [str(error), repr(error), repr(error.args), "".join(traceback.format_exception(error))]
    if error.__context__ is not None:
        shown += [repr(error.__context__), str(error.__context__)]
    return "\n".join(shown)


@pytest.fixture(scope="module")
def account(mysql_databases):
    """An account whose password is PASSWORD, owning a migrated database; URLs for it."""
    url = mysql_databases.create("sec")
    user = f"ft7_sec_{uuid.uuid4().hex[:8]}"
    admin = mysql_databases.admin()
    admin.cursor().execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (PASSWORD,))
    admin.cursor().execute(f"GRANT ALL ON `{url.database}`.* TO '{user}'@'%'")
    secret_url = url.set(username=user, password=PASSWORD)
    migrate.upgrade(secret_url)
    yield secret_url
    admin.cursor().execute(f"DROP USER IF EXISTS '{user}'@'%'")
    admin.close()


def test_repr_and_str_never_show_the_password(account):
    table = FibonacciTable(account)
    try:
        assert table.compute(5) == 5
        shown = [repr(table), str(table), repr(table.engine), str(table.engine), repr(table.url), str(table.url),
                 repr(table.engine.pool), repr(migrate.alembic_config(account).attributes),
                 repr(doctor.diagnose(account)), repr(backend.current_backend(account))]
    finally:
        table.close()
    assert "***" in repr(table)
    assert_clean(*shown)


def _failures(account, mysql_databases):
    """Every kind of failure a URL with a password can cause, as (expected type, callable)."""
    empty = mysql_databases.create("secempty")
    return [
        (ConfigurationError, lambda: FibonacciTable(account.set(password=PASSWORD + "x")).compute(1)),
        (DatabaseUnreachable, lambda: FibonacciTable(account.set(port=1)).compute(1)),
        (
            ConfigurationError,
            lambda: FibonacciTable(account.set(database=f"missing_{uuid.uuid4().hex[:6]}")).compute(1),
        ),
        (PermissionDenied, lambda: FibonacciTable(account.set(database=empty.database)).compute(1)),
        (ConfigurationError, lambda: migrate.upgrade(account.set(password=PASSWORD + "x"))),
        (DatabaseUnreachable, lambda: migrate.current(account.set(port=1))),
        (ConfigurationError, lambda: backend.current_backend(account.set(password=PASSWORD + "x"))),
        (ConfigurationError, lambda: FibonacciTable(account.set(drivername="mysql+nodriver"))),
        (ConfigurationError, lambda: FibonacciTable(account.update_query_dict({"connect_timeout": "soon"}))),
    ]


def test_exceptions_never_show_the_password(account, mysql_databases):
    for expected, action in _failures(account, mysql_databases):
        with pytest.raises(FibtriggerError) as caught:
            action()
        assert isinstance(caught.value, expected), caught.value
        assert_clean(everything_about(caught.value))


def test_schema_missing_error_is_clean(account, mysql_databases):
    empty = mysql_databases.create("secnoschema")
    mysql_databases.admin().cursor().execute(f"GRANT ALL ON `{empty.database}`.* TO '{account.username}'@'%'")
    with pytest.raises(SchemaNotInstalled) as caught:
        FibonacciTable(account.set(database=empty.database)).compute(1)
    assert_clean(everything_about(caught.value))


def test_debug_logs_never_show_the_password(account, mysql_databases, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool", "alembic", "fibtrigger"):
        caplog.set_level(logging.DEBUG, logger=name)
    table = FibonacciTable(account)
    try:
        table.compute(7)
        table.compute_many(range(5), batch_size=2)
        table.rows()
    finally:
        table.close()
    migrate.upgrade(account)
    doctor.diagnose(account)
    backend.current_backend(account)
    for _, action in _failures(account, mysql_databases):
        with pytest.raises(FibtriggerError):
            action()
    assert len(caplog.records) > 20  # the check below looked at real DEBUG output
    assert_clean(caplog.text, *(repr(record.args) for record in caplog.records))


def test_cli_output_never_shows_the_password(account, capsys, monkeypatch):
    url = account.render_as_string(hide_password=False)
    assert PASSWORD not in url and quote(PASSWORD, safe="") in url  # encoded in the URL; both forms checked
    runs = [
        ["migrate"],
        ["compute", "5", "6"],
        ["compute", "-1"],
        ["table"],
        ["doctor"],
        ["backend"],
        ["grants", "--user", "app"],
    ]
    for args in runs:
        main(["--database-url", url, *args])
    for broken in (account.set(password=PASSWORD + "x"), account.set(port=1), account.set(database="nope_db_x")):
        for args in (["compute", "5"], ["migrate"], ["doctor"], ["backend"]):
            main(["--database-url", broken.render_as_string(hide_password=False), *args])
    monkeypatch.setenv("FIBTRIGGER_DATABASE_URL", url)
    main(["--help"])
    main(["doctor"])
    out, err = capsys.readouterr()
    assert "***" in out and "fibtrigger: " in err  # the runs above printed URLs and errors
    assert_clean(out, err)


def test_cli_as_a_process_never_shows_the_password(account):
    env = dict(os.environ, FIBTRIGGER_DATABASE_URL=account.set(port=1).render_as_string(hide_password=False))
    done = subprocess.run(
        [sys.executable, "-c", "from fibtrigger.cli import run; run()", "doctor"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 1 and "FAIL" in done.stdout
    assert_clean(done.stdout, done.stderr)


# ---- the AWS secret key of the local Lambda service -------------------------------------------------


def _send(service, *, secret: str, body: bytes = b'{"fib": 10}', sent_body: bytes | None = None):
    request = AWSRequest(method="POST", url=service.api_url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(ACCESS_KEY, secret), "execute-api", "us-east-1").add_auth(request)
    prepared = request.prepare()
    connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
    try:
        connection.request("POST", "/test/", body=sent_body or body, headers=dict(prepared.headers.items()))
        response = connection.getresponse()
        answer = response.read().decode(errors="replace")
        return response.status, str(response.getheaders()) + answer, prepared.headers["Authorization"]
    finally:
        connection.close()


def test_refusals_show_neither_the_secret_key_nor_the_expected_signature(caplog):
    caplog.set_level(logging.DEBUG)
    log = io.StringIO()
    with LocalLambdaService(require_iam=True, credentials=(ACCESS_KEY, SECRET_KEY), log_stream=log) as service:
        assert _send(service, secret=SECRET_KEY)[0] == 200
        for attempt in (dict(secret="wrong-secret"), dict(secret=SECRET_KEY, sent_body=b'{"fib": 11}')):
            status, answer, authorization = _send(service, **attempt)
            assert status == 403
            sent = set(re.findall(r"[0-9a-f]{64}", authorization))
            # The right signature would let a client forge this request: it is never revealed.
            assert set(re.findall(r"[0-9a-f]{64}", answer)) <= sent
            assert_clean(answer)
        assert_clean(repr(service), repr(service.metrics()), log.getvalue(), caplog.text)


def test_lambda_serve_require_iam_never_prints_the_secret_key():
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
    env.pop("AWS_SESSION_TOKEN", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from fibtrigger.cli import run; run()",
            "lambda",
            "serve",
            "--port",
            "0",
            "--require-iam",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "export AWS_ENDPOINT_URL_LAMBDA" in line:
                break
    finally:
        process.terminate()
        rest, _ = process.communicate(timeout=30)
    output = "".join(lines) + rest
    assert "IAM: required" in output
    assert_clean(output)


def _password_forms(account):
    """The account's URL with the password in every form the drivers accept, as text."""
    base = URL.create(
        account.drivername, account.username, None, account.host, account.port, account.database
    ).render_as_string(hide_password=False)
    scheme, after = base.split("://", 1)
    user, rest = after.split("@", 1)
    return {
        "?password=": f"{base}?password={quote(PASSWORD, safe='')}",
        "?passwd=": f"{base}?passwd={quote_plus(PASSWORD)}",
        "unencoded": f"{scheme}://{user}:{PASSWORD}@{rest}",
    }


@pytest.mark.parametrize("form", ["?password=", "?passwd=", "unencoded"])
def test_every_form_of_password_in_the_url_works_and_is_masked(account, capsys, form):
    url = _password_forms(account)[form]
    capsys.readouterr()
    for args in (["migrate"], ["doctor"], ["backend"], ["compute", "5"], ["table"], ["backend", "sql"]):
        assert main(["--database-url", url, *args]) == 0, (args, capsys.readouterr())
    # Unreachable: the messages name the host, never any part of the password.
    broken = url.replace(f":{account.port or 3306}/", ":1/") if account.port else url
    for args in (["migrate"], ["doctor"], ["backend"], ["compute", "5"]):
        assert main(["--database-url", broken, *args]) != 0
    out, err = capsys.readouterr()
    assert "***" in out and "fibtrigger: " in err
    assert_clean(out, err)
    for fragment in ("p@ss", "ss/w0rd", "w0rd"):
        assert fragment not in out + err, fragment
