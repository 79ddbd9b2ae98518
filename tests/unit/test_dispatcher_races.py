"""When a dispatcher pauses after an empty claim (it lost a race) and when it does not (a lone dispatcher)."""

from __future__ import annotations

from workers.dispatcher import MAX_RACE_PAUSE_SECONDS, lost_the_race, race_pause_seconds


def test_a_notification_for_its_own_earlier_batch_is_not_a_lost_race() -> None:
    assert not lost_the_race(notified_seq=41, newest_claimed_seq=41)
    assert not lost_the_race(notified_seq=7, newest_claimed_seq=41)


def test_a_notification_for_newer_events_it_did_not_find_is_a_lost_race() -> None:
    assert lost_the_race(notified_seq=42, newest_claimed_seq=41)


def test_no_notification_means_a_poll_not_a_race() -> None:
    assert not lost_the_race(notified_seq=None, newest_claimed_seq=0)


def test_the_pause_doubles_from_5_ms_up_to_20_ms() -> None:
    assert [race_pause_seconds(n) for n in range(1, 5)] == [0.005, 0.01, 0.02, 0.02]
    assert race_pause_seconds(10_000) == MAX_RACE_PAUSE_SECONDS
