"""The schema's objects, per dialect. The SQL itself lives in mysql.py and sqlite.py."""

from . import mysql, sqlite
from .objects import DatabaseObject, StoredFunction, Table, Trigger


def dialect_module(dialect_name: str):
    """mysql.py for MySQL, Aurora and MariaDB; sqlite.py for SQLite."""
    if dialect_name in ("mysql", "mariadb"):
        return mysql
    if dialect_name == "sqlite":
        return sqlite
    raise ValueError(f"fibtrigger supports MySQL, MariaDB and SQLite, not {dialect_name}")


__all__ = ["DatabaseObject", "StoredFunction", "Table", "Trigger", "dialect_module", "mysql", "sqlite"]
