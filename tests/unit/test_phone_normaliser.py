"""One phone-number normaliser (``domain.phones.to_e164``): the staff app's booking form reads what staff type
through it too, so a number means the same thing wherever it enters."""

from __future__ import annotations

import pytest

from domain.phones import to_e164
from ingress.errors import ApiError
from ingress.staff_app.bookings_pages import customer_phone


@pytest.mark.parametrize(
    "typed",
    ["(310) 555-0199", "310 555 0199", "310.555.0199", "1-310-555-0199", "+1 310 555 0199", " +13105550199 "],
)
def test_the_booking_form_reads_numbers_as_the_normaliser_does(typed: str) -> None:
    assert customer_phone(typed) == to_e164(typed.strip()) == "+13105550199"


def test_the_booking_form_takes_international_numbers_in_their_own_format() -> None:
    assert customer_phone("+44 20 7946 0958") == "+442079460958"


@pytest.mark.parametrize("typed", ["call me", "", "555-0199", "+1310", "12345"])
def test_what_is_not_a_number_to_text_is_a_422_saying_what_to_write(typed: str) -> None:
    with pytest.raises(ApiError) as refused:
        customer_phone(typed)
    assert refused.value.status_code == 422
