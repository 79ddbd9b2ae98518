"""Which tenant a request acts for (pure): explicit choice first, then the only or the default membership."""

from __future__ import annotations

import uuid

import pytest

from domain.identity.service import Conflict, NotAllowed, Principal, TenantRequired, choose_tenant

A, B, C = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def principal(default: uuid.UUID | None = A, org: uuid.UUID | None = None) -> Principal:
    return Principal("user_1", uuid.uuid4(), {A: "OWNER", B: "TECH"}, default, org)


def test_explicit_choices_win_and_must_name_a_membership() -> None:
    assert choose_tenant(principal(), B) == B
    assert choose_tenant(principal(org=B), None) == B
    assert choose_tenant(principal(org=B), B) == B
    with pytest.raises(Conflict):
        choose_tenant(principal(org=B), A)
    with pytest.raises(NotAllowed):
        choose_tenant(principal(), C)
    with pytest.raises(NotAllowed):
        choose_tenant(principal(org=C), None)


def test_naming_nothing_acts_for_the_only_or_the_default_membership() -> None:
    assert choose_tenant(principal(), None) == A
    assert choose_tenant(Principal("user_1", uuid.uuid4(), {B: "TECH"}), None) == B
    with pytest.raises(TenantRequired):
        choose_tenant(principal(default=None), None)
    with pytest.raises(NotAllowed):
        choose_tenant(Principal("user_1", None, {}), None)
