"""sign-in failures and locks in the database

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 03:05:10.236218

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    # Counted in Redis before this revision: those counts are not carried over (a lock lasts
    # five minutes, a count fifteen).
    op.create_table('signin_lockouts',
    sa.Column('account', sa.String(length=254), nullable=False),
    sa.Column('failures', sa.JSON(), nullable=False),
    sa.Column('locked_until', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('account', name=op.f('pk_signin_lockouts'))
    )


def downgrade():
    op.drop_table('signin_lockouts')
