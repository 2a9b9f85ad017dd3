"""Row 2 on every driver, and row 9, the floor: a trigger that only sets a constant.

Row 2 (one row per driver): ``compute(92)`` through the facade against the same
statements sent with that raw driver on one kept connection and one kept cursor.
Two more figures show what a per-checkout COM_PING (SQLAlchemy's ``pool_pre_ping``)
would cost instead of fibtrigger's socket poll, on the raw driver.

Row 9: ``compute(92)`` against the same facade call into an identical database
whose BEFORE INSERT trigger only sets a constant: what fibcomp and the argument
check cost, above the floor of any trigger-computed call.
"""

import importlib

from sqlalchemy import create_engine

from fibtrigger import migrate
from fibtrigger.schema import mysql
from fibtrigger.schema.objects import Trigger
from fibtrigger.table import FibonacciTable

from .model import Figure, Row, Settings, at_most
from .single_calls import N, facade_statements
from .throwaway_database import ThrowawayDatabase, connect
from .timing import compared, interleave

# SQLAlchemy driver name -> the module it imports (the drivers extra installs all of them).
DRIVERS = {
    "mysql+pymysql": "pymysql",
    "mysql+mysqldb": "MySQLdb",
    "mysql+mysqlconnector": "mysql.connector",
    "mariadb+mariadbconnector": "mariadb",
    "mariadb+pymysql": "pymysql",
}


def driver_rows(db: ThrowawayDatabase, settings: Settings) -> list[Row]:
    return [_driver_row(db, settings, drivername) for drivername in DRIVERS]


def _driver_row(db: ThrowawayDatabase, settings: Settings, drivername: str) -> Row:
    measured = f"`compute({N})` through the facade, {drivername}"
    try:
        importlib.import_module(DRIVERS[drivername])
    except ImportError as error:
        return Row("2", measured, "", available=False, unavailable_reason=f"not installed ({error})")
    url = db.url.set(drivername=drivername)
    table = FibonacciTable(url)
    table.compute(N)
    raw_engine = create_engine(url, isolation_level="AUTOCOMMIT")  # SQLAlchemy only opens the raw connection
    pooled = raw_engine.raw_connection()
    raw = pooled.dbapi_connection
    try:
        cursor = raw.cursor()
        statements = facade_statements(table)
        ping = raw_engine.dialect.do_ping

        def compute() -> int:
            for _ in range(settings.calls):
                table.compute(N)
            return settings.calls

        def raw_driver() -> int:
            for _ in range(settings.calls):
                statements(cursor)
            return settings.calls

        def raw_driver_pinged() -> int:
            for _ in range(settings.calls):
                ping(raw)
                statements(cursor)
            return settings.calls

        cases = interleave(
            {"compute": compute, "raw_driver": raw_driver, "raw_driver_pinged": raw_driver_pinged}, settings.rounds
        )
    finally:
        pooled.close()
        raw_engine.dispose()
        table.close()
    ping_cost = compared(cases["raw_driver_pinged"], cases["raw_driver"])
    checked = {
        "mysql+mysqlconnector": "a COM_PING: mysql-connector-python shows no socket to poll",
    }.get(drivername, "a poll of the idle socket, no round trip")
    return Row(
        "2",
        measured,
        f"the same statements with raw {DRIVERS[drivername]} on one kept connection and cursor",
        [
            at_most(compared(cases["compute"], cases["raw_driver"]), 1.2),
            Figure("what pool_pre_ping would add: raw, with a COM_PING before each call", *_ratio(ping_cost)),
        ],
        note=(
            f"Same server work on both sides. The facade adds the argument check, taking one of the table's "
            f"kept connections and checking it ({checked}), building the statement, and checking and "
            "converting the row read back."
        ),
        cases={name: samples.as_dict() for name, samples in cases.items()},
    )


def _ratio(measured) -> tuple:
    value, spread = measured
    return value, "x", "", None, spread


CONSTANT_TRIGGER = Trigger(
    "fibonacci_before_insert",
    mysql.TABLE_NAME,
    "BEFORE INSERT",
    "SET NEW.value = 7540113804746346429",  # F(92): the same row as compute(92) stores
)


def floor_row(db: ThrowawayDatabase, settings: Settings) -> Row:
    floor_name = f"{db.name}_floor"
    admin = connect(db.server)
    admin.cursor().execute(f"CREATE DATABASE `{floor_name}`")
    try:
        floor_url = db.url.set(database=floor_name)
        migrate.upgrade(floor_url)
        floor_connection = connect(db.server, floor_name)
        try:
            for statement in CONSTANT_TRIGGER.replace_sql():
                floor_connection.cursor().execute(statement)
        finally:
            floor_connection.close()
        table, floor = FibonacciTable(db.url), FibonacciTable(floor_url)
        try:
            assert floor.compute(N) == table.compute(N)

            def compute() -> int:
                for _ in range(settings.calls):
                    table.compute(N)
                return settings.calls

            def constant_trigger() -> int:
                for _ in range(settings.calls):
                    floor.compute(N)
                return settings.calls

            cases = interleave({"compute": compute, "constant_trigger": constant_trigger}, settings.rounds)
        finally:
            table.close()
            floor.close()
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS `{floor_name}`")
        admin.close()
    return Row(
        "9",
        f"`compute({N})`, the floor of a trigger-computed call",
        "the same facade call into an identical database whose BEFORE INSERT trigger only sets a constant",
        [at_most(compared(cases["compute"], cases["constant_trigger"]), 1.15)],
        note=(
            "Both through the facade with PyMySQL, same table, same row stored and read back. The difference "
            f"is the argument check and fibcomp({N}) in the trigger: what computing costs above writing."
        ),
        cases={name: samples.as_dict() for name, samples in cases.items()},
    )
