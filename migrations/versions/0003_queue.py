"""The queue backend's bookkeeping: value may be NULL while a row waits; INVISIBLE queue columns.

Adds the columns (queue_state, attempts, due_at, claim_token, claimed_by, last_error,
queued_at, done_at; all INVISIBLE, so `SELECT *` still shows fib, value), the claim index
on due_at, a CHECK that value is NULL exactly while a row is not done, the
fibtrigger_settings table (the queue's function ARN), and recreates the triggers on
their current backend so that they keep the bookkeeping in step. Downgrading first
swaps a queue backend to sql, which computes every waiting row.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from alembic import context, op

import fibtrigger.schema.operations  # noqa: F401  (registers op.create_object, op.swap_backend, ...)
from fibtrigger import backend
from fibtrigger.schema import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _is_mysql() -> bool:
    return op.get_context().dialect.name in ("mysql", "mariadb")


def _current_backend() -> backend.BackendState:
    # Offline (`alembic upgrade head --sql`) no database is read: the script writes the
    # triggers for sql, the backend revision 0001 installs.
    if context.is_offline_mode():
        return backend.BackendState(backend.SQL)
    return backend.backend_of(op.get_bind())


def upgrade() -> None:
    if not _is_mysql():
        return  # SQLite has one backend, which always computes
    state = _current_backend()
    op.execute(mysql.ADD_QUEUE_COLUMNS)
    op.create_object(mysql.SETTINGS)
    for trigger in backend.triggers_for(state, queue_columns=True):
        op.replace_object(trigger)


def downgrade() -> None:
    if not _is_mysql():
        return
    state = _current_backend()
    if state.name == backend.QUEUE or context.is_offline_mode():
        # Computes every waiting row, so none is NULL afterwards. Offline the backend is unknown:
        # the script swaps to sql whatever it is, as revision 0002's downgrade does.
        op.swap_backend(backend.SQL)
        state = backend.BackendState(backend.SQL)
    for trigger in backend.triggers_for(state, queue_columns=False):
        op.replace_object(trigger)
    op.drop_object(mysql.SETTINGS)
    op.execute(mysql.DROP_QUEUE_COLUMNS)
