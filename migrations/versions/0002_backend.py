"""The lambda backend's function, fiblambda; the triggers stay on the sql backend.

`fibtrigger backend lambda --function-arn ARN` (or ``op.swap_backend`` in a
later revision) then points the triggers at fiblambda. Downgrading this
revision returns the triggers to the sql backend first (offline, with --sql,
it always rewrites them for sql: no database is read).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from alembic import op

import fibtrigger.schema.operations  # noqa: F401  (registers op.create_object, op.swap_backend, ...)
from fibtrigger.schema import mysql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _is_mysql() -> bool:
    return op.get_context().dialect.name in ("mysql", "mariadb")


def upgrade() -> None:
    if not _is_mysql():
        return  # SQLite has one backend, fibcomp's twin
    for obj in mysql.BACKEND_OBJECTS:
        op.create_object(obj)


def downgrade() -> None:
    if not _is_mysql():
        return
    op.swap_backend("sql", queue_columns=False)  # below revision 0003
    for obj in reversed(mysql.BACKEND_OBJECTS):
        op.drop_object(obj)
