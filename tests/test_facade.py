"""The Python facade: compute, compute_many and the error hierarchy, on SQLite and MariaDB."""

import threading

import pytest

import fibtrigger.table as table_module
from conftest import count_rows
from fibonacci_numbers import fibonacci
from fibtrigger import (
    DatabaseUnreachable,
    FibonacciTable,
    FibtriggerError,
    InvalidArgument,
    ResultOutOfRange,
    compute,
    compute_many,
    default_table,
)


class Opaque:
    """An arbitrary object; a stable repr keeps test ids equal across pytest-xdist workers."""

    def __repr__(self) -> str:
        return "Opaque()"


BAD_TYPES = [True, False, 1.0, 10.5, "10", b"10", None, [1], Opaque()]


@pytest.fixture(params=["sqlite", "mysql"])
def table(request):
    return request.getfixturevalue(f"{request.param}_table")


def stored(table):
    return table.rows()


def test_compute_returns_what_the_database_stored(table):
    assert table.compute(10) == 55
    assert table.compute(0) == 0
    assert stored(table) == [(10, 55), (0, 0)]
    assert isinstance(table.compute(1), int)


def test_compute_at_the_limit(table):
    assert table.compute(table.limit) == fibonacci(table.limit)


def test_compute_many_keeps_order_and_duplicates(table):
    arguments = [5, 1, 5, 0, 20, 1]
    assert table.compute_many(arguments) == [fibonacci(n) for n in arguments]
    assert [fib for fib, _ in stored(table)] == arguments
    assert table.compute_many([]) == []


def test_compute_many_in_several_batches(table):
    arguments = list(range(table.limit + 1)) * 3
    assert table.compute_many(arguments, batch_size=50) == [fibonacci(n) for n in arguments]
    assert len(stored(table)) == len(arguments)


@pytest.mark.parametrize("bad", BAD_TYPES, ids=repr)
def test_bad_types_rejected_before_the_round_trip(table, bad):
    with pytest.raises(InvalidArgument) as caught:
        table.compute(bad)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, FibtriggerError)
    assert "fib must be an integer" in str(caught.value)
    assert stored(table) == []


@pytest.mark.parametrize("bad, error", [(-1, InvalidArgument), (313, ResultOutOfRange), (10**30, ResultOutOfRange)])
def test_out_of_range(table, bad, error):
    if bad == 313:
        bad = table.limit + 1
    with pytest.raises(error, match=f"fib must be between 0 and {table.limit}"):
        table.compute(bad)
    assert stored(table) == []


def test_compute_many_rejects_the_whole_batch(table):
    with pytest.raises(InvalidArgument):
        table.compute_many([1, 2, -3, 4])
    with pytest.raises(InvalidArgument):
        table.compute_many([1, 2, True])
    assert stored(table) == []


@pytest.mark.mysql
def test_database_signal_maps_to_the_same_error(mysql_table, mysql_raw):
    # Bypass the Python pre-check to prove the SIGNAL path maps to the typed error.
    mysql_table.check = lambda value: value
    with pytest.raises(ResultOutOfRange, match="got 313"):
        mysql_table.compute(313)
    with pytest.raises(InvalidArgument, match="got -2"):
        mysql_table.compute_many([1, -2])
    assert count_rows(mysql_raw) == 0


def test_thread_safe(table):
    results: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            results[worker] = [table.compute(n % (table.limit + 1)) for n in range(worker, worker + 25)]
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for worker, values in results.items():
        assert values == [fibonacci(n % (table.limit + 1)) for n in range(worker, worker + 25)]
    assert len(stored(table)) == 6 * 25


def test_module_functions_take_url_or_engine(sqlite_url, sqlite_table):
    assert compute(7, url=sqlite_url) == 13
    assert compute_many([7, 8], engine=sqlite_table.engine) == [13, 21]


def test_unreachable_names_host_port_and_inbound_rule():
    table = FibonacciTable("mysql+pymysql://app:s3cret-pass@127.0.0.1:1/fib")
    with pytest.raises(DatabaseUnreachable) as caught:
        table.compute(1)
    message = str(caught.value)
    assert "127.0.0.1:1" in message and "inbound rule" in message
    assert "s3cret-pass" not in message and "s3cret-pass" not in repr(table)


@pytest.mark.mysql
@pytest.mark.parametrize("step", [1, 3])
def test_read_back_by_id_follows_auto_increment_increment(mysql_url, mysql_raw, step):
    # MySQL and Aurora have no RETURNING; multi-primary setups step ids by more than 1.
    mysql_raw.cursor().execute("DELETE FROM fibonacci")
    url = mysql_url.update_query_dict({"init_command": f"SET SESSION auto_increment_increment={step}"})
    table = FibonacciTable(url)
    table._returning = False
    try:
        arguments = [3, 0, 312, 3, 20]
        assert table.compute_many(arguments) == [fibonacci(n) for n in arguments]
        assert table.compute(10) == 55
        assert table.compute_many(list(range(50)), batch_size=7) == [fibonacci(n) for n in range(50)]
        assert table._id_step == step
    finally:
        table.close()


def test_module_compute_finds_its_table_without_parsing_the_url_again(sqlite_url, monkeypatch):
    assert compute(5, url=sqlite_url) == 5

    def parse_again(*_args, **_kwargs):
        raise AssertionError("the URL was parsed again on the hot path")

    monkeypatch.setattr(table_module, "database_url", parse_again)
    assert compute(6, url=sqlite_url) == 8


def test_a_relative_sqlite_url_follows_the_working_directory(tmp_path, monkeypatch):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    monkeypatch.chdir(first)
    assert compute(3, url="sqlite:///relative.db") == 2
    monkeypatch.chdir(second)
    assert compute(4, url="sqlite:///relative.db") == 3
    assert (first / "relative.db").exists() and (second / "relative.db").exists()
    assert default_table("sqlite:///relative.db").rows() == [(4, 3)]
