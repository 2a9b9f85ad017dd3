"""Fixtures: SQLite always; a real MySQL-family server from FIBTRIGGER_TEST_DATABASE_URL or Docker."""

import os
import uuid

import pymysql
import pytest
from sqlalchemy.engine import make_url

from fibtrigger import migrate
from fibtrigger.table import FibonacciTable

# The local stack's module-scoped fixtures (peer, private_server, lambda_stack), for every test module.
pytest_plugins = ["local_stack_fixtures"]

TEST_URL_ENV = "FIBTRIGGER_TEST_DATABASE_URL"


def _docker_mysql():
    """A testcontainers MySQL 8.0, or the reason there is none."""
    try:
        from testcontainers.mysql import MySqlContainer

        container = MySqlContainer("mysql:8.0", username="root", password="test", dbname="test")
        container.start()
    except Exception as error:  # noqa: BLE001 - any failure means no Docker here
        return None, f"no {TEST_URL_ENV} and no Docker engine ({type(error).__name__})"
    return container, None


@pytest.fixture(scope="session")
def mysql_server_url():
    """The server URL (no database). Skips without a server, fails under CI=true."""
    container = None
    raw = os.environ.get(TEST_URL_ENV)
    if not raw:
        container, reason = _docker_mysql()
        if container is None:
            if os.environ.get("CI") == "true":
                pytest.fail(f"CI=true but no MySQL-family server: {reason}")
            pytest.skip(reason)
        raw = container.get_connection_url().replace("mysql://", "mysql+pymysql://", 1)
    url = make_url(raw)
    try:
        connection = _admin_connect(url)
        connection.close()
    except pymysql.err.MySQLError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {TEST_URL_ENV} is unreachable: {error}")
        pytest.skip(f"{TEST_URL_ENV} is unreachable: {error}")
    yield url.set(database=None)
    if container is not None:
        container.stop()


def _admin_connect(url, database=None):
    return pymysql.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        database=database,
        autocommit=True,
    )


class ThrowawayDatabases:
    """Creates uniquely named databases on the test server and drops them all at the end."""

    def __init__(self, server_url):
        self.server_url = server_url
        self.names: list[str] = []

    def create(self, label: str = "t"):
        name = f"fibtrigger_test_{label}_{uuid.uuid4().hex[:10]}"
        connection = _admin_connect(self.server_url)
        try:
            connection.cursor().execute(f"CREATE DATABASE `{name}`")
        finally:
            connection.close()
        self.names.append(name)
        return self.server_url.set(database=name)

    def admin(self, database=None):
        return _admin_connect(self.server_url, database)

    def drop_all(self):
        connection = _admin_connect(self.server_url)
        try:
            for name in self.names:
                connection.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            connection.close()


@pytest.fixture(scope="session")
def mysql_databases(mysql_server_url):
    databases = ThrowawayDatabases(mysql_server_url)
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def mysql_url(mysql_databases):
    """A throwaway database for this test run, migrated to head."""
    url = mysql_databases.create("run")
    migrate.upgrade(url)
    return url


@pytest.fixture
def empty_mysql_url(mysql_databases):
    """A brand-new empty database, for migration tests."""
    return mysql_databases.create("empty")


@pytest.fixture
def mysql_table(mysql_url, mysql_databases):
    """A FibonacciTable on the migrated database, emptied before the test."""
    connection = mysql_databases.admin(mysql_url.database)
    connection.cursor().execute("DELETE FROM fibonacci")
    table = FibonacciTable(mysql_url)
    yield table
    table.close()
    connection.close()


@pytest.fixture
def mysql_raw(mysql_url, mysql_databases):
    """A raw PyMySQL connection to the migrated database, as a MySQL client would have."""
    connection = mysql_databases.admin(mysql_url.database)
    yield connection
    connection.close()


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'fibtrigger.db'}"


@pytest.fixture
def sqlite_table(sqlite_url):
    table = FibonacciTable(sqlite_url)
    yield table
    table.close()


def count_rows(connection) -> int:
    cursor = connection.cursor()
    cursor.execute("SELECT COUNT(*) FROM fibonacci")
    return cursor.fetchone()[0]
