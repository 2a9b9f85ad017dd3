"""The objects a database has now, read back from the server, and how they differ from the declared ones.

The declared triggers are those of the backend the live triggers point at
(backend.backend_in): triggers on the lambda backend are a state fibtrigger
installs, not drift. Definer, sql_mode and character sets are not compared;
bodies are compared in their canonical form (canonical.py).
"""

import re
from dataclasses import dataclass

from .. import backend
from ..errors import ConfigurationError
from . import mysql, sqlite
from .objects import DatabaseObject, StoredFunction, Table, Trigger

MYSQL_DIALECTS = ("mysql", "mariadb")


@dataclass(frozen=True)
class ObjectDrift:
    """``live`` None: missing; ``declared`` None: an object on a declared table that nothing declares."""

    declared: DatabaseObject | None
    live: DatabaseObject | None

    @property
    def label(self) -> str:
        found = self.declared or self.live
        assert found is not None  # a drift has at least one side
        return found.label()


def declared_objects(connection) -> tuple[DatabaseObject, ...]:
    """What revision head declares for this database, triggers on its current backend."""
    if connection.dialect.name in MYSQL_DIALECTS:
        bodies = {trigger.name: trigger.body for trigger in _mysql_triggers(connection)}
        return mysql.HEAD_OBJECTS + backend.triggers_for(backend.backend_in(bodies))
    return sqlite.OBJECTS


def live_objects(connection) -> dict[str, DatabaseObject]:
    """Tables, functions and triggers of the connection's database, by label."""
    if connection.dialect.name in MYSQL_DIALECTS:
        tables = connection.exec_driver_sql(mysql.SELECT_TABLES)
        found: list[DatabaseObject] = [Table(name, columns="") for (name,) in tables]
        found += _mysql_functions(connection)
        found += _mysql_triggers(connection)
    else:
        found = _sqlite_objects(connection)
    return {item.label(): item for item in found}


def compare_objects(connection) -> list[ObjectDrift]:
    """Every declared object that is missing or differs, then every undeclared trigger on a
    declared table. Tables are compared for existence only: their columns are Alembic's
    (target_metadata)."""
    declared = declared_objects(connection)
    live = live_objects(connection)
    drifts = []
    for item in declared:
        found = live.get(item.label())
        if found is None:
            drifts.append(ObjectDrift(item, None))
        elif not isinstance(item, Table) and found.canonical() != item.canonical():
            drifts.append(ObjectDrift(item, found))
    labels = {item.label() for item in declared}
    tables = {item.name for item in declared if isinstance(item, Table)}
    for label, found in live.items():
        if isinstance(found, Trigger) and found.table in tables and label not in labels:
            drifts.append(ObjectDrift(None, found))
    return drifts


def _mysql_functions(connection) -> list[StoredFunction]:
    parameters: dict[str, list[str]] = {}
    for function, name, dtd in connection.exec_driver_sql(mysql.SELECT_FUNCTION_PARAMETERS):
        parameters.setdefault(function, []).append(f"{name} {dtd}")
    functions = []
    for name, returns, deterministic, access, security, comment, body in connection.exec_driver_sql(
        mysql.SELECT_FUNCTIONS
    ):
        if body is None:
            # The server shows a routine's body only to its definer and to accounts allowed to read it.
            raise ConfigurationError(
                f"this account cannot read the definition of function {name}: check as its definer (the "
                "account that migrated), or grant one that may read routine bodies (MariaDB: SELECT ON "
                "mysql.proc; MySQL 8.0: SHOW_ROUTINE)"
            )
        characteristics = ["DETERMINISTIC" if deterministic == "YES" else "NOT DETERMINISTIC", access]
        if security != "DEFINER":
            characteristics.append(f"SQL SECURITY {security}")
        if comment:
            characteristics.append("COMMENT '{}'".format(comment.replace("\\", "\\\\").replace("'", "''")))
        functions.append(
            StoredFunction(
                name=name,
                parameters=", ".join(parameters.get(name, [])),
                returns=returns,
                characteristics=" ".join(characteristics),
                body=body,
            )
        )
    return functions


def _mysql_triggers(connection) -> list[Trigger]:
    return [
        Trigger(name, table, f"{timing} {event}", body)
        for name, table, timing, event, body in connection.exec_driver_sql(mysql.SELECT_TRIGGERS)
    ]


_SQLITE_TRIGGER = re.compile(
    r"^\s*CREATE\s+TRIGGER\s+(?P<name>\S+)\s+(?P<timing>(?:BEFORE|AFTER|INSTEAD\s+OF)\s+(?:INSERT|UPDATE|DELETE))"
    r"\s+ON\s+(?P<table>\S+)\s+(?P<row>FOR\s+EACH\s+ROW[\s\S]*?)\s*(?P<body>\bBEGIN\b[\s\S]*)$",
    re.IGNORECASE,
)


def _sqlite_objects(connection) -> list[DatabaseObject]:
    found: list[DatabaseObject] = []
    for kind, name, table, sql in connection.exec_driver_sql(sqlite.SELECT_OBJECTS):
        if kind == "table":
            found.append(Table(name, columns=""))
            continue
        parsed = _SQLITE_TRIGGER.match(sql or "")
        if parsed is None:  # not in the form fibtrigger writes: differs from any declared trigger
            found.append(Trigger(name, table, "?", sql or "", for_each_row=""))
            continue
        found.append(
            Trigger(name, parsed["table"], parsed["timing"], parsed["body"].strip(), for_each_row=parsed["row"])
        )
    return found
