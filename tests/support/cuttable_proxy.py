"""A TCP forwarder in front of a shared server whose connections a test can cut, as a restart would.

This machine's RabbitMQ serves other stacks, so it is never restarted: processes under test reach it through this
proxy instead, and ``cut`` drops every connection they hold and refuses new ones for a while (what a client sees of
a broker restart), leaving every other client of the server alone.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time


class CuttableProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._threads: list[threading.Thread] = []
        self._refuse_until = 0.0
        self._stopping = threading.Event()
        self.cuts = 0
        self._acceptor = threading.Thread(target=self._accept, name="cuttable-proxy", daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if time.monotonic() < self._refuse_until:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
                pump = threading.Thread(target=self._pump, args=(client, upstream), daemon=True)
                self._threads.append(pump)
            pump.start()

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
            self._close_pair(client, upstream)

    def _close_pair(self, client: socket.socket, upstream: socket.socket) -> None:
        with self._lock:
            if (client, upstream) in self._pairs:
                self._pairs.remove((client, upstream))
        for sock in (client, upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._pairs)

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
            threads = list(self._threads)
        for thread in threads:
            thread.join()  # each pump sees the stop within 0.1 s and closes its pair
