"""share links count downloads by the bytes sent, in millionths of a download

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("share_links", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "download_units", sa.BigInteger(), nullable=False, server_default="0"
            )
        )
    # Each download counted so far was a whole one: a million millionths.
    op.execute(
        "UPDATE share_links"
        " SET download_units = CAST(download_count AS BIGINT) * 1000000"
    )
    with op.batch_alter_table("share_links", schema=None) as batch_op:
        batch_op.drop_column("download_count")


def downgrade():
    with op.batch_alter_table("share_links", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "download_count", sa.Integer(), nullable=False, server_default="0"
            )
        )
    # A part of a download counts as a whole one again.
    op.execute(
        "UPDATE share_links SET download_count = (download_units + 999999) / 1000000"
    )
    with op.batch_alter_table("share_links", schema=None) as batch_op:
        batch_op.drop_column("download_units")
