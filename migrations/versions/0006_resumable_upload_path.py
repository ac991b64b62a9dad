"""the folder path of a resumable upload

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("resumable_uploads", schema=None) as batch_op:
        # Uploads already under way had no path: they land in their folder.
        batch_op.add_column(
            sa.Column("path", sa.Text(), nullable=False, server_default="")
        )


def downgrade():
    with op.batch_alter_table("resumable_uploads", schema=None) as batch_op:
        batch_op.drop_column("path")
