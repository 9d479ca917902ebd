"""pytest, from the project's root: also run the `$` sessions of README.md and docs/*.md
(tests/doc_sessions.py says how)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "tests"))

from doc_sessions import pytest_collect_file  # noqa: E402,F401

# The suite runs on two processes, a file to each (pyproject.toml: -n 2 --dist loadfile
# --no-loadscope-reorder), in the order collected here: the longest files first, as one started
# last would run alone at the end. (The $ sessions of a page run in order, on one process.)
LONGEST_FIRST = ("test_model.py", "test_stops_random.py", "test_crash_and_concurrency.py", "test_edges_reports.py",
                 "test_openlineage.py", "test_prune_history.py")


def pytest_collection_modifyitems(items):
    def rank(item):
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)
    items.sort(key=rank)  # (stable: each file's tests keep their order)
