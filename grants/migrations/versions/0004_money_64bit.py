"""money columns 64-bit everywhere

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 17:20:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

COLUMNS = {
    'titles': [('cap_cents', False), ('committed_cents', False)],
    'grants': [('requested_cents', False), ('approved_cents', True), ('payout_cents', False)],
    'budget_lines': [('amount_cents', False)],
    'payouts': [('amount_cents', False)],
}


def _alter(new, old):
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, nullable in columns:
                batch_op.alter_column(
                    name, existing_type=old(), type_=new(), existing_nullable=nullable
                )


def upgrade():
    _alter(sa.BigInteger, sa.Integer)


def downgrade():
    _alter(sa.Integer, sa.BigInteger)
