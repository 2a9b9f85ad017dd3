"""Database objects that know their SQL: create, drop, replace, and a canonical form to compare.

Modelled on alembic_utils' ReplaceableEntity: a migration holds the object and
calls ``op.create_object`` / ``op.replace_object`` / ``op.drop_object``
(fibtrigger.schema.operations) instead of pasting SQL strings. This module
imports no Alembic: the backend swap and the drift check use it too.
"""

import dataclasses
import re
from dataclasses import dataclass

from .canonical import canonical_sql, canonical_type, split_top_level


class DatabaseObject:
    name: str
    kind: str = "object"  # "table", "function" or "trigger": what the drift check and the ops print
    # A body of several statements (BEGIN ... END): the mysql client needs a DELIMITER around it.
    compound: bool = False

    def create_sql(self) -> str:
        raise NotImplementedError

    def drop_sql(self) -> str:
        raise NotImplementedError

    def replace_sql(self) -> tuple[str, ...]:
        """Drop if present, then create. MySQL has no CREATE OR REPLACE for these."""
        return (self.drop_sql(), self.create_sql())

    def canonical(self) -> str:
        """A text equal for two definitions the server treats alike (whitespace, comments, case)."""
        return canonical_sql(self.create_sql())

    def label(self) -> str:
        return f"{self.kind} {self.name}"

    def spelled_like(self, other: "DatabaseObject") -> "DatabaseObject":
        """This object, its parts that equal ``other``'s but for spelling written as ``other``
        writes them: a diff of the two then shows only what differs."""
        return self

    def replace(self, connection) -> None:
        """Outside Alembic: drop and create on a SQLAlchemy connection."""
        for statement in self.replace_sql():
            connection.exec_driver_sql(statement)


@dataclass(frozen=True)
class Table(DatabaseObject):
    name: str
    columns: str  # the text between the parentheses of CREATE TABLE
    options: str = ""
    kind = "table"

    def create_sql(self) -> str:
        return f"CREATE TABLE {self.name} (\n{self.columns}\n){self.options}"

    def drop_sql(self) -> str:
        return f"DROP TABLE IF EXISTS {self.name}"


_CHARACTERISTIC = re.compile(
    r"NOT\s+DETERMINISTIC|DETERMINISTIC|CONTAINS\s+SQL|NO\s+SQL|READS\s+SQL\s+DATA|MODIFIES\s+SQL\s+DATA"
    r"|SQL\s+SECURITY\s+(?:DEFINER|INVOKER)|LANGUAGE\s+SQL|COMMENT\s+'(?:[^'\\]|\\.|'')*'",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class StoredFunction(DatabaseObject):
    name: str
    parameters: str
    returns: str
    characteristics: str
    body: str
    kind = "function"
    compound = True

    def create_sql(self) -> str:
        return (
            f"CREATE FUNCTION {self.name}({self.parameters}) RETURNS {self.returns}\n"
            f"{self.characteristics}\n{self.body}"
        )

    def drop_sql(self) -> str:
        return f"DROP FUNCTION IF EXISTS {self.name}"

    def canonical(self) -> str:
        """Parameter types without display widths, characteristics in a fixed order with their
        defaults, the body as canonical_sql: what information_schema gives back compares equal."""
        parameters = []
        for parameter in split_top_level(self.parameters):
            name, _, declared_type = parameter.strip().partition(" ")
            parameters.append(f"{name.strip('`').lower()} {canonical_type(declared_type)}")
        return "\n".join(
            [
                f"function {self.name.lower()}({', '.join(parameters)}) returns {canonical_type(self.returns)}",
                self.canonical_characteristics(),
                canonical_sql(self.body),
            ]
        )

    def spelled_like(self, other: DatabaseObject) -> DatabaseObject:
        if not isinstance(other, StoredFunction):
            return self
        header = self.canonical().split("\n")[:2]
        if header != other.canonical().split("\n")[:2]:
            return self
        spelling = {"parameters": other.parameters, "returns": other.returns, "characteristics": other.characteristics}
        return dataclasses.replace(self, **spelling)

    def canonical_characteristics(self) -> str:
        found = {"deterministic": "not deterministic", "access": "contains sql", "security": "sql security definer"}
        rest = _CHARACTERISTIC.sub("", self.characteristics).strip()
        if rest:
            return f"unparsed characteristics: {self.characteristics}"
        for match in _CHARACTERISTIC.finditer(self.characteristics):
            text = " ".join(match.group(0).split())
            lowered = text.lower()
            if lowered.endswith("deterministic"):
                found["deterministic"] = lowered
            elif lowered.startswith("sql security"):
                found["security"] = lowered
            elif lowered.startswith("comment"):
                if text[len("COMMENT") :].strip() != "''":
                    found["comment"] = "comment " + text[len("COMMENT") :].strip()
            elif not lowered.startswith("language"):
                found["access"] = lowered
        return " ".join(found.values())


@dataclass(frozen=True)
class Trigger(DatabaseObject):
    name: str
    table: str
    timing: str  # e.g. "BEFORE INSERT"
    body: str
    for_each_row: str = "FOR EACH ROW"  # SQLite spells a trigger the same way
    kind = "trigger"
    compound = True

    def create_sql(self) -> str:
        return f"CREATE TRIGGER {self.name} {self.timing} ON {self.table} {self.for_each_row}\n{self.body}"

    def drop_sql(self) -> str:
        return f"DROP TRIGGER IF EXISTS {self.name}"
