"""pytest, from the project's root: also run the `$` sessions of README.md and docs/*.md
(tests/doc_sessions.py says how)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "tests"))

from doc_sessions import pytest_collect_file  # noqa: E402,F401
