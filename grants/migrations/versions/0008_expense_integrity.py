"""what the integrity warnings of expense lines look up, indexed

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 18:20:00

"""
import re
import unicodedata

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_NOT_ALNUM = re.compile(r"[\W_]+")


def _normalise(text, limit):
    # grants.reports.models.normalise as it stood in this revision (a migration keeps its own).
    return _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", text or "").casefold())[:limit]


def upgrade():
    with op.batch_alter_table('expense_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('supplier_key', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('invoice_key', sa.String(length=100), nullable=True))

    conn = op.get_bind()
    lines = sa.table(
        'expense_lines',
        sa.column('id', sa.Integer),
        sa.column('supplier', sa.String),
        sa.column('invoice_number', sa.String),
        sa.column('supplier_key', sa.String),
        sa.column('invoice_key', sa.String),
    )
    rows = conn.execute(sa.select(lines.c.id, lines.c.supplier, lines.c.invoice_number)).all()
    for start in range(0, len(rows), 1000):
        conn.execute(
            lines.update()
            .where(lines.c.id == sa.bindparam('line_id'))
            .values(supplier_key=sa.bindparam('s_key'), invoice_key=sa.bindparam('i_key')),
            [
                {
                    'line_id': row.id,
                    's_key': _normalise(row.supplier, 200),
                    'i_key': _normalise(row.invoice_number, 100),
                }
                for row in rows[start:start + 1000]
            ],
        )

    with op.batch_alter_table('expense_lines', schema=None) as batch_op:
        batch_op.alter_column('supplier_key', existing_type=sa.String(length=200), nullable=False)
        batch_op.alter_column('invoice_key', existing_type=sa.String(length=100), nullable=False)
        batch_op.create_index(
            'ix_expense_lines_invoice_key', ['supplier_key', 'invoice_key'], unique=False
        )
        batch_op.create_index(
            'ix_expense_lines_supplier_date_amount',
            ['supplier_key', 'invoice_date', 'amount_cents'],
            unique=False,
        )

    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attachments_sha256'), ['sha256'], unique=False)


def downgrade():
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachments_sha256'))

    with op.batch_alter_table('expense_lines', schema=None) as batch_op:
        batch_op.drop_index('ix_expense_lines_supplier_date_amount')
        batch_op.drop_index('ix_expense_lines_invoice_key')
        batch_op.drop_column('invoice_key')
        batch_op.drop_column('supplier_key')
