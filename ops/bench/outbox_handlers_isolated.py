"""The bench handler without the ``db_only`` promise: every delivery of it runs in a transaction of its own."""

from __future__ import annotations

from domain.events.catalog import TenantCreated
from domain.events.handling import Subscriptions
from ops.bench.outbox_handlers import record_start

subscriptions = Subscriptions("bench")
subscriptions.on(TenantCreated)(record_start)
