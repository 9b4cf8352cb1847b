"""bank accounts of the cities, verified by four eyes, and the account copied on a payout

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 18:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('bank_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=False),
    sa.Column('holder', sa.String(length=200), nullable=False),
    sa.Column('iban', sa.String(length=34), nullable=False),
    sa.Column('bic', sa.String(length=11), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('proposed_by_id', sa.Integer(), nullable=False),
    sa.Column('proposed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('verified_by_id', sa.Integer(), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rejected_by_id', sa.Integer(), nullable=True),
    sa.Column('rejected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reject_comment', sa.Text(), nullable=True),
    sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'verified', 'rejected', 'superseded')", name=op.f('ck_bank_accounts_state_known')),
    sa.CheckConstraint('verified_by_id IS NULL OR verified_by_id <> proposed_by_id', name=op.f('ck_bank_accounts_four_eyes')),
    sa.CheckConstraint("state <> 'verified' OR verified_by_id IS NOT NULL", name=op.f('ck_bank_accounts_verified_by')),
    sa.CheckConstraint("state <> 'rejected' OR reject_comment IS NOT NULL", name=op.f('ck_bank_accounts_rejected_why')),
    sa.ForeignKeyConstraint(['city_id'], ['cities.id'], name=op.f('fk_bank_accounts_city_id_cities')),
    sa.ForeignKeyConstraint(['proposed_by_id'], ['users.id'], name=op.f('fk_bank_accounts_proposed_by_id_users')),
    sa.ForeignKeyConstraint(['verified_by_id'], ['users.id'], name=op.f('fk_bank_accounts_verified_by_id_users')),
    sa.ForeignKeyConstraint(['rejected_by_id'], ['users.id'], name=op.f('fk_bank_accounts_rejected_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_accounts'))
    )
    op.create_index(op.f('ix_bank_accounts_city_id'), 'bank_accounts', ['city_id'], unique=False)
    # At most one verified and one pending account per city (the last line behind the lock).
    op.create_index('uq_bank_accounts_one_verified', 'bank_accounts', ['city_id'], unique=True,
                    sqlite_where=sa.text("state = 'verified'"),
                    postgresql_where=sa.text("state = 'verified'"))
    op.create_index('uq_bank_accounts_one_pending', 'bank_accounts', ['city_id'], unique=True,
                    sqlite_where=sa.text("state = 'pending'"),
                    postgresql_where=sa.text("state = 'pending'"))
    # Payouts authorised before this revision have no copy: confirming them is refused
    # (account_changed) until they are cancelled and authorised against a verified account.
    with op.batch_alter_table('payouts') as batch_op:
        batch_op.add_column(sa.Column('account_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('account_holder', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('account_iban', sa.String(length=34), nullable=True))
        batch_op.add_column(sa.Column('account_bic', sa.String(length=11), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_payouts_account_id_bank_accounts'), 'bank_accounts', ['account_id'], ['id'])


def downgrade():
    with op.batch_alter_table('payouts') as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_payouts_account_id_bank_accounts'), type_='foreignkey')
        batch_op.drop_column('account_bic')
        batch_op.drop_column('account_iban')
        batch_op.drop_column('account_holder')
        batch_op.drop_column('account_id')
    op.drop_index('uq_bank_accounts_one_pending', table_name='bank_accounts')
    op.drop_index('uq_bank_accounts_one_verified', table_name='bank_accounts')
    op.drop_index(op.f('ix_bank_accounts_city_id'), table_name='bank_accounts')
    op.drop_table('bank_accounts')
