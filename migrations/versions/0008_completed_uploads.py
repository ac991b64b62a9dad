"""completed resumable uploads stay until they expire

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("resumable_uploads", schema=None) as batch_op:
        # Uploads under way have not become a file yet.
        batch_op.add_column(sa.Column("file_id", sa.String(length=32), nullable=True))


def downgrade():
    # Rows of completed uploads would read as uploads still waiting for bytes.
    op.execute("DELETE FROM resumable_uploads WHERE file_id IS NOT NULL")
    with op.batch_alter_table("resumable_uploads", schema=None) as batch_op:
        batch_op.drop_column("file_id")
