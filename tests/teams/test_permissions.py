"""The permission map's own rules, beyond what the HTTP matrix shows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from railsaas.errors import Forbidden, NotFound
from railsaas.permissions import (
    PERMISSIONS,
    PLATFORM_STAFF,
    ROLES,
    authorize,
    can,
    roles_allowed_to_grant,
)


@dataclass
class As:
    role: str


def test_every_action_names_known_roles_and_the_owner_may_do_everything():
    for action, roles in PERMISSIONS.items():
        assert roles <= set(ROLES), action
        assert "owner" in roles, action


def test_roles_are_nested_each_may_do_what_the_ones_below_may():
    for action, roles in PERMISSIONS.items():
        ranks = [r in roles for r in ROLES]  # owner, admin, member, viewer
        assert ranks == sorted(ranks, reverse=True), action


def test_an_unknown_action_is_a_programming_error_not_a_refusal():
    with pytest.raises(ValueError, match="unknown action"):
        can(As("owner"), "instance.deploi")
    with pytest.raises(ValueError, match="unknown action"):
        authorize(As("owner"), "billing.manager")


def test_no_workspace_is_not_found_and_a_strange_role_gets_nothing():
    with pytest.raises(NotFound):
        authorize(None, "workspace.view")
    with pytest.raises(Forbidden):
        authorize(As("platform_admin"), "workspace.view")  # a role string is not staff
    assert not can(As(""), "workspace.view")


def test_members_delete_only_instances_they_deployed():
    me, someone = uuid.uuid4(), uuid.uuid4()
    assert can(As("member"), "instance.delete", owner_id=me, user_id=me)
    assert not can(As("member"), "instance.delete", owner_id=someone, user_id=me)
    assert not can(As("member"), "instance.delete", owner_id=None, user_id=me)
    assert not can(As("viewer"), "instance.delete", owner_id=me, user_id=me)
    assert can(As("admin"), "instance.delete", owner_id=someone, user_id=me)


def test_platform_staff_may_act_in_any_workspace():
    assert all(can(PLATFORM_STAFF, action) for action in PERMISSIONS)


def test_who_may_grant_which_role():
    assert roles_allowed_to_grant(As("owner")) == ("owner", "admin", "member", "viewer")
    assert roles_allowed_to_grant(As("admin")) == ("admin", "member", "viewer")
    assert roles_allowed_to_grant(As("member")) == ()
    assert roles_allowed_to_grant(None) == ()
