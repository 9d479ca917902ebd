"""How the user invoked the loader: the one value every message that suggests a command
is built from (this interpreter, this runner.py, --db, --feed, --sql-dir, --now), and
where messages for people go (stderr, unless --quiet)."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from .engines import engine_name
from .feed import DEFAULT_FEED, is_path
from .postgres_db import hide_password

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQL_DIR = ROOT / "sql"
# Suggested commands start with this interpreter and this runner.py, absolute: they work as
# given from any directory (and when read later, in run_log).
RUNNER = shlex.join([sys.executable, str(ROOT / "runner.py")])


@dataclass(frozen=True)
class Invocation:
    db: str                  # --db as given, or $DATABASE_URL, or the default file
    db_from_env: bool        # --db left to $DATABASE_URL: suggested commands leave it there too
    feed: str | None         # --feed as given (None: the default feed)
    sql_dir: str
    now: str | None          # --now as given (None: the system clock)
    inputs: tuple = ()       # the load's input files as given
    input_format: str | None = None
    quiet: bool = False

    @classmethod
    def from_args(cls, args) -> "Invocation":
        return cls(db=args.db, db_from_env=args.db_from_env, feed=args.feed, sql_dir=args.sql_dir, now=args.now,
                   inputs=tuple(args.inputs), input_format=args.format, quiet=args.quiet)

    @property
    def engine(self) -> str:
        return engine_name(self.db)

    def say(self, message: str) -> None:
        """A message for people: stderr, unless --quiet."""
        if not self.quiet:
            print(message, file=sys.stderr)

    def options(self, with_feed: bool = True) -> str:
        """The options that point another command at the same database, rules and feed: --feed
        as the user gave it, or (with_feed) the default feed's name, which the command would
        otherwise assume. Absolute paths: the message may be read from elsewhere."""
        options = []
        if self.feed:
            options += ["--feed", str(Path(self.feed).resolve()) if is_path(self.feed) else self.feed]
        elif with_feed:
            options += ["--feed", DEFAULT_FEED]
        if Path(self.sql_dir).resolve() != DEFAULT_SQL_DIR:
            options += ["--sql-dir", str(Path(self.sql_dir).resolve())]
        return " ".join(["--db", self._db_option(), *map(shlex.quote, options)])

    @property
    def note(self) -> str:
        """What a suggested command leaves to the user: a password it does not repeat."""
        if not self.db_from_env and self.engine == "postgresql" and hide_password(self.db) != self.db:
            return " (the password in --db is shown as ***: put yours back)"
        return ""

    def command(self, arguments: list[str], with_feed: bool = True, now: bool = False) -> str:
        """A command for a message to suggest, complete; with now, the clock this run pinned,
        if it pinned one."""
        options = shlex.join(arguments) + " " + self.options(with_feed)
        if now and self.now:
            options += " " + shlex.join(["--now", self.now])
        return f"{RUNNER} {options}{self.note}"

    def shell(self, sql: str) -> str:
        """The database's own shell running sql, complete: sqlite3 on the file, psql on the URL."""
        quoted = f'"{sql}"' if not set('"$`\\!') & set(sql) else shlex.quote(sql)
        if self.engine != "postgresql":
            return f"sqlite3 {shlex.quote(str(Path(self.db).resolve()))} {quoted}"
        return f"psql {self._db_option()} -c {quoted}{self.note}"

    def _db_option(self) -> str:
        """--db's value for a suggested command, quoted for a shell."""
        if self.db_from_env:
            return '"$DATABASE_URL"'  # left to the environment, as the user left it: no password printed
        if self.engine == "postgresql":
            return shlex.quote(hide_password(self.db))
        return shlex.quote(str(Path(self.db).resolve()))
