"""an index of trashed files per owner

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_nodes_owner_trashed",
            ["owner_id", "trashed_at"],
            unique=False,
            sqlite_where=sa.text("trashed_at IS NOT NULL"),
            postgresql_where=sa.text("trashed_at IS NOT NULL"),
        )


def downgrade():
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.drop_index("ix_nodes_owner_trashed")
