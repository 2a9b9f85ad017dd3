"""What the facade checks once per connection: lock waits are bounded, and `fibonacci` is the
triggered table, not a session's TEMPORARY TABLE. And the repair doctor advises, on MySQL."""

import pytest

from conftest import count_rows
from fibtrigger import backend, migrate
from fibtrigger.backend import BackendState
from fibtrigger.cli import main
from fibtrigger.database import make_engine
from fibtrigger.errors import ConfigurationError, LockWaitTimeout, StatementTimeout, TableShadowed
from fibtrigger.schema import mysql
from fibtrigger.table import DEFAULT_LOCK_WAIT_SECONDS, LOCK_WAIT_ENV, FibonacciTable

pytestmark = pytest.mark.mysql

ARN = "arn:aws:lambda:eu-west-1:123456789012:function:fibtrigger"


def session_lock_waits(engine) -> tuple[int, int]:
    with engine.connect() as connection:
        innodb, metadata = connection.exec_driver_sql("SELECT @@innodb_lock_wait_timeout, @@lock_wait_timeout").one()
    return int(innodb), int(metadata)


def test_lock_waits_are_bounded_by_default_and_configurable(mysql_url, monkeypatch):
    for setting, expected in ((None, DEFAULT_LOCK_WAIT_SECONDS), ("2", 2)):
        if setting is not None:
            monkeypatch.setenv(LOCK_WAIT_ENV, setting)
        engine = make_engine(mysql_url, pool_size=1)
        try:
            FibonacciTable(engine=engine).compute(1)
            assert session_lock_waits(engine) == (expected, expected)  # the facade's pooled session
            FibonacciTable(engine=engine, lock_wait_timeout=3).compute(1)
            assert session_lock_waits(engine) == (3, 3)
        finally:
            engine.dispose()
    for bad in (0, -1, 3601, 1.5, True, "5"):
        with pytest.raises(ConfigurationError, match="lock_wait_timeout must be whole seconds"):
            FibonacciTable(mysql_url, lock_wait_timeout=bad)
    monkeypatch.setenv(LOCK_WAIT_ENV, "soon")
    with pytest.raises(ConfigurationError, match=LOCK_WAIT_ENV):
        FibonacciTable(mysql_url)


def test_a_session_holding_for_update_stalls_an_insert_only_for_the_bound(mysql_table, mysql_raw):
    holder = mysql_raw.cursor()
    holder.execute("BEGIN")
    holder.execute("SELECT COUNT(*) FROM fibonacci FOR UPDATE")
    table = FibonacciTable(mysql_table.url, lock_wait_timeout=1)
    try:
        with pytest.raises(LockWaitTimeout, match=LOCK_WAIT_ENV) as caught:
            table.compute(7)
        assert isinstance(caught.value, StatementTimeout)
        holder.execute("ROLLBACK")
        assert table.compute(7) == 13
    finally:
        table.close()
    assert count_rows(mysql_raw) == 1


def test_a_temporary_table_that_hides_the_real_one_is_refused(mysql_table, mysql_raw):
    shadow = "CREATE TEMPORARY TABLE fibonacci (fib INT, value INT DEFAULT 7, id SERIAL)"
    table = FibonacciTable(mysql_table.url.update_query_dict({"init_command": shadow}))
    try:
        for call in (lambda: table.compute(10), lambda: table.compute_many([1, 2]), table.rows):
            with pytest.raises(TableShadowed, match="TEMPORARY TABLE fibonacci"):
                call()
    finally:
        table.close()
    assert count_rows(mysql_raw) == 0
    assert main(["compute", "10", "--database-url", mysql_table.url.update_query_dict({"init_command": shadow})
                 .render_as_string(hide_password=False)]) == 2


# ---- the repair doctor advises after a trigger is dropped by hand ---------------------------------


def _doctor_failures(url, capsys) -> list[str]:
    capsys.readouterr()
    main(["doctor", "--database-url", url.render_as_string(hide_password=False)])
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("FAIL")]


def test_a_dropped_trigger_is_repaired_as_doctor_says_keeping_the_backend(mysql_databases, capsys):
    url = mysql_databases.create("repair")
    migrate.upgrade(url)
    admin = mysql_databases.admin(url.database).cursor()
    for trigger in backend.triggers_for(BackendState(backend.LAMBDA, ARN)):  # the lambda backend, no lambda_sync needed
        admin.execute(trigger.drop_sql())
        admin.execute(trigger.create_sql())
    admin.execute(mysql.before_update().drop_sql())
    failures = _doctor_failures(url, capsys)
    assert failures and all("`fibtrigger migrate --repair`" in line for line in failures), failures
    assert main(["migrate", "--database-url", url.render_as_string(hide_password=False)]) == 0  # at head: no help
    assert main(["migrate", "--repair", "--database-url", url.render_as_string(hide_password=False)]) == 0
    assert "triggers reinstalled (backend lambda" in capsys.readouterr().out
    assert backend.current_backend(url) == BackendState(backend.LAMBDA, ARN)
    # The old advice works too: `backend sql` reinstalls both triggers instead of refusing.
    admin.execute(mysql.before_insert().drop_sql())
    assert main(["backend", "sql", "--database-url", url.render_as_string(hide_password=False)]) == 0
    assert [line for line in _doctor_failures(url, capsys)] == []
    table = FibonacciTable(url)
    try:
        assert table.compute(10) == 55
    finally:
        table.close()
