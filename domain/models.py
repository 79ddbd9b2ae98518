"""Every table, imported once so the metadata is complete (for Alembic and the schema test)."""

from db.base import Base
from db.models import DeadLetter, OutboxDelivery, OutboxEvent, ProcessedEvent, WebhookEvent
from domain.billing import models as billing
from domain.catalog import models as catalog
from domain.compliance import models as compliance
from domain.conversations import models as conversations
from domain.identity import models as identity
from domain.reporting import models as reporting
from domain.scheduling import models as scheduling

metadata = Base.metadata

__all__ = [
    "DeadLetter",
    "OutboxDelivery",
    "OutboxEvent",
    "ProcessedEvent",
    "WebhookEvent",
    "billing",
    "catalog",
    "compliance",
    "conversations",
    "identity",
    "metadata",
    "reporting",
    "scheduling",
]
