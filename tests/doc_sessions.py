"""The `$` sessions in README.md and docs/*.md, run and compared with what they show.

Sybil (a well-kept documentation-testing library) finds the fenced blocks; this module runs them.
The conventions, also in docs/README.md:

- A block fenced as `console` is run; `sh` (commands to type yourself) and `text` (output shown,
  e.g. of a benchmark, a remote server or an OpenLineage endpoint) are not.
- Each document runs in a fresh copy of the project (runner.py, loader/, sql/, data/ without a
  database), its blocks in order, sharing that copy; `python` is the interpreter running the tests.
- In a block, a line starting with `$ ` is a command (a line ending in `\\` continues it); the lines
  up to the next command are what it prints, stdout and stderr together as a terminal shows them.
- Compared line by line with runs of spaces made one: `...` alone on a line stands for any number
  of lines, `…` within a line for any text on it.
- Masked, so that a session reads the same everywhere: the project's copy is shown as
  /home/me/sql-incremental-loader (and the interpreter as its .venv/bin/python); the run's clock,
  where a command does not pin it with --now, as 2026-11-27T16:35:53.
- A block that needs the sqlite3 shell is skipped where the shell is missing, and says so.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import string
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sybil import Sybil
from sybil.parsers.markdown import CodeBlockParser

ROOT = Path(__file__).resolve().parent.parent
SHOWN_HOME = "/home/me/sql-incremental-loader"
SHOWN_CLOCK = "2026-11-27T16:35:53"
COPIED = ("runner.py", "loader", "sql", "data", "requirements.txt", "requirements-postgres.txt",
          "requirements-openlineage.txt")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
CUT_PATH = re.compile(r"(?:\.\.\.|…)\S*?sql-incremental-loader/")


def set_up(namespace: dict) -> None:
    """A fresh copy of the project for one document, and a `python` that runs this interpreter."""
    work = _as_long_as_shown_home() / "sql-incremental-loader"
    work.mkdir()
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, work / name, ignore=shutil.ignore_patterns("pipeline.db*", "__pycache__"))
        else:
            shutil.copy(source, work / name)
    bin_dir = work / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    shim = bin_dir / "python"
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} \"$@\"\n")
    shim.chmod(0o755)
    namespace["work"] = work
    namespace["since"] = datetime.now(timezone.utc) - timedelta(seconds=2)  # clocks after it are runs'


def _as_long_as_shown_home() -> Path:
    """A new directory whose copy of the project has a path as long as /home/me/sql-incremental-loader:
    tables lay out, and cut long paths, as they would there."""
    parent = Path("/tmp") if Path("/tmp").is_dir() else Path(tempfile.gettempdir())
    length = len(SHOWN_HOME) - len(str(parent)) - len("//sql-incremental-loader")
    while True:
        candidate = parent / "".join(random.choices(string.ascii_lowercase, k=max(length, 1)))
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue


def tear_down(namespace: dict) -> None:
    shutil.rmtree(namespace["work"].parent, ignore_errors=True)


def commands(block: str) -> list[tuple[str, list[str]]]:
    """(command, the lines it is shown to print) for each `$ ` command of a block."""
    sessions: list[tuple[str, list[str]]] = []
    lines = block.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            raise ValueError(f"a console block's lines before its first '$ ' command: {lines[i]!r}")
        command = lines[i][2:]
        while command.endswith("\\") and i + 1 < len(lines):  # (bash continues it too)
            i += 1
            command += "\n" + lines[i]
        i += 1
        shown = []
        while i < len(lines) and not lines[i].startswith("$ "):
            shown.append(lines[i])
            i += 1
        sessions.append((command, shown))
    return sessions


def run_session(example) -> str | None:
    if "sqlite3 " in example.parsed and not shutil.which("sqlite3"):
        pytest.skip("this session uses the sqlite3 shell, which is not installed here")
    for command, shown in commands(example.parsed):
        printed = run_command(command, example.namespace)
        if not matches(shown, printed):
            return (f"$ {command}\nshown:\n" + "\n".join(shown) + "\nprinted:\n" + "\n".join(printed) + "\n")
    return None


def run_command(command: str, namespace: dict) -> list[str]:
    """What a command prints, stdout and stderr together, masked; run by bash in the copy, with no
    OpenLineage or DATABASE_URL of the environment the tests run in."""
    work: Path = namespace["work"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENLINEAGE", "DATABASE_URL"))}
    env.update(PATH=f"{work / '.venv' / 'bin'}:{env.get('PATH', '')}", HOME=str(work.parent))
    done = subprocess.run(["bash", "-c", command], cwd=work, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)
    window = (namespace["since"], datetime.now(timezone.utc) + timedelta(seconds=2))
    return [mask(line, work, window).rstrip() for line in done.stdout.splitlines()]


def mask(line: str, work: Path, window: tuple[datetime, datetime]) -> str:
    line = line.replace(sys.executable, f"{SHOWN_HOME}/.venv/bin/python").replace(str(work), SHOWN_HOME)
    line = CUT_PATH.sub("…/", line)  # a table cuts a long path from the left: how much depends on where

    def clock(match: re.Match) -> str:
        try:
            moment = datetime.fromisoformat(match.group(0)).replace(tzinfo=timezone.utc)
        except ValueError:  # not a real time (a rejected record's, say): data, not a clock
            return match.group(0)
        return SHOWN_CLOCK if window[0] <= moment <= window[1] else match.group(0)
    return TIMESTAMP.sub(clock, line)


def matches(shown: list[str], printed: list[str]) -> bool:
    """shown, with its `...` lines and `…` in lines, against what was printed."""
    if not shown:
        return not printed
    if shown[0].strip() == "...":
        return any(matches(shown[1:], printed[i:]) for i in range(len(printed) + 1))
    return bool(printed) and same_line(shown[0], printed[0]) and matches(shown[1:], printed[1:])


def same_line(shown: str, printed: str) -> bool:
    words = lambda text: " ".join(text.split())  # noqa: E731
    pattern = ".*?".join(re.escape(part) for part in words(shown).split("…"))
    return re.fullmatch(pattern, words(printed)) is not None


pytest_collect_file = Sybil(
    parsers=[CodeBlockParser(language="console", evaluator=run_session)],
    path=str(ROOT), patterns=["README.md", "docs/*.md"], setup=set_up, teardown=tear_down, name="docs",
).pytest()


def update(path: Path) -> None:
    """Write what each console block of a document prints into it, where it differs from what
    the block shows (its `...` and `…` are then to be put back by hand where output varies)."""
    text = path.read_text()
    namespace: dict = {}
    set_up(namespace)
    try:
        blocks = list(re.finditer(r"^```console\n(.*?)^```$", text, re.S | re.M))
        out, last = [], 0
        for block in blocks:
            source = block.group(1)
            fresh = []
            for command, shown in commands(source):
                printed = run_command(command, namespace)
                fresh.append("$ " + command)
                fresh += shown if matches(shown, printed) else printed
            out.append(text[last:block.start(1)] + "\n".join(fresh) + "\n")
            last = block.end(1)
        path.write_text("".join(out) + text[last:])
    finally:
        tear_down(namespace)


if __name__ == "__main__":  # python tests/doc_sessions.py docs/operating.md: record what its sessions print
    for name in sys.argv[1:]:
        update(Path(name).resolve())
