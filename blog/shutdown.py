"""Knowing, from the moment the signal arrives, that the server is shutting down, and
ending it at a deadline.

On SIGTERM uvicorn stops accepting connections and lets the requests in flight finish,
but it tells the app only after them, in the lifespan's shutdown. Readiness must answer 503
at once, so the app puts a handler of its own in front of the server's: it notes the
shutdown, then hands the signal on.

The same handler starts the deadline (``BLOG_SHUTDOWN_SECONDS``): a process not gone by
then stops at once, as an orchestrator's SIGKILL would, whatever it is still doing (requests,
the app's shutdown, the last export of traces), and the database rolls back what was not
committed. Not uvicorn's own timeout: it cancels the requests' tasks but not their threads,
and a thread still using a session whose connection the shutdown closes can crash the
process (seen: a segmentation fault on SQLite).
"""

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

logger = logging.getLogger(__name__)

SIGNALS = (signal.SIGTERM, signal.SIGINT)
# The exit status of a shutdown that ran out of time (what still ran was cut).
CUT_SHORT = 1

Handler = Callable[[int, FrameType | None], Any]


class ShutdownSignal:
    """Whether a stop signal has reached the server this app runs in."""

    def __init__(self, *, deadline_seconds: float | None) -> None:
        """``deadline_seconds``: from the signal to the process's end, at most (None: no
        deadline)."""
        self.deadline_seconds = deadline_seconds
        self._received = threading.Event()

    @property
    def received(self) -> bool:
        return self._received.is_set()

    def set(self) -> None:
        self._received.set()

    @contextmanager
    def watching(self) -> Iterator[None]:
        """While inside, SIGTERM and SIGINT are noted (and the deadline starts) before the
        server's own handler runs.

        Only where a server handles them (a Python handler is installed, as uvicorn's is in
        each worker) and in the main thread, where signal handlers live; elsewhere (a test's
        server in a thread) there is nothing to note.
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        servers: dict[signal.Signals, Handler] = {}
        for number in SIGNALS:
            handler = signal.getsignal(number)
            if callable(handler):
                servers[number] = handler

        def note_then_hand_on(signum: int, frame: FrameType | None) -> None:
            self.set()
            servers[signal.Signals(signum)](signum, frame)

        if self.deadline_seconds is not None and servers:
            # Started now, not in the handler: a signal handler should only flip a flag.
            # A daemon: it runs until the interpreter's very end (atexit included).
            threading.Thread(
                target=self._stop_at_deadline,
                args=(self.deadline_seconds,),
                name="shutdown-deadline",
                daemon=True,
            ).start()
        for number in servers:
            signal.signal(number, note_then_hand_on)
        try:
            yield
        finally:
            for number, handler in servers.items():
                if signal.getsignal(number) is note_then_hand_on:
                    signal.signal(number, handler)

    def _stop_at_deadline(self, seconds: float) -> None:
        self._received.wait()
        time.sleep(seconds)
        logger.error(
            "not stopped %s s after the signal: stopping now; what still runs is cut, and the"
            " database rolls back what it had not committed",
            seconds,
        )
        os._exit(CUT_SHORT)
