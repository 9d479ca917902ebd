"""A stop sent at an exact point, for the tests of what a stop during COMMIT reports
(tests/test_stops.py). A signal that arrives while COMMIT runs is handled by Python as soon
as the driver's call returns: sending one to this process right after that call is the same
moment, made repeatable. Off unless the environment asks:

    LOADER_TEST_STOP=after-commit:2:TERM   SIGTERM once the process's second COMMIT returns
    LOADER_TEST_STOP=before-commit:1:INT   Ctrl-C just before the first COMMIT is sent
"""

from __future__ import annotations

import os
import signal

_counts: dict[str, int] = {}


def at(point: str) -> None:
    wanted = os.environ.get("LOADER_TEST_STOP")
    if not wanted:
        return
    where, nth, name = wanted.split(":")
    _counts[point] = _counts.get(point, 0) + 1
    if where == point and _counts[point] == int(nth):
        os.kill(os.getpid(), getattr(signal, f"SIG{name}"))
