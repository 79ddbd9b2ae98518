"""BROKER_URL chooses the Dramatiq broker; empty keeps today's Redis broker on REDIS_URL (building one connects to
nothing, so no server is needed here)."""

from __future__ import annotations

from db.settings import Settings
from workers.broker import WakingRedisBroker, make_broker
from workers.rabbitmq import NamespacedRabbitmqBroker


def test_empty_is_the_redis_broker_on_redis_url() -> None:
    broker = make_broker(Settings.from_env({"REDIS_URL": "redis://127.0.0.1:6390/3", "DRAMATIQ_NAMESPACE": "ns"}))
    assert isinstance(broker, WakingRedisBroker)
    assert broker.namespace == "ns"
    assert broker.client.connection_pool.connection_kwargs["port"] == 6390


def test_a_redis_url_is_the_redis_broker_there() -> None:
    broker = make_broker(Settings.from_env({"BROKER_URL": "redis://127.0.0.1:6391/0"}))
    assert isinstance(broker, WakingRedisBroker)
    assert broker.client.connection_pool.connection_kwargs["port"] == 6391


def test_an_amqp_url_is_rabbitmq_with_namespaced_queues_and_confirms() -> None:
    settings = Settings.from_env({"BROKER_URL": "amqp://u:p@rabbit.internal:5673/%2F", "DRAMATIQ_NAMESPACE": "ns"})
    assert settings.broker_is_rabbitmq
    broker = make_broker(settings)
    assert isinstance(broker, NamespacedRabbitmqBroker)
    assert broker.amqp_queue("conversations") == "ns.conversations"
    assert broker.confirm_delivery
    assert (broker.parameters.host, broker.parameters.port) == ("rabbit.internal", 5673)
    broker.declare_queue("conversations")  # declared lazily: no connection yet
    assert broker.get_declared_delay_queues() == set()  # retries live in Postgres
