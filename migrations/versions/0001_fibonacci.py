"""The fibonacci table, the fibcomp function (MySQL) and the triggers.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from alembic import op

from fibtrigger.schema import dialect_module

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    for obj in dialect_module(bind.dialect.name).OBJECTS:
        obj.create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for obj in reversed(dialect_module(bind.dialect.name).OBJECTS):
        obj.drop(bind)
