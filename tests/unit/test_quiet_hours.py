"""Quiet hours by the recipient's state: the rules as data, the place from the number, DST and time zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.compliance import quiet_hours as qh

MIAMI = "+13055550100"  # Florida, Eastern
TULSA = "+19185550123"  # Oklahoma, Central
BALTIMORE = "+14105550100"  # Maryland, Eastern
NEW_YORK = "+12125550100"  # no state rule, Eastern
PHOENIX = "+16025550100"  # Arizona: no DST
HONOLULU = "+18085550100"


def local(zone: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone)).astimezone(UTC)  # type: ignore[misc]


def test_the_place_comes_from_the_number() -> None:
    assert qh.whereabouts_of_number(MIAMI) == qh.Whereabouts(frozenset({"FL"}), ("America/New_York",))
    assert qh.whereabouts_of_number(TULSA) == qh.Whereabouts(frozenset({"OK"}), ("America/Chicago",))
    assert qh.whereabouts_of_number(NEW_YORK).states == frozenset({"NY"})
    assert qh.state_code("Miami, FL") == "FL"
    assert qh.state_code("Maryland") == "MD"
    assert qh.state_code("Mars") is None


def test_the_federal_window_is_8_to_9_and_florida_oklahoma_maryland_8_to_8() -> None:
    at = local("America/New_York", 2026, 6, 10, 20, 30)
    new_york = qh.assess(qh.whereabouts_of_number(NEW_YORK), now=at)
    assert new_york.send_now
    assert new_york.rule_id == "us-tcpa"
    for number, rule in ((MIAMI, "us-fl-ftsa"), (BALTIMORE, "us-md-stsca")):
        verdict = qh.assess(qh.whereabouts_of_number(number), now=at)
        assert not verdict.send_now
        assert (verdict.rule_id, verdict.rule_version, verdict.reason) == (
            rule,
            1,
            "quiet_hours",
        )
        assert verdict.not_before == local("America/New_York", 2026, 6, 11, 8, 0)
    early = qh.assess(qh.whereabouts_of_number(TULSA), now=local("America/Chicago", 2026, 6, 10, 7, 59))
    assert early.not_before == local("America/Chicago", 2026, 6, 10, 8, 0)
    assert early.rule_id == "us-ok-otsa"


def test_deferral_across_the_spring_dst_change_lands_on_8_am_local() -> None:
    # 9:30 pm EST on Saturday 7 March 2026; clocks jump 2 am → 3 am on Sunday, so 8 am
    # EDT is 9.5 hours later, not the 10.5 the wall clock shows.
    at = local("America/New_York", 2026, 3, 7, 21, 30)
    verdict = qh.assess(qh.whereabouts_of_number(NEW_YORK), now=at)
    assert verdict.not_before == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
    assert verdict.not_before - at == timedelta(hours=9, minutes=30)


def test_deferral_across_the_autumn_dst_change_lands_on_8_am_local() -> None:
    at = local("America/New_York", 2026, 10, 31, 22, 0)  # EDT; clocks fall back on 1 November: 10 wall hours are 11
    verdict = qh.assess(qh.whereabouts_of_number(MIAMI), now=at)
    assert verdict.not_before == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)  # 8 am EST
    assert verdict.not_before - at == timedelta(hours=11)


def test_one_moment_is_quiet_in_one_zone_and_open_in_another() -> None:
    at = datetime(2026, 1, 15, 17, 30, tzinfo=UTC)  # 12:30 pm New York, 7:30 am Honolulu
    assert qh.assess(qh.whereabouts_of_number(NEW_YORK), now=at).send_now
    honolulu = qh.assess(qh.whereabouts_of_number(HONOLULU), now=at)
    assert honolulu.not_before == local("Pacific/Honolulu", 2026, 1, 15, 8, 0)
    # Arizona keeps standard time all year: in July 8 am there is 15:00 UTC, while 8 am in New York is 12:00 UTC.
    summer = datetime(2026, 7, 1, 14, 0, tzinfo=UTC)
    assert qh.assess(qh.whereabouts_of_number(NEW_YORK), now=summer).send_now
    assert qh.assess(qh.whereabouts_of_number(PHOENIX), now=summer).not_before == datetime(
        2026, 7, 1, 15, 0, tzinfo=UTC
    )


def test_a_booking_address_in_another_state_narrows_the_window_to_both() -> None:
    # A New York number whose booking is in Tulsa: 8 pm in Tulsa is past Oklahoma's window, though 9 pm in New York.
    at = local("America/Chicago", 2026, 6, 10, 20, 15)
    place = qh.whereabouts(NEW_YORK, address_state="Oklahoma", address_zone="America/Chicago")
    verdict = qh.assess(place, now=at)
    assert (verdict.send_now, verdict.rule_id) == (False, "us-ok-otsa")
    assert verdict.not_before == local("America/Chicago", 2026, 6, 11, 8, 0)


def test_three_per_24_hours_in_capped_states_defers_the_fourth() -> None:
    at = local("America/New_York", 2026, 6, 10, 12, 0)
    recent = [at - timedelta(hours=h) for h in (20, 3, 1)]
    verdict = qh.assess(qh.whereabouts_of_number(MIAMI), now=at, recent=recent)
    assert (verdict.send_now, verdict.reason) == (False, "daily_cap")
    assert verdict.not_before == at + timedelta(hours=4)  # when the oldest of the three is 24 hours old
    # No cap in a state without one.
    assert qh.assess(qh.whereabouts_of_number(NEW_YORK), now=at, recent=recent).send_now


def test_a_cap_that_frees_at_night_waits_for_the_morning() -> None:
    at = local("America/New_York", 2026, 6, 10, 19, 0)
    recent = [local("America/New_York", 2026, 6, 9, 22, 0), at - timedelta(hours=2), at - timedelta(hours=1)]
    verdict = qh.assess(qh.whereabouts_of_number(MIAMI), now=at, recent=recent)
    assert verdict.not_before == local("America/New_York", 2026, 6, 11, 8, 0)


def test_an_unknown_number_falls_back_to_the_tenant_zone_under_the_federal_rule() -> None:
    at = local("America/Los_Angeles", 2026, 6, 10, 21, 30)
    verdict = qh.assess(qh.Whereabouts(frozenset(), ()), now=at, fallback_zone="America/Los_Angeles")
    assert verdict.rule_id == "us-tcpa"
    assert verdict.not_before == local("America/Los_Angeles", 2026, 6, 11, 8, 0)


def test_every_rule_has_a_unique_id_and_version_and_a_source() -> None:
    assert len({(rule.id, rule.version) for rule in qh.RULES}) == len(qh.RULES)
    assert all(rule.source and rule.earliest < rule.latest for rule in qh.RULES)
