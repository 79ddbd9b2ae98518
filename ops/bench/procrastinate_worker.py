"""``python -m ops.bench.procrastinate_worker <concurrency>``: a procrastinate worker for the comparison in
`nmc bench outbox`, on procrastinate's psycopg 3 connector with LISTEN/NOTIFY (its defaults), against the
``DATABASE_URL`` of its environment (as the outbox's processes take theirs: never on a command line, where any user
could read a password in it).

Its pool holds a connection per concurrent job plus two for procrastinate's own fetch and finish statements, so no
job waits for a connection; SIGTERM stops it gracefully (procrastinate's own signal handling)."""

from __future__ import annotations

import asyncio
import sys

from procrastinate import PsycopgConnector

from db.settings import Settings
from ops.bench.procrastinate_app import QUEUE, make_app


async def _main(database_url: str, concurrency: int) -> None:
    app = make_app(PsycopgConnector(conninfo=database_url, min_size=concurrency + 2, max_size=concurrency + 2))
    async with app.open_async():
        await app.run_worker_async(queues=[QUEUE], concurrency=concurrency, install_signal_handlers=True)


if __name__ == "__main__":
    asyncio.run(_main(Settings.from_env().database_url, int(sys.argv[1])))
