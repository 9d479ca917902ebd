"""runner.py with each SQL statement timed: which statement of a stage costs what.

    python bench/statement_timings.py batch.csv --feed bench/feeds/events_with_deletes.sql --db x.db --now ... -q
    STATEMENT_TIMINGS=out.json python bench/statement_timings.py ...   # also write them as JSON

Runs runner.py's main in this process (its arguments as given) with Session.execute_all
timing every statement, execution and fetch; prints the slowest on stderr, by file:line.
The run's own summary and timings are unchanged.
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from loader.session import Session  # noqa: E402

SECONDS: dict[str, float] = defaultdict(float)
FIRST_LINES: dict[str, str] = {}


def execute_all(self, statements, extra=None):  # Session.execute_all, each statement timed
    rows: list = []
    for statement in statements:
        started = time.perf_counter()
        cursor = self._execute(statement, extra)
        rows = cursor.fetchall() if cursor.description else []
        SECONDS[statement.where] += time.perf_counter() - started
        FIRST_LINES[statement.where] = statement.first_line
        if statement.created_view:
            self._compile_view(statement)
    return rows


@atexit.register
def report() -> None:
    slowest = sorted(SECONDS.items(), key=lambda item: -item[1])
    for where, seconds in slowest[:15]:
        print(f"{seconds:8.3f} s  {where}  {FIRST_LINES[where][:70]}", file=sys.stderr)
    if os.environ.get("STATEMENT_TIMINGS"):
        Path(os.environ["STATEMENT_TIMINGS"]).write_text(json.dumps(
            [{"where": w, "seconds": round(s, 4), "first_line": FIRST_LINES[w]} for w, s in slowest], indent=2))


Session.execute_all = execute_all
sys.argv[0] = str(ROOT / "runner.py")
runpy.run_path(sys.argv[0], run_name="__main__")
