"""Drift: where the live database differs from what revision head declares. The twin of `fibtrigger check`.

It is Alembic's own comparison (``alembic check``): the table's columns
against the SQLAlchemy metadata, and the routines and triggers through the
comparator in fibtrigger.schema.operations. Each drift carries the declared
and the live definition, and their unified diff.
"""

import difflib
from dataclasses import dataclass

from alembic.autogenerate import produce_migrations
from alembic.operations import ops
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL

from . import migrate
from .config import database_url
from .database import translated
from .errors import PermissionDenied, SchemaNotInstalled
from .schema import operations as object_operations


@dataclass(frozen=True)
class Drift:
    """``change``: missing (declared, not on the server), differs, or undeclared (on the server only)."""

    kind: str  # table, column, function or trigger
    name: str
    change: str
    declared: str
    live: str

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"

    def diff(self) -> str:
        """Declared (-) against live (+), as `diff -u` shows it."""
        lines = difflib.unified_diff(
            self.declared.splitlines(),
            self.live.splitlines(),
            fromfile=f"declared {self.label}",
            tofile=f"live {self.label}",
            lineterm="",
        )
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "name": self.name,
            "change": self.change,
            "declared": self.declared,
            "live": self.live,
            "diff": self.diff(),
        }


def drift(url: str | URL | None = None) -> list[Drift]:
    """Every drift of the database at ``url`` (default: FIBTRIGGER_DATABASE_URL); [] when in sync.
    SchemaNotInstalled when it is not at revision head: then there is nothing to compare yet."""
    url = database_url(url)
    engine = migrate.migration_engine(url)
    try:
        with translated(url, dialect=engine.dialect) as call, engine.connect() as connection:
            call.connected = True
            return drift_of(connection)
    except PermissionDenied as error:
        raise PermissionDenied(
            f"this account may not read what check compares (the schema revision, the functions and triggers): "
            f"run it as the migrator, the account that ran `fibtrigger migrate` ({error})"
        ) from None
    finally:
        engine.dispose()


def drift_of(connection) -> list[Drift]:
    context = MigrationContext.configure(connection)
    revision = context.get_current_revision()
    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    if revision != head:
        raise SchemaNotInstalled(
            f"the schema is at revision {revision or 'nothing installed'}, head is {head}: "
            "run `fibtrigger migrate` first, then check"
        )
    metadata = object_operations.target_metadata(connection.dialect.name)
    context = MigrationContext.configure(
        connection, opts={"target_metadata": metadata, "include_object": object_operations.include_object}
    )
    script = produce_migrations(context, metadata)
    drifts: list[Drift] = []
    for upgrade_ops in script.upgrade_ops_list:
        for operation in upgrade_ops.ops:
            drifts += _drifts_of(operation, connection.dialect)
    return drifts


def _drifts_of(operation, dialect) -> list[Drift]:
    if isinstance(operation, object_operations.CreateObjectOp):
        target = operation.target
        return [Drift(target.kind, target.name, "missing", target.create_sql(), "")]
    if isinstance(operation, object_operations.DropObjectOp):
        target = operation.target
        return [Drift(target.kind, target.name, "undeclared", "", target.create_sql())]
    if isinstance(operation, object_operations.ReplaceObjectOp):
        target, previous = operation.target, operation.previous
        live = previous.spelled_like(target) if previous is not None else target
        return [Drift(target.kind, target.name, "differs", target.create_sql(), live.create_sql())]
    if isinstance(operation, ops.ModifyTableOps):
        return [drift for inner in operation.ops for drift in _column_drifts(operation.table_name, inner, dialect)]
    return [Drift("table", "?", "differs", "", repr(operation.to_diff_tuple()))]


def _column_drifts(table: str, operation, dialect) -> list[Drift]:
    if isinstance(operation, ops.AlterColumnOp):
        declared_type = operation.modify_type if operation.modify_type is not None else operation.existing_type
        declared_null = operation.modify_nullable
        if declared_null is None:
            declared_null = operation.existing_nullable
        return [
            Drift(
                "column",
                f"{table}.{operation.column_name}",
                "differs",
                _column_text(operation.column_name, declared_type, declared_null, dialect),
                _column_text(operation.column_name, operation.existing_type, operation.existing_nullable, dialect),
            )
        ]
    if isinstance(operation, ops.AddColumnOp):
        column = operation.column
        text = _column_text(column.name, column.type, column.nullable, dialect)
        return [Drift("column", f"{table}.{column.name}", "missing", text, "")]
    if isinstance(operation, ops.DropColumnOp):
        column = operation.to_column()
        text = _column_text(column.name, column.type, column.nullable, dialect)
        return [Drift("column", f"{table}.{column.name}", "undeclared", "", text)]
    return [Drift("table", table, "differs", "", repr(operation.to_diff_tuple()))]


def _column_text(name: str, column_type, nullable, dialect) -> str:
    text = f"{name} {column_type.compile(dialect=dialect)}" if column_type is not None else name
    if nullable is not None:
        text += " NULL" if nullable else " NOT NULL"
    return text
