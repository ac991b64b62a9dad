"""the file types an upload link accepts

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("share_links", schema=None) as batch_op:
        # Links made before take any type, as they did.
        batch_op.add_column(sa.Column("allowed_types", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("share_links", schema=None) as batch_op:
        batch_op.drop_column("allowed_types")
