"""A TCP forwarder: the load balancer in front of several nodes' ingresses, and a link that tests can cut.

Each new connection goes to the next target in turn (per connection, as a layer-4 load balancer does; a target that
refuses passes it on to the next, as a health-checking one would). ``cut`` drops every connection it carries and
refuses new ones for a while, which is what a client sees of a server restart: a shared server (this machine's
RabbitMQ) can be "restarted" for the processes behind the forwarder without touching anyone else's connections.
"""

from __future__ import annotations

import contextlib
import itertools
import select
import socket
import threading
import time
from collections import Counter


class TcpForwarder:
    def __init__(self, targets: list[tuple[str, int]] | None = None) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self.targets: list[tuple[str, int]] = list(targets or [])
        self.connections: Counter[tuple[str, int]] = Counter()  # handed to each target, in all
        self.cuts = 0
        self._turn = itertools.count()
        self._refuse_until = 0.0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._pumps: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name="tcp-forwarder", daemon=True)
        self._acceptor.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = None if time.monotonic() < self._refuse_until else self._connect()
            if upstream is None:
                client.close()
                continue
            pump = threading.Thread(target=self._pump, args=(client, upstream), daemon=True)
            with self._lock:
                self._pairs.append((client, upstream))
                self._pumps = [thread for thread in self._pumps if thread.is_alive()]
                self._pumps.append(pump)
            pump.start()

    def _connect(self) -> socket.socket | None:
        for _ in range(len(self.targets)):
            target = self.targets[next(self._turn) % len(self.targets)]
            try:
                upstream = socket.create_connection(target, timeout=5)
            except OSError:
                continue
            upstream.settimeout(None)
            self.connections[target] += 1
            return upstream
        return None

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        try:
            while not self._stopping.is_set():
                ready, _, _ = select.select(list(peers), [], [], 0.1)
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    peers[source].sendall(data)
        except OSError:
            return  # cut: shut down under us
        finally:
            with self._lock:
                self._pairs.remove((client, upstream))
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def cut(self, refuse_seconds: float) -> int:
        """Drop every open connection and refuse new ones for ``refuse_seconds``; returns how many were dropped."""
        self._refuse_until = time.monotonic() + refuse_seconds
        with self._lock:
            pairs = list(self._pairs)
        # Shut down, not closed: each pump wakes up on it and closes its own pair, so no thread ever waits on a
        # descriptor number that a new connection may already have been given.
        for pair in pairs:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self.cuts += 1
        return len(pairs)

    def close(self) -> None:
        self._stopping.set()
        self._acceptor.join()
        self._listener.close()
        with self._lock:
            pumps = list(self._pumps)
        for pump in pumps:
            pump.join()  # each sees the stop within 0.1 s and closes its pair
