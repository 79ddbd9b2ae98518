"""The conversation engine: caller text in, grounded reply out, behind the :class:`BookingTools` port.

``make_engine(settings)`` gives the configured engine (built-in by default, or the OpenAI-compatible LLM engine
with the built-in one as its timeout fallback), always wrapped in the grounded-claims guard.
"""

from domain.conversations.engine.factory import make_engine
from domain.conversations.engine.ports import (
    AppointmentInfo,
    BookingResult,
    BookingTools,
    ConversationEngine,
    HoldInfo,
    HoldResult,
    ServiceOption,
    SlotOption,
    SlotPreference,
    Turn,
    TurnResult,
)

__all__ = [
    "AppointmentInfo",
    "BookingResult",
    "BookingTools",
    "ConversationEngine",
    "HoldInfo",
    "HoldResult",
    "ServiceOption",
    "SlotOption",
    "SlotPreference",
    "Turn",
    "TurnResult",
    "make_engine",
]
