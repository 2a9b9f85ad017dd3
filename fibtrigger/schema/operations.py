"""fibtrigger's objects as Alembic operations: ``op.create_object``, ``op.replace_object``,
``op.drop_object`` and ``op.swap_backend``, with autogenerate support.

Only Alembic-using code imports this module (migrations/env.py, the migrations,
fibtrigger.check): ``import fibtrigger`` never loads Alembic.

Every statement goes through ``operations.execute``, Alembic's own execution
path: online it runs on the migration's connection, offline (``--sql``) it is
written to the script. For MySQL, a routine or trigger body holds semicolons,
so offline it is framed for the mysql/mariadb client the way mysqldump frames
it: ``DELIMITER ;;``, the statement ending in ``;;``, ``DELIMITER ;``.
"""

from dataclasses import fields

from alembic.autogenerate import comparators, renderers
from alembic.operations import MigrateOperation, Operations
from sqlalchemy.schema import DDL

from .. import backend
from . import dialect_module, mysql
from .live import compare_objects
from .objects import DatabaseObject, Trigger

MYSQL_DIALECTS = ("mysql", "mariadb")


def _is_mysql(operations) -> bool:
    return operations.get_context().dialect.name in MYSQL_DIALECTS


def _offline(operations) -> bool:
    return operations.get_context().impl.as_sql


def _execute(operations, statement: str, compound: bool = False) -> None:
    """One statement through Alembic. ``compound``: a body of several statements, which the
    mysql client reads whole only under another delimiter."""
    impl = operations.get_context().impl
    delimited = compound and impl.as_sql and _is_mysql(operations)
    if delimited:
        # Alembic ends each statement with its command terminator (;), so ";" + ";" closes it.
        impl.static_output(f"DELIMITER {impl.command_terminator * 2}")
        statement += impl.command_terminator
    # DDL: no bind parameters are parsed out of the text (an ARN's colons stay); a literal
    # % is written %% in a DDL statement.
    operations.execute(DDL(statement.replace("%", "%%")))
    if delimited:
        impl.static_output(f"DELIMITER {impl.command_terminator}")


def _locked(operations, table: str, statements: list[tuple[str, bool]]) -> None:
    """MySQL: run ``statements`` under LOCK TABLES table WRITE, so no insert runs between a
    DROP TRIGGER and its CREATE TRIGGER; the unlock runs even when one fails."""
    _execute(operations, mysql.SET_LOCK_WAIT_TIMEOUT.format(seconds=backend.DEFAULT_LOCK_WAIT_SECONDS))
    _execute(operations, mysql.LOCK_TABLE_WRITE.format(table=table))
    try:
        for statement, compound in statements:
            _execute(operations, statement, compound)
    finally:
        _execute(operations, mysql.UNLOCK_TABLES)


# ---- the operations ----------------------------------------------------------------


class ObjectOp(MigrateOperation):
    def __init__(self, target: DatabaseObject) -> None:
        self.target = target

    verb = "object"

    @classmethod
    def invoke_for_target(cls, operations, target: DatabaseObject):
        """``op.<verb>(target)`` (registered with this as its source method, as alembic_utils does)."""
        return operations.invoke(cls(target))

    def to_diff_tuple(self) -> tuple:
        # What `alembic check` lists; `fibtrigger check` shows the full diff.
        return (self.verb, self.target.label())


@Operations.register_operation("create_object", "invoke_for_target")
class CreateObjectOp(ObjectOp):
    """``op.create_object(obj)``: CREATE TABLE / FUNCTION / TRIGGER."""

    verb = "create_object"

    def reverse(self):
        return DropObjectOp(self.target)


@Operations.register_operation("drop_object", "invoke_for_target")
class DropObjectOp(ObjectOp):
    """``op.drop_object(obj)``: DROP ... IF EXISTS."""

    verb = "drop_object"

    def reverse(self):
        return CreateObjectOp(self.target)


@Operations.register_operation("replace_object", "invoke_for_target")
class ReplaceObjectOp(ObjectOp):
    """``op.replace_object(obj)``: drop, then create with the new definition. ``previous`` (known
    to autogenerate: the live definition) makes it reversible."""

    verb = "replace_object"

    def __init__(self, target: DatabaseObject, previous: DatabaseObject | None = None) -> None:
        super().__init__(target)
        self.previous = previous

    def reverse(self):
        if self.previous is None:
            raise NotImplementedError("replace_object without the previous definition cannot be reversed")
        return ReplaceObjectOp(self.previous, self.target)


@Operations.register_operation("swap_backend")
class SwapBackendOp(MigrateOperation):
    """``op.swap_backend("lambda", function_arn=ARN)``, ``op.swap_backend("queue", function_arn=ARN)``
    or ``op.swap_backend("sql")``.

    Online it is the swap of `fibtrigger backend`: a no-op when the triggers already use
    the target, refused when the lambda backend has no lambda_sync. Offline (``--sql``) no
    database is read, so the script always replaces both triggers with the target's, under
    LOCK TABLES; whether the server has lambda_sync is then the DBA's to check
    (`fibtrigger doctor`). ``queue_columns``: the schema has revision 0003's queue columns
    (only a revision before 0003 passes False; online the swap finds out itself). On
    SQLite, which has one backend, it does nothing."""

    def __init__(self, backend_name: str, function_arn: str | None = None, *, queue_columns: bool = True) -> None:
        self.backend = backend_name
        self.function_arn = function_arn
        self.queue_columns = queue_columns

    @classmethod
    def swap_backend(
        cls, operations, backend_name: str, function_arn: str | None = None, *, queue_columns: bool = True
    ):
        return operations.invoke(cls(backend_name, function_arn, queue_columns=queue_columns))

    def reverse(self):
        return SwapBackendOp(backend.SQL)

    def to_diff_tuple(self) -> tuple:
        return ("swap_backend", str(backend.BackendState(self.backend, self.function_arn)))


@Operations.implementation_for(CreateObjectOp)
def _create_object(operations, operation: CreateObjectOp) -> None:
    _execute(operations, operation.target.create_sql(), operation.target.compound)


@Operations.implementation_for(DropObjectOp)
def _drop_object(operations, operation: DropObjectOp) -> None:
    _execute(operations, operation.target.drop_sql())


@Operations.implementation_for(ReplaceObjectOp)
def _replace_object(operations, operation: ReplaceObjectOp) -> None:
    target = operation.target
    statements = [(target.drop_sql(), False), (target.create_sql(), target.compound)]
    if isinstance(target, Trigger) and _is_mysql(operations):
        _locked(operations, target.table, statements)
        return
    for statement, compound in statements:
        _execute(operations, statement, compound)


@Operations.implementation_for(SwapBackendOp)
def _swap_backend(operations, operation: SwapBackendOp) -> None:
    if not _is_mysql(operations):
        return  # SQLite has one backend
    target = backend.check_target(backend.BackendState(operation.backend, operation.function_arn))
    if _offline(operations):
        lock, replace, unlock = backend.swap_statements(target, queue_columns=operation.queue_columns)
        for statement in lock:
            _execute(operations, statement)
        try:
            for statement in replace:
                _execute(operations, statement, compound=statement.startswith("CREATE TRIGGER"))
            if operation.queue_columns and target.name != backend.QUEUE:
                _execute(operations, mysql.COMPUTE_WAITING)
        finally:
            _execute(operations, unlock)
        return
    backend.swap(operations.get_bind(), target, execute=lambda statement: _execute(operations, statement))


# ---- autogenerate: compare, then render the operations into the migration --------------

#: The key in target_metadata.info that turns the comparison on (migrations/env.py sets it),
#: so other projects' autogenerate runs in the same process are left alone.
METADATA_KEY = "fibtrigger"


def target_metadata(dialect_name: str):
    """The declared tables as SQLAlchemy metadata, marked for the comparison of routines and triggers."""
    metadata = dialect_module(dialect_name).METADATA
    metadata.info[METADATA_KEY] = True
    return metadata


def include_object(item, name, type_, reflected, compare_to) -> bool:
    """Alembic's own comparison covers only the declared tables, and only when the database has
    them: a missing one is created by op.create_object (as declared, INVISIBLE key and all)."""
    return type_ != "table" or compare_to is not None


@comparators.dispatch_for("schema")
def _compare_objects(autogen_context, upgrade_ops, schemas) -> None:
    metadata = autogen_context.metadata
    if metadata is None or isinstance(metadata, (list, tuple)) or not metadata.info.get(METADATA_KEY):
        return
    upgrade_ops.ops.extend(drift_operations(autogen_context.connection))


def drift_operations(connection) -> list[ObjectOp]:
    """The operations that bring the live objects back to the declared ones."""
    operations: list[ObjectOp] = []
    for drift in compare_objects(connection):
        declared, live = drift.declared, drift.live
        if declared is not None and live is not None:
            operations.append(ReplaceObjectOp(declared, previous=live))
        elif declared is not None:
            operations.append(CreateObjectOp(declared))
        elif live is not None:
            operations.append(DropObjectOp(live))
    return operations


def _render_text(value: str) -> str:
    lines = value.splitlines(keepends=True)
    if len(lines) < 2:
        return repr(value)
    return "(\n" + "".join(f"            {line!r}\n" for line in lines) + "        )"


def _render_object(autogen_context, target: DatabaseObject) -> str:
    cls = type(target)
    autogen_context.imports.add(f"from {cls.__module__} import {cls.__name__}")
    autogen_context.imports.add("import fibtrigger.schema.operations  # noqa: F401  (registers op.*_object)")
    arguments = "".join(
        f"        {field.name}={_render_text(getattr(target, field.name))},\n"
        for field in fields(target)  # type: ignore[arg-type]  # each kind of object is a dataclass
    )
    return f"{cls.__name__}(\n{arguments}    )"


def _render_call(verb: str):
    def render(autogen_context, operation: ObjectOp) -> str:
        return f"op.{verb}(\n    {_render_object(autogen_context, operation.target)}\n)"

    return render


renderers.dispatch_for(CreateObjectOp)(_render_call("create_object"))
renderers.dispatch_for(DropObjectOp)(_render_call("drop_object"))
renderers.dispatch_for(ReplaceObjectOp)(_render_call("replace_object"))


@renderers.dispatch_for(SwapBackendOp)
def _render_swap_backend(autogen_context, operation: SwapBackendOp) -> str:
    autogen_context.imports.add("import fibtrigger.schema.operations  # noqa: F401  (registers op.swap_backend)")
    if operation.function_arn is None:
        return f"op.swap_backend({operation.backend!r})"
    return f"op.swap_backend({operation.backend!r}, function_arn={operation.function_arn!r})"
