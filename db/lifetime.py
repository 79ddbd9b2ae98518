"""A child process that dies with its parent, even a SIGKILLed one (Linux's ``PR_SET_PDEATHSIG``).

Nothing else tells a child its parent is gone: a worker-pool child or a process in a session of its own would be
adopted by init and keep consuming. Linux ties the signal to the *thread* that forked the child, so call this only
in children forked from their parent's main thread (or one that lives as long as the parent).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int, sig: int = signal.SIGTERM) -> None:
    """In a just-forked child of ``parent``: have the kernel send ``sig`` to this process when ``parent`` dies."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)
    if os.getppid() != parent:  # the parent died before the request took effect: no signal will come
        os._exit(1)
