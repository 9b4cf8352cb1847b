"""the programme budget of each title year

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 18:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    # One row per title year: its programme budget (NULL: none set) and the row every raise of
    # the year's committed money locks before the title's row (grants/budget/services.py).
    op.create_table('title_years',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('budget_cents', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('budget_cents IS NULL OR budget_cents >= 0', name=op.f('ck_title_years_budget_not_negative')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_title_years_updated_by_id_users')),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_title_years'))
    )


def downgrade():
    op.drop_table('title_years')
