"""grant agreements: the issued PDF of each version, the city's signature and the countersignature

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 18:15:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('grant_agreements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grant_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('terms_sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('city_signed_by_id', sa.Integer(), nullable=True),
    sa.Column('city_signatory_name', sa.String(length=200), nullable=True),
    sa.Column('city_signed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('city_signed_from', sa.String(length=64), nullable=True),
    sa.Column('city_signed_sha256', sa.String(length=64), nullable=True),
    sa.Column('countersigned_by_id', sa.Integer(), nullable=True),
    sa.Column('countersigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('awaiting_city', 'awaiting_countersignature', 'signed')", name=op.f('ck_grant_agreements_state_known')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_grant_agreements_version_positive')),
    sa.CheckConstraint("state = 'awaiting_city' OR (city_signed_by_id IS NOT NULL AND city_signed_at IS NOT NULL AND city_signatory_name IS NOT NULL)", name=op.f('ck_grant_agreements_city_signed')),
    sa.CheckConstraint("state <> 'signed' OR (countersigned_by_id IS NOT NULL AND countersigned_at IS NOT NULL)", name=op.f('ck_grant_agreements_countersigned')),
    sa.CheckConstraint('countersigned_by_id IS NULL OR countersigned_by_id <> city_signed_by_id', name=op.f('ck_grant_agreements_two_people')),
    sa.ForeignKeyConstraint(['grant_id'], ['grants.id'], name=op.f('fk_grant_agreements_grant_id_grants')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_grant_agreements_issued_by_id_users')),
    sa.ForeignKeyConstraint(['city_signed_by_id'], ['users.id'], name=op.f('fk_grant_agreements_city_signed_by_id_users')),
    sa.ForeignKeyConstraint(['countersigned_by_id'], ['users.id'], name=op.f('fk_grant_agreements_countersigned_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grant_agreements')),
    sa.UniqueConstraint('grant_id', 'version', name='uq_grant_agreements_grant_version')
    )
    with op.batch_alter_table('grant_agreements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grant_agreements_grant_id'), ['grant_id'], unique=False)


def downgrade():
    with op.batch_alter_table('grant_agreements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grant_agreements_grant_id'))

    op.drop_table('grant_agreements')
