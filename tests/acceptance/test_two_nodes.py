"""Two complete nodes (ingress, dispatcher and worker pool each, in process groups of their own, as on two machines)
against one Postgres and one RabbitMQ: missed calls through a round-robin balancer are shared by both, nothing is
handled twice, and SIGKILLing one node's dispatcher and workers mid-load loses no caller's first SMS."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from db.settings import Settings
from ops.harness.nodes import NodeCluster
from ops.harness.scratch import seed_tenants
from ops.sandbox.client import SandboxClient
from tests.support.services import RABBITMQ_URL
from tests.support.waiting import wait_until
from workers.broker import make_broker
from workers.rabbitmq import NamespacedRabbitmqBroker
from workers.registry import DOMAIN_HANDLER_MODULES, load_subscriptions

pytestmark = pytest.mark.slow
NODE_ENV = {
    "BROKER_URL": RABBITMQ_URL,
    "INGRESS_WORKERS": "1",
    "WORKER_PROCESSES": "1",
    "WORKER_THREADS": "4",
    "DELIVERY_LEASE_SECONDS": "10",
    "DELIVERY_REDRIVE_AFTER_SECONDS": "5",
    "SANDBOX_CALLBACK_DELAY_MS": "20",
}
_BUSY = """
SELECT (SELECT count(*) FROM outbox_events WHERE dispatched_at IS NULL)
     + (SELECT count(*) FROM outbox_deliveries WHERE status IN ('enqueued', 'processing', 'retrying'))
"""


@pytest.fixture
def cluster(settings: Settings, tmp_path: Path) -> Iterator[NodeCluster]:
    nodes = NodeCluster(
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        namespace=settings.dramatiq_namespace,
        log_dir=tmp_path,
        extra_env=NODE_ENV,
    )
    try:
        yield nodes.start(timeout=90)
    finally:
        nodes.stop()
        broker = make_broker(settings.model_copy(update={"broker_url": RABBITMQ_URL}))
        assert isinstance(broker, NamespacedRabbitmqBroker)
        broker.delete_queues(sorted({source.module for source in load_subscriptions(DOMAIN_HANDLER_MODULES)}))
        broker.close()


def scalar(database_url: str, query: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def test_two_nodes_share_the_work_handle_nothing_twice_and_a_killed_node_loses_nothing(
    settings: Settings, cluster: NodeCluster
) -> None:
    (number,) = seed_tenants(settings, 1)
    callers = [f"+1415{3_000_000 + index:07d}" for index in range(48)]
    with SandboxClient(cluster.sandbox_url) as client, ThreadPoolExecutor(8) as pool:

        def ring(caller: str) -> None:
            answer = client.call(caller, number)
            assert answer.status_code == 200, answer.text
            assert answer.json()["webhook_status"] == [200, 200], answer.text

        def first_sms() -> Counter[str]:
            return Counter(m["to"] for m in client.messages() if m["direction"] == "outbound-api")

        def settled() -> bool:
            return scalar(settings.database_url, _BUSY) == 0

        def quiet(seconds: float = 1.0) -> bool:
            # Idle at one instant is not idle: the sandbox's delivery-status callbacks for the last texts are still
            # on their way and each becomes a new event. Quiet means idle with no new event for `seconds`.
            before = scalar(settings.database_url, "SELECT count(*) FROM outbox_events")
            if not settled():
                return False
            time.sleep(seconds)
            return settled() and scalar(settings.database_url, "SELECT count(*) FROM outbox_events") == before

        list(pool.map(ring, callers[:24]))
        wait_until(lambda: len(first_sms()) >= 24 and quiet(), 40, "the first 24 callers' first SMS")
        # Both ingresses took webhooks and both worker nodes ran deliveries; counted per node, the deliveries add up
        # to the database's: none ran on both.
        assert all(count > 0 for count in cluster.webhooks_by_node()), cluster.webhooks_by_node()
        by_node = [counts.get("done", 0) for counts in cluster.deliveries_by_node()]
        assert all(count > 0 for count in by_node), by_node
        done = scalar(settings.database_url, "SELECT count(*) FROM outbox_deliveries WHERE status = 'done'")
        assert sum(by_node) == done

        # Now the second node's dispatcher and workers die mid-load, as its machine would.
        later = threading.Thread(target=lambda: list(pool.map(ring, callers[24:])))
        later.start()
        wait_until(lambda: len(first_sms()) >= 30, 30, "the second wave under way")
        cluster.kill_node(1)
        later.join()
        wait_until(lambda: len(first_sms()) >= len(callers) and quiet(), 60, "every caller's first SMS")
        sent = first_sms()
    assert sent == Counter(dict.fromkeys(callers, 1))  # none lost, none twice
    assert scalar(settings.database_url, "SELECT count(*) FROM dead_letters") == 0
    assert scalar(settings.database_url, "SELECT count(*) FROM outbox_deliveries WHERE status <> 'done'") == 0
    assert scalar(settings.database_url, "SELECT count(*) FROM processed_events") == scalar(
        settings.database_url, "SELECT count(*) FROM outbox_deliveries"
    )
