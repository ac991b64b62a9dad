"""what each failed guess was at, so an address is judged by its spread

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        # Failures recorded before have none: they count towards an address's
        # volume but not towards its spread over accounts.
        batch_op.add_column(sa.Column("subject", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_column("subject")
