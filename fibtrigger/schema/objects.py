"""Database objects that know how to create, replace and drop themselves.

Modelled on alembic_utils: a migration holds the object and calls
``create``/``replace``/``drop`` instead of pasting SQL strings.
"""

from dataclasses import dataclass


class DatabaseObject:
    name: str

    def create_sql(self) -> str:
        raise NotImplementedError

    def drop_sql(self) -> str:
        raise NotImplementedError

    def create(self, connection) -> None:
        connection.exec_driver_sql(self.create_sql())

    def drop(self, connection) -> None:
        connection.exec_driver_sql(self.drop_sql())

    def replace(self, connection) -> None:
        """Drop if present, then create. MySQL has no CREATE OR REPLACE for these."""
        connection.exec_driver_sql(self.drop_sql())
        connection.exec_driver_sql(self.create_sql())


@dataclass(frozen=True)
class Table(DatabaseObject):
    name: str
    columns: str  # the text between the parentheses of CREATE TABLE
    options: str = ""

    def create_sql(self) -> str:
        return f"CREATE TABLE {self.name} (\n{self.columns}\n){self.options}"

    def drop_sql(self) -> str:
        return f"DROP TABLE IF EXISTS {self.name}"


@dataclass(frozen=True)
class StoredFunction(DatabaseObject):
    name: str
    parameters: str
    returns: str
    characteristics: str
    body: str

    def create_sql(self) -> str:
        return (
            f"CREATE FUNCTION {self.name}({self.parameters}) RETURNS {self.returns}\n"
            f"{self.characteristics}\n{self.body}"
        )

    def drop_sql(self) -> str:
        return f"DROP FUNCTION IF EXISTS {self.name}"


@dataclass(frozen=True)
class Trigger(DatabaseObject):
    name: str
    table: str
    timing: str  # e.g. "BEFORE INSERT"
    body: str
    for_each_row: str = "FOR EACH ROW"  # SQLite spells a trigger the same way

    def create_sql(self) -> str:
        return f"CREATE TRIGGER {self.name} {self.timing} ON {self.table} {self.for_each_row}\n{self.body}"

    def drop_sql(self) -> str:
        return f"DROP TRIGGER IF EXISTS {self.name}"
