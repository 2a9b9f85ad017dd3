"""The benchmark's own throwaway database, and the objects only the benchmark installs in it."""

import os
import uuid

import pymysql
from sqlalchemy.engine import URL, make_url

from fibtrigger import migrate
from fibtrigger.config import masked
from fibtrigger.database import with_driver
from fibtrigger.schema import mysql
from fibtrigger.schema.objects import StoredFunction, Table

BENCH_URL_ENV = "FIBTRIGGER_BENCH_DATABASE_URL"
TEST_URL_ENV = "FIBTRIGGER_TEST_DATABASE_URL"
DEFAULT_SERVER_URL = "mysql+pymysql://root@127.0.0.1:3306/"
NAME_PREFIX = "fibtrigger_bench_"

# The same columns and engine as fibonacci, and no triggers: what a bare INSERT costs.
PLAIN_TABLE = Table("fibonacci_plain", columns=mysql.FIBONACCI.columns, options=mysql.FIBONACCI.options)
# A portable helper sequence (MariaDB's seq_1_to_N does not exist on MySQL).
SEQUENCE_TABLE = Table("bench_sequence", columns="  i INT NOT NULL PRIMARY KEY", options=" ENGINE=InnoDB")

# The seed's fibcomp, verbatim but for its name: the baseline row 5 measures against.
SEED_FIBCOMP = StoredFunction(
    name="fibcomp_seed_loop",
    parameters="fib INT",
    returns="DECIMAL(65,0)",
    characteristics="DETERMINISTIC NO SQL",
    body="""\
BEGIN
  DECLARE a DECIMAL(65,0) DEFAULT 0;
  DECLARE b DECIMAL(65,0) DEFAULT 1;
  DECLARE t DECIMAL(65,0);
  DECLARE i INT DEFAULT 1;
  IF fib = 0 THEN
    RETURN 0;
  END IF;
  WHILE i < fib DO
    SET t = a + b;
    SET a = b;
    SET b = t;
    SET i = i + 1;
  END WHILE;
  RETURN b;
END""",
)


def server_url() -> URL:
    """FIBTRIGGER_BENCH_DATABASE_URL, else FIBTRIGGER_TEST_DATABASE_URL, else root on 127.0.0.1:3306."""
    raw = os.environ.get(BENCH_URL_ENV) or os.environ.get(TEST_URL_ENV) or DEFAULT_SERVER_URL
    url = make_url(raw)
    if url.get_backend_name() not in ("mysql", "mariadb"):
        raise SystemExit(f"{BENCH_URL_ENV} must name a MySQL-family server, not {masked(url)}")
    return with_driver(url).set(database=None)


def connect(url: URL, database: str | None = None, **options) -> pymysql.connections.Connection:
    """A raw autocommit PyMySQL connection: the same driver the facade uses."""
    return pymysql.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        database=database if database is not None else url.database,
        autocommit=True,
        **options,
    )


class ThrowawayDatabase:
    """``with ThrowawayDatabase(server) as db``: a uniquely named, migrated database, dropped on exit."""

    def __init__(self, server: URL, sequence_rows: int) -> None:
        self.server = server
        self.name = f"{NAME_PREFIX}{uuid.uuid4().hex[:10]}"
        self.url = server.set(database=self.name)
        self.sequence_rows = sequence_rows

    def __enter__(self) -> "ThrowawayDatabase":
        admin = connect(self.server)
        try:
            admin.cursor().execute(f"CREATE DATABASE `{self.name}`")
        finally:
            admin.close()
        try:
            migrate.upgrade(self.url)
            connection = self.connect()
            try:
                cursor = connection.cursor()
                for table in (PLAIN_TABLE, SEQUENCE_TABLE):
                    cursor.execute(table.create_sql())
                cursor.execute(
                    f"INSERT INTO {SEQUENCE_TABLE.name} (i) VALUES "
                    + ",".join(f"({i})" for i in range(1, self.sequence_rows + 1))
                )
                cursor.execute(SEED_FIBCOMP.create_sql())
            finally:
                connection.close()
        except BaseException:
            self.drop()
            raise
        return self

    def __exit__(self, *_exc) -> None:
        self.drop()

    def connect(self, **options) -> pymysql.connections.Connection:
        return connect(self.server, self.name, **options)

    def drop(self) -> None:
        admin = connect(self.server)
        try:
            # Everything the benchmark installed (the seed function too) goes with the database.
            admin.cursor().execute(f"DROP DATABASE IF EXISTS `{self.name}`")
        finally:
            admin.close()

    def truncate(self, *tables: str) -> None:
        connection = self.connect()
        try:
            for table in tables:
                connection.cursor().execute(f"TRUNCATE TABLE {table}")
        finally:
            connection.close()
