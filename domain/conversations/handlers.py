"""The conversations module's handlers, as the registry finds them: one ``subscriptions`` for every flow.

The flows live one per file in ``domain/conversations/flows/``; importing them here declares their handlers.
"""

from __future__ import annotations

from domain.conversations.flows.appointments import confirm_appointment
from domain.conversations.flows.callback_grace import (
    decide_first_response,
    record_answered_call,
    withhold_after_answered_call,
)
from domain.conversations.flows.callers import record_caller_name
from domain.conversations.flows.common import AUTOMATED_PURPOSES, subscriptions
from domain.conversations.flows.delivery_status import MessageNotYetKnown, apply_delivery_status
from domain.conversations.flows.first_response import greet_missed_caller
from domain.conversations.flows.opt_out import block_opted_out_caller
from domain.conversations.flows.replies import reply_to_caller
from domain.conversations.flows.sending import send_message
from domain.conversations.flows.write_back_tasks import open_write_back_task

__all__ = [
    "AUTOMATED_PURPOSES",
    "MessageNotYetKnown",
    "apply_delivery_status",
    "block_opted_out_caller",
    "confirm_appointment",
    "decide_first_response",
    "greet_missed_caller",
    "open_write_back_task",
    "record_answered_call",
    "record_caller_name",
    "reply_to_caller",
    "send_message",
    "subscriptions",
    "withhold_after_answered_call",
]
