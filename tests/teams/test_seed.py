"""make dev's demo data includes a viewer in the customer's workspace (read-only demo)."""

from sqlalchemy import select

from devtools import seed
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Membership, User


def test_the_demo_workspace_has_a_viewer_and_seeding_twice_changes_nothing(app_ctx, dbconn):
    for _ in range(2):
        with db.scope(SYSTEM) as s:
            for step in seed.STEPS:
                step(s)
    with db.scope(SYSTEM) as s:
        rows = s.execute(
            select(User.email, Membership.role)
            .join(Membership, Membership.user_id == User.id)
            .where(User.email.in_([seed.CUSTOMER[1], seed.VIEWER[1]]))
        ).all()
    assert sorted(rows) == [(seed.CUSTOMER[1], "owner"), (seed.VIEWER[1], "viewer")]
