"""The fibonacci table, the fibcomp function (MySQL) and the triggers.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from alembic import op

import fibtrigger.schema.operations  # noqa: F401  (registers op.create_object and op.drop_object)
from fibtrigger.schema import dialect_module

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _objects():
    return dialect_module(op.get_context().dialect.name).OBJECTS


def upgrade() -> None:
    for obj in _objects():
        op.create_object(obj)


def downgrade() -> None:
    for obj in reversed(_objects()):
        op.drop_object(obj)
