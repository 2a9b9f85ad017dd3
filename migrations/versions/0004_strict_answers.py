"""The triggers refuse an explicit hidden id; fiblambda accepts only an exact answer.

Both bodies come from fibtrigger.schema.mysql as it is now. Online, the triggers keep their
backend (the one the surviving trigger names, ``backend.backend_in``); offline (--sql) no
database is read, so the script writes them for the sql backend, as revision 0003 does: on
another backend, run `fibtrigger backend ...` after it. Downgrading puts back revision 0003's
triggers (no id guard) on the same backend and keeps the stricter fiblambda: its name and
signature, 0002's contract, are unchanged.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from alembic import context, op

import fibtrigger.schema.operations  # noqa: F401  (registers op.replace_object)
from fibtrigger import backend
from fibtrigger.schema import mysql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _is_mysql() -> bool:
    return op.get_context().dialect.name in ("mysql", "mariadb")


def _current_backend() -> backend.BackendState:
    if context.is_offline_mode():
        return backend.BackendState(backend.SQL)
    bind = op.get_bind()
    return backend.backend_in(dict(bind.exec_driver_sql(mysql.SELECT_TRIGGER_BODIES).all()))


def upgrade() -> None:
    if not _is_mysql():
        return  # SQLite: the rowid has no such hole, and there is no Lambda
    op.replace_object(mysql.FIBLAMBDA)
    for trigger in backend.triggers_for(_current_backend(), id_guard=True):
        op.replace_object(trigger)


def downgrade() -> None:
    if not _is_mysql():
        return
    for trigger in backend.triggers_for(_current_backend(), id_guard=False):
        op.replace_object(trigger)
